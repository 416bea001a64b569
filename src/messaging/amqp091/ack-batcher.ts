// Coalesces acknowledgements on one consumer channel: acks made in the same turn of the event
// loop go out as one basic.ack with multiple=true covering the acked prefix of the deliveries,
// instead of one frame (and one broker operation) each. With three replies per call, per-message
// acks were a large share of the caller's and the broker's work (bench/README.md).
import type { Channel } from 'amqplib'
import { writeDirect } from './socket-writer.js'

export class AckBatcher {
  /** Delivery tags not yet settled, in delivery (= tag) order. */
  private unsettled: number[] = []
  private readonly acked = new Set<number>()
  private scheduled = false

  constructor(private readonly channel: Channel, private readonly onError: (error: Error) => void) {}

  /** Record a delivery (before its handler runs, so tags stay in order). */
  delivered(tag: number): void {
    this.unsettled.push(tag)
  }

  ack(tag: number): void {
    this.acked.add(tag)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => this.flush())
  }

  /** A nack goes out at once; the tag leaves the batch so no multiple-ack covers it wrongly. */
  nack(tag: number, requeue: boolean): void {
    this.unsettled = this.unsettled.filter(t => t !== tag)
    this.send(() => this.channel.nack(message(tag), false, requeue))
  }

  private flush(): void {
    this.scheduled = false
    let prefix = 0
    while (prefix < this.unsettled.length && this.acked.has(this.unsettled[prefix]!)) prefix++
    if (prefix > 0) {
      const last = this.unsettled[prefix - 1]!
      for (let i = 0; i < prefix; i++) this.acked.delete(this.unsettled[i]!)
      this.unsettled = this.unsettled.slice(prefix)
      // A lone delivery (one call at a time) may wait for company; under load acks keep the
      // prefetch window moving and leave at the end of the turn.
      const lone = prefix === 1 && this.unsettled.length === 0
      this.send(() => this.channel.ack(message(last), prefix > 1), lone ? 'later' : 'turn')
    }
    if (this.acked.size === 0) return
    // Acked out of order (an earlier delivery is still being worked on): ack them one by one.
    for (const tag of this.acked) this.send(() => this.channel.ack(message(tag), false), 'turn')
    this.unsettled = this.unsettled.filter(t => !this.acked.has(t))
    this.acked.clear()
  }

  /**
   * `direct`: an ack, written straight to the corked socket where possible, leaving at the end
   * of the turn or (`later`) with the next write that leaves anyway, at the latest a few ms
   * later (socket-writer.ts); never after a later frame of this channel (a close), since those
   * queue behind it. Without `direct` (a nack) it takes amqplib's path.
   */
  private send(op: () => void, direct?: 'turn' | 'later'): void {
    try {
      if (!direct || writeDirect(this.channel, direct, op) === null) op()
    } catch (error) {
      this.onError(error as Error)
    }
  }
}

/** amqplib's ack/nack need only the delivery tag of the message. */
function message(tag: number): Parameters<Channel['ack']>[0] {
  return { fields: { deliveryTag: tag } } as Parameters<Channel['ack']>[0]
}
