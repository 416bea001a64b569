// Loading, reloading and unloading plugins while goferd runs (reference/gofer.md §4.18), for
// startup and for the management server. Operations run one at a time (a reload racing an
// unload of the same plugin must not interleave). Messages follow gofer's (`plugin: <x>,
// not-found`, `plugin: <path>, already loaded`) with the reason added where gofer said only
// `load failed`. Differences that a gofer user gains from:
//   - reload imports the new code *before* stopping the old plugin, so a syntax error in the new
//     code leaves the old one serving (gofer lost the plugin);
//   - reload and unload stop consuming, let calls in flight finish and send their replies, and
//     only then release (gofer 2.10's hard shutdown lost those replies).
import { isAbsolute, resolve } from 'node:path'
import { logger } from '../log.js'
import { container } from './container.js'
import { readDescriptor, type Descriptor } from './descriptor.js'
import type { Plugin } from './plugin.js'

const log = logger('gofer.agent')

export class PluginDisabled extends Error {
  constructor(readonly path: string, readonly pluginName: string) {
    super(`plugin: ${path}, disabled ([main] enabled=0)`)
    this.name = 'PluginDisabled'
  }
}

export class PluginOps {
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    /** Builds a Plugin for a descriptor (the daemon's URL override and plugin path). */
    private readonly create: (descriptor: Descriptor) => Plugin,
    /** Where a relative descriptor path is looked up: <etc>/plugins. */
    private readonly pluginsDir: string,
  ) {}

  /** Run `op` after every operation queued before it. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op)
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Resolves once every operation queued so far has finished (daemon shutdown). */
  idle(): Promise<void> {
    return this.queue.then(() => undefined)
  }

  private find(nameOrPath: string): Plugin {
    const plugin = container.find(nameOrPath) ?? container.find(this.absolute(nameOrPath))
    if (!plugin) throw new Error(`plugin: ${nameOrPath}, not-found`)
    return plugin
  }

  absolute(path: string): string {
    return isAbsolute(path) ? path : resolve(this.pluginsDir, path)
  }

  /** Load, activate and start the descriptor at `path`. Throws with the reason. */
  load(path: string): Promise<Plugin> {
    return this.serial(() => this.loadNow(this.absolute(path)))
  }

  private async loadNow(path: string): Promise<Plugin> {
    if (container.find(path)) throw new Error(`plugin: ${path}, already loaded`)
    let descriptor: Descriptor
    try {
      descriptor = readDescriptor(path)
    } catch (error) {
      throw new Error(`plugin: ${path}, load failed: ${(error as Error).message}`)
    }
    if (!descriptor.enabled) throw new PluginDisabled(path, descriptor.name)
    if (container.find(descriptor.name)) throw new Error(`plugin: ${path}, already loaded (a plugin named "${descriptor.name}" is)`)
    const plugin = this.create(descriptor)
    // Findable (Plugin.find) by its module's top level and @load hooks, served only once active.
    container.setLoading(plugin, true)
    try {
      await plugin.load(true)
      await plugin.activate()
    } catch (error) {
      throw new Error(`plugin: ${path}, load failed: ${(error as Error).message}`)
    } finally {
      container.setLoading(plugin, false)
    }
    container.add(plugin)
    plugin.start()
    log.info({ plugin: plugin.name, descriptor: path }, 'plugin started')
    return plugin
  }

  /** Reload a plugin from its descriptor with fresh code; calls in flight are answered first. */
  reload(nameOrPath: string): Promise<Plugin> {
    return this.serial(async () => {
      const old = this.find(nameOrPath)
      let descriptor: Descriptor
      try {
        descriptor = readDescriptor(old.path)
      } catch (error) {
        throw new Error(`plugin: ${nameOrPath}, reload failed (still running the old code): ${(error as Error).message}`)
      }
      if (!descriptor.enabled) {
        await this.unloadNow(old, false)
        throw new PluginDisabled(old.path, old.name)
      }
      const other = container.find(descriptor.name)
      if (other && other !== old) throw new Error(`plugin: ${nameOrPath}, reload failed: a plugin named "${descriptor.name}" is already loaded`)
      const fresh = this.create(descriptor)
      // The new code finds the new plugin; the old one's @unload hooks (in stop) find the old.
      container.setLoading(fresh, true)
      try {
        await fresh.load(true)
      } catch (error) {
        throw new Error(`plugin: ${nameOrPath}, reload failed (still running the old code): ${(error as Error).message}`)
      } finally {
        container.setLoading(fresh, false)
      }
      log.info({ plugin: old.name }, 'reloading: finishing calls in flight')
      await old.stop(false)
      container.remove(old)
      container.setLoading(fresh, true)
      try {
        await fresh.activate()
      } catch (error) {
        throw new Error(`plugin: ${nameOrPath}, reload failed (plugin unloaded): ${(error as Error).message}`)
      } finally {
        container.setLoading(fresh, false)
      }
      container.add(fresh)
      fresh.start()
      log.info({ plugin: fresh.name }, 'plugin reloaded')
      return fresh
    })
  }

  /** Unload a plugin: answer calls in flight, delete its queue when managed=2, run @unload. */
  unload(nameOrPath: string): Promise<void> {
    return this.serial(async () => this.unloadNow(this.find(nameOrPath), true))
  }

  private async unloadNow(plugin: Plugin, teardown: boolean): Promise<void> {
    await plugin.stop(teardown)
    container.remove(plugin)
    log.info({ plugin: plugin.name }, 'plugin unloaded')
  }
}
