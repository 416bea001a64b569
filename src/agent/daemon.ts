// goferd's core: read agent.conf, load every enabled plugin descriptor from <etc>/plugins in
// sorted order, start them, and stop them gracefully (finish calls in flight, send their
// replies) on shutdown. A bad descriptor or plugin is refused with a message; the rest load.
import { existsSync, readdirSync, statSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve } from 'node:path'
import { logger, setLogLevel } from '../log.js'
import { readAgentConf, type AgentConf } from './agent-conf.js'
import type { Sections } from './config-file.js'
import { container } from './container.js'
import { defaultPluginPath } from './loader.js'
import { ManagementServer } from './management.js'
import { PidFile } from './pidfile.js'
import { Plugin } from './plugin.js'
import { PluginDisabled, PluginOps } from './plugin-ops.js'
import { report } from './report.js'
import { defaultStateDir } from './journal.js'
import { tracker } from '../rmi/tracker.js'

const log = logger('gofer.agent')

export interface DaemonOptions {
  /** The configuration directory holding agent.conf and plugins/. */
  etc: string
  /** Use this broker URL for every plugin instead of its `[messaging] url` (demo, tests). */
  url?: string
  /** Where plugin modules are searched by name. @default defaultPluginPath() */
  pluginPath?: string[]
  /** Refuse to start while another goferd holds this pid file. @default none */
  pidFile?: string | null
  /** Override agent.conf's `[management]` (tests: port 0 picks a free port). */
  management?: Partial<AgentConf['management']>
  /** Admin.cancel's work for the management `cancel` method. @default tracker.cancelRequests */
  cancel?: (options: { sn?: string; criteria?: unknown }) => unknown
  /**
   * Where the pending journal lives (`<stateDir>/messaging/pending/<plugin>/`); null: no journal
   * (the ack then waits for the final reply). @default defaultStateDir(etc): GOFER_STATE_DIR,
   * else /var/lib/gofer for /etc/gofer, else <etc>/state
   */
  stateDir?: string | null
  /**
   * A request not answered within this many ms is journaled and acked (quicker ones are acked
   * after their reply and never touch the disk); 0 journals every request before it runs.
   * @default JOURNAL_AFTER_MS (100), or GOFER_JOURNAL_AFTER_MS
   */
  journalAfterMs?: number
}

export class Daemon {
  readonly etc: string
  readonly agentConf: Sections
  /** agent.conf with conf.d merged, validated. */
  readonly conf: AgentConf
  /** load/reload/unload while running (management, and startup's loads). */
  readonly ops: PluginOps
  private readonly pluginPath: string[]
  private manager: ManagementServer | null = null
  private pidFile: PidFile | null = null

  constructor(private readonly options: DaemonOptions) {
    this.etc = resolve(options.etc)
    this.conf = readAgentConf(this.etc)
    this.agentConf = this.conf.sections
    this.pluginPath = options.pluginPath ?? defaultPluginPath()
    const stateDir = options.stateDir === undefined ? defaultStateDir(this.etc) : options.stateDir
    const fromEnv = process.env.GOFER_JOURNAL_AFTER_MS
    const journalAfterMs = options.journalAfterMs ?? (fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) : undefined)
    this.ops = new PluginOps(d => new Plugin(d, { url: this.options.url, pluginPath: this.pluginPath, stateDir, journalAfterMs }), join(this.etc, 'plugins'))
    this.applyLogging()
  }

  /** `[logging] <logger>=<level>` with gofer's (Python) level names accepted too. */
  private applyLogging(): void {
    for (const [name, level] of Object.entries(this.conf.logging)) setLogLevel(name, level)
    for (const warning of this.conf.warnings) log.warn(warning)
  }

  /** Where the management server listens (null when `[management] enabled` is off). */
  get managementAddress(): AddressInfo | null {
    return this.manager?.address ?? null
  }

  /** Descriptor files in <etc>/plugins (.conf, .ini, .json), sorted. */
  descriptorFiles(): string[] {
    const dir = join(this.etc, 'plugins')
    if (!existsSync(dir)) return []
    return readdirSync(dir)
      .filter(f => ['.conf', '.ini', '.json'].includes(extname(f).toLowerCase()))
      .map(f => join(dir, f))
      .filter(f => statSync(f).isFile())
      .sort()
  }

  /** Load and start one descriptor; returns the plugin, or null when disabled or refused. */
  async loadPlugin(path: string): Promise<Plugin | null> {
    try {
      return await this.ops.load(path)
    } catch (error) {
      if (error instanceof PluginDisabled) log.info({ descriptor: path }, `plugin ${error.pluginName} disabled`)
      else log.error({ descriptor: path }, `plugin refused: ${(error as Error).message}`)
      return null
    }
  }

  /**
   * Take the pid file, load every descriptor, start the management server if enabled; resolves
   * when all are loaded (attachment continues in the background). Throws if another goferd holds
   * the pid file or the management port cannot be bound.
   */
  async start(): Promise<Plugin[]> {
    if (this.options.pidFile) {
      this.pidFile = new PidFile(this.options.pidFile)
      this.pidFile.acquire()
    }
    const loaded: Plugin[] = []
    for (const file of this.descriptorFiles()) {
      const plugin = await this.loadPlugin(file)
      if (plugin) loaded.push(plugin)
    }
    const management = { ...this.conf.management, ...this.options.management }
    if (management.enabled) {
      this.manager = new ManagementServer({
        show: () => report(container.all()),
        load: async path => void (await this.ops.load(path)),
        reload: async name => void (await this.ops.reload(name)),
        unload: name => this.ops.unload(name),
        cancel: this.options.cancel ?? (o => tracker.cancelRequests(o)),
      }, { host: management.host, port: management.port, log })
      try {
        await this.manager.start()
      } catch (error) {
        this.manager = null
        await this.stop()
        throw new Error(`management: cannot listen on ${management.host}:${management.port}: ${(error as Error).message}`)
      }
    }
    log.info({ etc: this.etc, plugins: loaded.map(p => p.name) }, 'goferd started')
    return loaded
  }

  /** Stop every plugin: calls in flight are answered first, then each releases its connection. */
  async stop(): Promise<void> {
    await this.manager?.stop()
    this.manager = null
    // A load or reload under way finishes first, so the plugin it starts is stopped too.
    await this.ops.idle()
    const plugins = container.all()
    await Promise.allSettled(plugins.map(p => p.stop(false)))
    for (const p of plugins) container.remove(p)
    this.pidFile?.release()
    this.pidFile = null
    log.info('goferd stopped')
  }
}
