// goferd's core: read agent.conf, load every enabled plugin descriptor from <etc>/plugins in
// sorted order, start them, and stop them gracefully (finish calls in flight, send their
// replies) on shutdown. A bad descriptor or plugin is refused with a message; the rest load.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { extname, join, resolve } from 'node:path'
import { logger, setLogLevel } from '../log.js'
import { readSections, type Sections } from './config-file.js'
import { container } from './container.js'
import { readDescriptor } from './descriptor.js'
import { defaultPluginPath } from './loader.js'
import { Plugin } from './plugin.js'

const log = logger('gofer.agent')

export interface DaemonOptions {
  /** The configuration directory holding agent.conf and plugins/. */
  etc: string
  /** Use this broker URL for every plugin instead of its `[messaging] url` (demo, tests). */
  url?: string
  /** Where plugin modules are searched by name. @default defaultPluginPath() */
  pluginPath?: string[]
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
const PYTHON_LEVELS: Record<string, string> = { warning: 'warn', critical: 'fatal', notset: 'trace' }

export class Daemon {
  readonly etc: string
  readonly agentConf: Sections
  private readonly pluginPath: string[]

  constructor(private readonly options: DaemonOptions) {
    this.etc = resolve(options.etc)
    const conf = join(this.etc, 'agent.conf')
    this.agentConf = existsSync(conf) ? readSections(conf) : {}
    this.pluginPath = options.pluginPath ?? defaultPluginPath()
    this.applyLogging()
  }

  /** `[logging] <logger>=<level>` with gofer's (Python) level names accepted too. */
  private applyLogging(): void {
    for (const [name, value] of Object.entries(this.agentConf.logging ?? {})) {
      const wanted = value.toLowerCase()
      const level = PYTHON_LEVELS[wanted] ?? wanted
      if (LEVELS.has(level)) setLogLevel(name, level as 'info')
      else log.warn({ logger: name, level: value }, 'agent.conf [logging]: unknown level ignored')
    }
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
    let plugin: Plugin
    try {
      const descriptor = readDescriptor(path)
      if (!descriptor.enabled) {
        log.info({ descriptor: path }, `plugin ${descriptor.name} disabled`)
        return null
      }
      if (container.find(descriptor.name)) throw new Error(`plugin "${descriptor.name}" already loaded`)
      plugin = new Plugin(descriptor, { url: this.options.url, pluginPath: this.pluginPath })
      await plugin.load()
    } catch (error) {
      log.error({ descriptor: path }, `plugin refused: ${(error as Error).message}`)
      return null
    }
    container.add(plugin)
    plugin.start()
    return plugin
  }

  /** Load every descriptor; resolves when all are loaded (attachment continues in the background). */
  async start(): Promise<Plugin[]> {
    const loaded: Plugin[] = []
    for (const file of this.descriptorFiles()) {
      const plugin = await this.loadPlugin(file)
      if (plugin) loaded.push(plugin)
    }
    log.info({ etc: this.etc, plugins: loaded.map(p => p.name) }, 'goferd started')
    return loaded
  }

  /** Stop every plugin: calls in flight are answered first, then each releases its connection. */
  async stop(): Promise<void> {
    const plugins = container.all()
    await Promise.allSettled(plugins.map(p => p.stop(false)))
    for (const p of plugins) container.remove(p)
    log.info('goferd stopped')
  }
}
