// Bounds how many calls of one plugin run at once (`[main] threads`, gofer's worker pool);
// calls beyond the limit wait in arrival order.
import type { AbortLike } from '../rmi/cancel-signal.js'

export class Executor {
  private running = 0
  private readonly waiting: Array<() => void> = []
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`executor limit must be an integer >= 1, got ${limit}`)
  }

  /** Calls running now plus calls waiting for a slot. */
  get load(): number {
    return this.running + this.waiting.length
  }

  /**
   * Run `task` when a slot is free; resolves or rejects with the task's outcome. When `signal`
   * aborts while the task still waits for a slot, it leaves the line and rejects with the
   * signal's reason (a cancelled request must not wait for a busy plugin to be answered).
   */
  run<T>(task: () => Promise<T>, signal?: AbortLike): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.running < this.limit) {
      this.running++
      return this.start(task)
    }
    return this.wait(signal).then(() => this.start(task))
  }

  /** Take a slot now if one is free (nobody waits then); the caller must release() it. */
  tryAcquire(): boolean {
    if (this.running >= this.limit) return false
    this.running++
    return true
  }

  /** Run `task` in a slot already taken; the slot is handed on when it settles. */
  private start<T>(task: () => Promise<T>): Promise<T> {
    let work: Promise<T>
    try {
      work = task()
    } catch (error) {
      work = Promise.reject(error)
    }
    return work.finally(() => this.release())
  }

  /** Give back a slot taken by tryAcquire() (run() gives back its own). */
  release(): void {
    const next = this.waiting.shift()
    // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
    if (next) next()
    else this.running--
  }

  private wait(signal?: AbortLike): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const granted = (): void => {
        signal?.removeEventListener('abort', aborted)
        resolve()
      }
      const aborted = (): void => {
        const i = this.waiting.indexOf(granted)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(signal!.reason)
      }
      this.waiting.push(granted)
      signal?.addEventListener('abort', aborted, { once: true })
    })
  }
}
