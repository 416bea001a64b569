// Bounds how many calls of one plugin run at once (`[main] threads`, gofer's worker pool);
// calls beyond the limit wait in arrival order.
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

  /** Run `task` when a slot is free; resolves or rejects with the task's outcome. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>(resolve => this.waiting.push(resolve))
    else this.running++
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      if (next) next()
      else this.running--
    }
  }
}
