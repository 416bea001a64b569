// One timer for many equal delays: `due(entry)` runs for each entry still present `afterMs` after
// it was added. The request pipeline registers every request and removes nearly all of them
// within a millisecond; a Map insert and delete is several times cheaper on that path than a
// setTimeout/clearTimeout pair per request. Entries share one delay, so insertion order is
// deadline order and the timer only ever looks at the oldest entry.
import { systemClock, type Clock } from './actions.js'

export class Deadlines<T> {
  private readonly entries = new Map<T, number>()
  private timer: unknown = null

  constructor(private readonly afterMs: number, private readonly due: (entry: T) => void, private readonly clock: Clock = systemClock) {
    if (!(afterMs > 0)) throw new RangeError(`afterMs must be > 0, got ${afterMs}`)
  }

  /** Entries waiting for their deadline. */
  get size(): number {
    return this.entries.size
  }

  add(entry: T): void {
    this.entries.set(entry, this.clock.now() + this.afterMs)
    if (!this.timer) this.arm(this.afterMs)
  }

  /** Forget `entry`; `due` will not run for it. */
  delete(entry: T): void {
    this.entries.delete(entry)
  }

  /** Forget everything and stop the timer. */
  clear(): void {
    this.entries.clear()
    if (this.timer) this.clock.clearTimeout(this.timer)
    this.timer = null
  }

  private arm(ms: number): void {
    // systemClock's timers are unref'd: the requests waiting here keep goferd alive through
    // their own connection and work, and a stopped handler must not be held up by the timer.
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(1, Math.ceil(ms)))
  }

  private fire(): void {
    this.timer = null
    const now = this.clock.now()
    for (const [entry, at] of this.entries) {
      if (at > now) {
        this.arm(at - now)
        return
      }
      this.entries.delete(entry)
      this.due(entry)
    }
  }
}
