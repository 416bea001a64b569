// The live subscriptions of one connection, re-established after every reconnect. Shared by
// the broker adapters because what a failed resubscribe means is the same for every protocol:
// a connection loss aborts the whole restore (the next connection restores again), a missing
// queue ends that subscription, anything else is reported and retried later on its own.
import { NotFound } from '../errors.js'
import { logger } from '../log.js'

const log = logger('gofer.messaging')

/** What the set needs from one protocol's consumer (T: the protocol's connection). */
export interface Resubscribable<T> {
  readonly queue: string
  /** False once cancelled or ended: such a consumer is not kept. */
  readonly active: boolean
  /** Subscribe on `conn`; the previous subscription died with its connection. */
  start(conn: T): Promise<void>
  cancel(): Promise<void>
  /** End without reporting (the queue is gone). */
  endQuietly(): void | Promise<void>
  /** Try start() again after a backoff, on whatever connection is live then. */
  retryLater(): void
}

export class ConsumerSet<T, C extends Resubscribable<T>> {
  private readonly live = new Set<C>()

  /** `isLoss`: the error says the connection failed under start(), not the broker refused. */
  constructor(private readonly isLoss: (err: unknown) => boolean) {}

  add(consumer: C): void {
    if (consumer.active) this.live.add(consumer)
  }

  delete(consumer: C): void {
    this.live.delete(consumer)
  }

  forQueue(queue: string): C[] {
    return [...this.live].filter(c => c.queue === queue)
  }

  /** Resubscribe everything; a connection loss is thrown, a missing queue ends that subscription. */
  async restore(conn: T, report: (err: Error) => void): Promise<void> {
    for (const consumer of [...this.live]) {
      try {
        await consumer.start(conn)
      } catch (err) {
        if (this.isLoss(err)) throw err
        log.error({ queue: consumer.queue, err: (err as Error).message }, 'cannot resubscribe after reconnect')
        if (err instanceof NotFound) await consumer.endQuietly()
        else consumer.retryLater()
        report(err as Error)
      }
    }
  }

  async cancelAll(): Promise<void> {
    await Promise.allSettled([...this.live].map(c => c.cancel()))
    this.live.clear()
  }
}
