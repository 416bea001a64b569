// Finding a plugin's external agents and activating them, with choria-server's scanning rules
// (reference/choria-external.md §4.4): every `*.json` directly in an agents directory, and
// `D/D.json` for each sub-directory D (no deeper); `tmp` skipped; the executable is found from
// `metadata.name` beside the DDL, or `<name>/<name>-<GOOS>_<GOARCH>` when `<name>` is a directory;
// only DDLs with provider "external"; Choria's reserved agent names refused. A DDL that cannot be
// used is refused with a message and the others load; activation checks run concurrently.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { arch, endianness, platform } from 'node:os'
import { dirname, join } from 'node:path'
import { PluginError } from '../../errors.js'
import type { Logger } from '../../log.js'
import { ExternalAgent } from './agent.js'
import type { ExternalSettings } from './config.js'
import { DdlError, readDdl, type Ddl } from './ddl.js'

/** Names only Choria's compiled-in agents may take (GC `provider.go` denyList). */
export const DENIED = new Set(['rpcutil', 'choria_util', 'choria_provision', 'choria_registry', 'discovery', 'scout'])

export interface NotLoaded {
  /** The agent's name when known (declined agents), else null. */
  name: string | null
  /** The DDL file (or agents directory) concerned. */
  path: string
  /** The DDL's version (declined agents). */
  version?: string
  reason: string
}

export interface ExternalAgents {
  settings: ExternalSettings
  /** The facts file contents handed to agents (JSON text). */
  facts: string
  /** Namespace names of the plugin module, which agents may not take. */
  taken: Set<string>
  /** Activated agents, sorted by name. */
  active: ExternalAgent[]
  /** Agents whose activation check said no, failed or took too long. */
  declined: NotLoaded[]
  /** DDLs refused or ignored (invalid, reserved name, other provider, duplicate, missing dir). */
  refused: NotLoaded[]
}

const GOOS: Record<string, string> = { win32: 'windows' }
const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: endianness() === 'LE' ? 'ppc64le' : 'ppc64' }

/** `<GOOS>_<GOARCH>` of this machine: Choria names per-platform binaries with Go's names. */
export function goPlatform(): string {
  return `${GOOS[platform()] ?? platform()}_${GOARCH[arch()] ?? arch()}`
}

function kind(path: string): 'file' | 'dir' | null {
  try {
    const s = statSync(path)
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : null
  } catch {
    return null
  }
}

/** The DDL files of one agents directory, in name order. */
export function ddlFiles(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    if (entry === 'tmp' || entry === 'tmp.json') continue
    const path = join(dir, entry)
    const k = kind(path)
    if (k === 'file' && entry.endsWith('.json')) found.push(path)
    else if (k === 'dir' && kind(join(path, `${entry}.json`)) === 'file') found.push(join(path, `${entry}.json`))
  }
  return found
}

/** Where the executable of the agent described by `ddl` is. */
export function executableOf(ddl: Ddl): string {
  const flat = join(dirname(ddl.path), ddl.name)
  return kind(flat) === 'dir' ? join(flat, `${ddl.name}-${goPlatform()}`) : flat
}

function readFacts(settings: ExternalSettings): string {
  if (!settings.facts) return '{}'
  let value: unknown
  try {
    value = JSON.parse(readFileSync(settings.facts, 'utf8'))
  } catch (error) {
    throw new PluginError(`[external] facts: ${settings.facts}: ${(error as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PluginError(`[external] facts: ${settings.facts}: must hold a JSON object`)
  return JSON.stringify(value)
}

/** Choria skips a string's `validation` when `maxlength` is 0 or absent; we copy that, and say so. */
export function warnQuirks(ddl: Ddl, log: Logger): void {
  for (const action of ddl.actions.values()) {
    for (const [name, input] of action.input) {
      if (input.type.toLowerCase() === 'string' && input.validation && input.maxlength === 0) {
        log.warn({ ddl: ddl.path }, `${ddl.name}#${action.action} input '${name}': validation "${input.validation}" is not applied without a maxlength (as in Choria)`)
      }
    }
  }
}

export interface Scan {
  /** Usable DDLs, one agent per name, not yet activated. */
  candidates: ExternalAgent[]
  refused: NotLoaded[]
  /** DDL files skipped because they changed less than `graceMs` ago (still being written). */
  settling: Set<string>
}

/** Read every DDL of the agents directories; nothing is run. */
export function scanAgents(settings: ExternalSettings, facts: string, log: Logger, taken: Set<string>, graceMs = 0): Scan {
  const refused: NotLoaded[] = []
  const settling = new Set<string>()
  const candidates = new Map<string, ExternalAgent>()
  for (const dir of settings.agents) {
    if (kind(dir) !== 'dir') {
      refused.push({ name: null, path: dir, reason: `agents directory ${dir} not found` })
      continue
    }
    for (const file of ddlFiles(dir)) {
      const changed = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0
      if (graceMs > 0 && Date.now() - changed < graceMs) {
        settling.add(file)
        continue
      }
      let ddl: Ddl
      try {
        ddl = readDdl(file, settings.timeout)
      } catch (error) {
        if (!(error instanceof DdlError)) throw error
        refused.push({ name: null, path: file, reason: error.message })
        continue
      }
      const refuse = (reason: string) => refused.push({ name: ddl.name, path: file, reason: `${file}: ${reason}` })
      if (ddl.provider !== 'external') {
        // Choria ignores these silently; saying so spares a user the hunt for a missing agent.
        refuse(`metadata.provider is "${ddl.provider}", not "external": ignored`)
      } else if (DENIED.has(ddl.name)) {
        refuse(`agent name "${ddl.name}" is reserved for Choria's own agents`)
      } else if (candidates.has(ddl.name) || taken.has(ddl.name)) {
        refuse(`agent "${ddl.name}" is already provided ${candidates.has(ddl.name) ? `by ${candidates.get(ddl.name)!.ddl.path}` : 'by the plugin module'}`)
      } else {
        candidates.set(ddl.name, new ExternalAgent(ddl, executableOf(ddl), settings, facts, log))
      }
    }
  }
  return { candidates: [...candidates.values()], refused, settling }
}

/** Scan, parse and activate; `taken` are namespace names already used by the plugin. */
export async function loadExternalAgents(settings: ExternalSettings, log: Logger, taken: Set<string> = new Set()): Promise<ExternalAgents> {
  const facts = readFacts(settings)
  const { candidates, refused } = scanAgents(settings, facts, log, taken)
  for (const r of refused) log.error({ ddl: r.path }, `external agent refused: ${r.reason}`)
  for (const agent of candidates) warnQuirks(agent.ddl, log)
  const checks = await Promise.all(candidates.map(async agent => ({ agent, why: await agent.activate() })))
  const active: ExternalAgent[] = []
  const declined: NotLoaded[] = []
  for (const { agent, why } of checks.sort((a, b) => (a.agent.name < b.agent.name ? -1 : 1))) {
    if (why === null) active.push(agent)
    else {
      declined.push({ name: agent.name, path: agent.ddl.path, version: agent.ddl.version, reason: why })
      log.warn({ agent: agent.name, ddl: agent.ddl.path }, `external agent not activated: ${why}`)
    }
  }
  log.info({ agents: active.map(a => a.name), declined: declined.map(d => d.name) }, 'external agents loaded')
  return { settings, facts, taken, active, declined, refused }
}
