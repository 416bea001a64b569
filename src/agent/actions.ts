// The @action scheduler (reference/gofer.md §4.5, §4.1): each loaded plugin runs its actions
// while it is loaded. An interval action runs when the plugin starts and then every interval
// (gofer's first run is at its first 10 s tick; ours is immediate, and each later run is timed
// from the previous start, not rounded to ticks); a cron action runs at each match of its pattern
// (croner); an action with neither runs once at start. A run never overlaps the previous run of
// the same action; a failure is logged and the schedule kept. Time comes from a Clock so tests
// drive it with a fake one.
import { Cron } from 'croner'
import { PluginError } from '../errors.js'
import type { Logger } from '../log.js'
import { actionOptions, type ActionOptions } from '../rmi/decorators.js'
import { describe, findMarked, type Marked } from './marked.js'

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    // Timers of actions must not keep a process alive on their own (tests, embedded use).
    t.unref()
    return t
  },
  clearTimeout: handle => clearTimeout(handle as NodeJS.Timeout),
}

/** setTimeout's ceiling (about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1

export type Schedule =
  | { kind: 'once' }
  | { kind: 'interval'; ms: number }
  | { kind: 'cron'; pattern: string; cron: Cron }

const UNIT_MS = { weeks: 604_800_000, days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000 } as const

/** The schedule an action's options describe; throws a TypeError naming what is wrong. */
export function scheduleOf(options: ActionOptions): Schedule {
  if (options.cron !== undefined) {
    try {
      return { kind: 'cron', pattern: options.cron, cron: new Cron(options.cron, { paused: true }) }
    } catch (error) {
      throw new TypeError(`cron pattern "${options.cron}": ${(error as Error).message}`)
    }
  }
  const given = (Object.keys(UNIT_MS) as Array<keyof typeof UNIT_MS>).filter(u => options[u] !== undefined)
  if (given.length === 0) return { kind: 'once' }
  const ms = given.reduce((sum, u) => sum + (options[u] as number) * UNIT_MS[u], 0)
  if (!(ms >= 1)) throw new TypeError('interval must be at least 1 ms')
  return { kind: 'interval', ms }
}

/** Python timedelta text, as gofer's report shows intervals: `0:10:00`, `1 day, 0:00:00`. */
export function timedeltaText(ms: number): string {
  const days = Math.floor(ms / 86_400_000)
  let rest = ms - days * 86_400_000
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const m = Math.floor(rest / 60_000)
  rest -= m * 60_000
  const s = Math.floor(rest / 1000)
  const micros = Math.round((rest - s * 1000) * 1000)
  const pad = (n: number) => String(n).padStart(2, '0')
  const clock = `${h}:${pad(m)}:${pad(s)}${micros ? '.' + String(micros).padStart(6, '0') : ''}`
  return days ? `${days} day${days === 1 ? '' : 's'}, ${clock}` : clock
}

export class ScheduledAction {
  runs = 0
  failures = 0
  running: Promise<void> | null = null
  timer: unknown = null

  constructor(readonly marked: Marked, readonly schedule: Schedule) {}

  get name(): string {
    return this.marked.name
  }

  /** The report line's text: `Class.method() 0:10:00`, `plugin.fn() cron 0 3 * * *`, `x() once`. */
  describe(): string {
    const s = this.schedule
    const when = s.kind === 'interval' ? timedeltaText(s.ms) : s.kind === 'cron' ? `cron ${s.pattern}` : 'once'
    return `${describe(this.marked)} ${when}`
  }
}

export class ActionScheduler {
  private stopped = true

  constructor(readonly actions: ScheduledAction[], private readonly log: Logger, private readonly clock: Clock = systemClock) {}

  /** The actions marked in a plugin module's exports. Throws PluginError for a bad schedule. */
  static fromExports(pluginName: string, exports: Record<string, unknown>, log: Logger, clock?: Clock): ActionScheduler {
    const actions = findMarked(pluginName, exports, fn => actionOptions(fn) !== null).map(marked => {
      try {
        return new ScheduledAction(marked, scheduleOf(actionOptions(marked.fn)!))
      } catch (error) {
        throw new PluginError(`@action ${marked.name}: ${(error as Error).message}`)
      }
    })
    return new ActionScheduler(actions, log, clock)
  }

  /** Begin running the actions (first runs now, cron ones at their next match). */
  start(): void {
    if (!this.stopped) return
    this.stopped = false
    for (const action of this.actions) {
      if (action.schedule.kind === 'cron') this.armCron(action)
      else this.arm(action, this.clock.now())
    }
  }

  /** Stop scheduling and wait (up to `deadlineMs`) for runs in progress. */
  async stop(deadlineMs = 30_000): Promise<void> {
    this.stopped = true
    for (const action of this.actions) {
      if (action.timer !== null) this.clock.clearTimeout(action.timer)
      action.timer = null
    }
    const running = this.actions.map(a => a.running).filter((p): p is Promise<void> => p !== null)
    if (running.length === 0) return
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>(resolve => {
      timer = setTimeout(() => {
        this.log.warn({ running: running.length }, 'actions still running after the stop deadline')
        resolve()
      }, deadlineMs)
    })
    await Promise.race([Promise.allSettled(running), late])
    clearTimeout(timer)
  }

  /** Report lines, one per action. */
  lines(): string[] {
    return this.actions.map(a => a.describe())
  }

  /** Fire `action` at `due` (epoch ms), chaining timers for waits beyond setTimeout's range. */
  private arm(action: ScheduledAction, due: number): void {
    if (this.stopped) return
    const wait = Math.max(0, due - this.clock.now())
    action.timer = this.clock.setTimeout(() => {
      action.timer = null
      if (this.clock.now() < due) this.arm(action, due)
      else void this.run(action)
    }, Math.min(wait, MAX_TIMER_MS))
  }

  private armCron(action: ScheduledAction): void {
    if (this.stopped || action.schedule.kind !== 'cron') return
    const next = action.schedule.cron.nextRun(new Date(this.clock.now()))
    if (!next) {
      this.log.info({ action: action.name }, 'cron pattern has no future match; action done')
      return
    }
    this.arm(action, next.getTime())
  }

  private async run(action: ScheduledAction): Promise<void> {
    if (this.stopped) return
    const started = this.clock.now()
    action.runs++
    action.running = (async () => {
      try {
        await action.marked.call()
      } catch (error) {
        action.failures++
        this.log.error({ action: action.name, err: error }, `action ${action.name} failed: ${(error as Error)?.message ?? String(error)}`)
      }
    })()
    await action.running
    action.running = null
    const s = action.schedule
    if (s.kind === 'interval') this.arm(action, started + s.ms)
    else if (s.kind === 'cron') this.armCron(action)
  }
}
