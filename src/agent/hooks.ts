// @load and @unload hooks (reference/gofer.md §4.5). Load hooks run after the plugin's module is
// imported and before it consumes its queue; any of them can refuse activation by returning
// (or resolving) false or by throwing, as the MMC agent's activate() and Choria's
// should_activate do; the reason is logged and the plugin is not started. Unload hooks run when
// the plugin is unloaded, reloaded or goferd stops, after its calls in flight are answered;
// their failures are logged. Every hook gets the Plugin as its argument (Plugin.find works too).
import { PluginError } from '../errors.js'
import type { Logger } from '../log.js'
import { hookKind } from '../rmi/decorators.js'
import { findMarked, type Marked } from './marked.js'

/** A hook that never settles must not wedge a load, reload or shutdown. */
export const HOOK_DEADLINE_MS = 30_000

export class Hooks {
  constructor(readonly onLoad: Marked[], readonly onUnload: Marked[], private readonly deadlineMs = HOOK_DEADLINE_MS) {}

  static fromExports(pluginName: string, exports: Record<string, unknown>, deadlineMs?: number): Hooks {
    return new Hooks(
      findMarked(pluginName, exports, fn => hookKind(fn) === 'load'),
      findMarked(pluginName, exports, fn => hookKind(fn) === 'unload'),
      deadlineMs,
    )
  }

  /** Run the load hooks in name order; throws PluginError with the refusal's reason. */
  async runLoad(plugin: unknown, log: Logger): Promise<void> {
    for (const hook of this.onLoad) {
      let result: unknown
      try {
        result = await this.bounded(hook, plugin)
      } catch (error) {
        throw new PluginError(`@load ${hook.name} refused activation: ${reason(error)}`, { cause: error })
      }
      if (result === false) throw new PluginError(`@load ${hook.name} refused activation (returned false)`)
      log.debug({ hook: hook.name }, '@load hook done')
    }
  }

  /** Run every unload hook (name order); failures are logged, never thrown. */
  async runUnload(plugin: unknown, log: Logger): Promise<void> {
    for (const hook of this.onUnload) {
      try {
        await this.bounded(hook, plugin)
        log.debug({ hook: hook.name }, '@unload hook done')
      } catch (error) {
        log.error({ hook: hook.name, err: error }, `@unload ${hook.name} failed: ${reason(error)}`)
      }
    }
  }

  private async bounded(hook: Marked, plugin: unknown): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish within ${this.deadlineMs / 1000} s`)), this.deadlineMs)
    })
    try {
      return await Promise.race([Promise.resolve().then(() => hook.call(plugin)), late])
    } finally {
      clearTimeout(timer)
    }
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
