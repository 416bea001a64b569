// Re-scanning a plugin's agents directories while goferd runs, as choria-server reconciles them
// (reference/choria-external.md §1 "Directory reconciliation"): a new DDL registers a new agent;
// a DDL whose version or location changed is activated again and replaces the old agent only if
// it activates (otherwise the old one stays); a removed DDL unregisters its agent; DDL files
// changed less than 5 s ago are left for the next scan, as they may still be being written.
// The catalog is changed in place, so the plugin's dispatcher sees the change at once.
import type { Logger } from '../../log.js'
import type { Catalog } from '../../rmi/catalog.js'
import type { ExternalAgent } from './agent.js'
import { scanAgents, warnQuirks, type ExternalAgents, type NotLoaded } from './discover.js'
import { externalNamespace } from './namespace.js'

/** Choria's `fileChangeGrace`. */
export const SETTLE_MS = 5_000

const key = (agent: ExternalAgent) => `${agent.ddl.path}@${agent.ddl.version}`
const byName = <T extends { name: string | null }>(a: T, b: T) => ((a.name ?? '') < (b.name ?? '') ? -1 : 1)

export class ExternalWatcher {
  /** The DDL (path@version) last tried for each name, activated or not: tried again only when it changes. */
  private readonly tried = new Map<string, string>()
  private timer: NodeJS.Timeout | null = null
  private scanning: Promise<void> | null = null

  constructor(private readonly agents: ExternalAgents, private readonly catalog: Catalog, private readonly log: Logger) {
    for (const agent of agents.active) this.tried.set(agent.name, key(agent))
    for (const d of agents.declined) this.tried.set(d.name!, `${d.path}@${d.version ?? ''}`)
  }

  /** Scan every `seconds` (0: never). The timer does not keep goferd alive. */
  start(seconds: number): void {
    if (seconds <= 0 || this.timer) return
    this.timer = setInterval(() => void this.rescan(), seconds * 1000)
    this.timer.unref()
  }

  /** Stop scanning; waits for a scan in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.scanning
  }

  /** One reconciliation (scans never overlap). */
  rescan(): Promise<void> {
    this.scanning ??= this.reconcile()
      .catch(error => this.log.error({ err: error }, 'external agents: re-scan failed'))
      .finally(() => (this.scanning = null))
    return this.scanning
  }

  private async reconcile(): Promise<void> {
    const { agents, catalog, log } = this
    const scan = scanAgents(agents.settings, agents.facts, log, agents.taken, SETTLE_MS)
    this.reportRefusals(scan.refused)
    const present = new Set(scan.candidates.map(c => c.name))
    for (const candidate of scan.candidates) {
      if (this.tried.get(candidate.name) === key(candidate)) continue
      this.tried.set(candidate.name, key(candidate))
      warnQuirks(candidate.ddl, log)
      const why = await candidate.activate()
      const old = agents.active.find(a => a.name === candidate.name)
      agents.declined = agents.declined.filter(d => d.name !== candidate.name)
      if (why === null) {
        agents.active = [...agents.active.filter(a => a !== old), candidate].sort(byName)
        catalog.set(candidate.name, externalNamespace(candidate))
        log.info({ agent: candidate.name, version: candidate.ddl.version, ddl: candidate.ddl.path }, old ? 'external agent replaced' : 'external agent added')
      } else {
        agents.declined = [...agents.declined, { name: candidate.name, path: candidate.ddl.path, version: candidate.ddl.version, reason: why }].sort(byName)
        log.warn({ agent: candidate.name, ddl: candidate.ddl.path }, `external agent not activated: ${why}${old ? `; still serving version ${old.ddl.version}` : ''}`)
      }
    }
    // Gone from disk (and not merely being rewritten): no longer served.
    for (const agent of agents.active.filter(a => !present.has(a.name) && !scan.settling.has(a.ddl.path))) {
      agents.active = agents.active.filter(a => a !== agent)
      if (catalog.get(agent.name) && 'external' in catalog.get(agent.name)!) catalog.delete(agent.name)
      this.tried.delete(agent.name)
      log.info({ agent: agent.name, ddl: agent.ddl.path }, 'external agent removed: its DDL is gone')
    }
    agents.declined = agents.declined.filter(d => present.has(d.name!) || scan.settling.has(d.path))
  }

  /** Keep the refused list current; log only refusals not seen before (no error every 20 s). */
  private reportRefusals(refused: NotLoaded[]): void {
    const before = new Set(this.agents.refused.map(r => r.reason))
    for (const r of refused) if (!before.has(r.reason)) this.log.error({ ddl: r.path }, `external agent refused: ${r.reason}`)
    this.agents.refused = refused
  }
}
