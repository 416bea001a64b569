// A fake clock for the action scheduler: time moves only when a test advances it, and timers
// due on the way fire in order, with the event loop turned between them so async runs settle.
import type { Clock } from '../../src/agent/actions.js'
import type { Logger } from '../../src/log.js'

export const turn = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

export class FakeClock implements Clock {
  private t: number
  private id = 0
  private readonly timers = new Map<number, { at: number; fn: () => void }>()

  constructor(start = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    this.t = start
  }

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.id
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }

  get pending(): number {
    return this.timers.size
  }

  /** Move time forward by `ms`, firing every timer that falls due, earliest first. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      await turn()
      let next: [number, { at: number; fn: () => void }] | null = null
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry
      if (!next) break
      this.timers.delete(next[0])
      this.t = Math.max(this.t, next[1].at)
      next[1].fn()
    }
    this.t = end
    await turn()
  }
}

/** A logger that records what it is given instead of printing. */
export function recordingLogger(): { log: Logger; records: Array<{ level: string; args: unknown[] }> } {
  const records: Array<{ level: string; args: unknown[] }> = []
  const at = (level: string) => (...args: unknown[]) => void records.push({ level, args })
  const log = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') } as unknown as Logger
  return { log, records }
}
