// The callers of ReconnectingLink.whenUp() that are waiting for a live connection, each with
// its own deadline. Kept apart from the reconnect state machine because of one subtlety: a
// caller that just saw a connection fail names it `stale`, and must not be handed that same
// connection again before the link has noticed the loss.

interface Waiter<T> {
  resolve(conn: T): void
  reject(error: Error): void
  stale: T | null
  timer: NodeJS.Timeout | null
}

export class LinkWaiters<T> {
  private readonly waiting = new Set<Waiter<T>>()

  /** Wait for a connection other than `stale`; after `timeoutMs` reject with `expired()`. */
  wait(timeoutMs: number, stale: T | null, expired: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, stale, timer: null }
      waiter.timer = setTimeout(() => {
        this.waiting.delete(waiter)
        reject(expired())
      }, Math.max(0, timeoutMs))
      this.waiting.add(waiter)
    })
  }

  /** A connection is up: hand it to every waiter except those that called it stale. */
  resolve(conn: T): void {
    for (const w of [...this.waiting]) {
      if (w.stale === conn) continue
      this.settle(w)
      w.resolve(conn)
    }
  }

  /** The link failed or closed for good: every waiter rejects with `error`. */
  reject(error: Error): void {
    for (const w of [...this.waiting]) {
      this.settle(w)
      w.reject(error)
    }
  }

  private settle(w: Waiter<T>): void {
    this.waiting.delete(w)
    if (w.timer) clearTimeout(w.timer)
  }
}
