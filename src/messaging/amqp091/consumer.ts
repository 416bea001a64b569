// Subscriptions: one channel per consumer (its own basic.qos, and a channel error on one consumer
// cannot stop another), manual acknowledgement, and re-subscription after reconnects.
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib'
import { NotFound } from '../../errors.js'
import { logger } from '../../log.js'
import type { Delivery, MessageHandler, Subscription } from '../adapter.js'
import { Backoff } from '../backoff.js'
import { AckBatcher } from './ack-batcher.js'
import { brokerReason, closeQuietly, guard, isConnectionLoss, isNotFound } from './channels.js'

const log = logger('gofer.messaging')

export const DEFAULT_PREFETCH = 100

/** Cap on how long cancel() waits for the broker (basic.cancel-ok, channel close-ok). */
const CANCEL_GRACE_MS = 2000

/** What a consumer needs from its connection. */
export interface ConsumerHost {
  /** The live amqplib connection, or null while reconnecting. */
  current(): ChannelModel | null
  /** Report a subscription that failed for good (the connection's 'error' event). */
  report(error: Error): void
  /** The subscription ended (cancelled, or lost its queue): stop restoring it. */
  ended(consumer: Consumer): void
}

export class Consumer implements Subscription {
  private channel: Channel | null = null
  private tag: string | null = null
  private starting = false
  private cancelled = false
  /** basic.cancel sent, channel kept open for the acks of what was delivered (pause()). */
  private paused = false
  private restartTimer: NodeJS.Timeout | null = null
  private readonly backoff = new Backoff()

  constructor(
    readonly queue: string,
    private readonly handler: MessageHandler,
    readonly prefetch: number,
    private readonly host: ConsumerHost,
  ) {}

  get active(): boolean {
    return !this.cancelled
  }

  /**
   * Open a channel, set the prefetch and basic.consume. Rejects NotFound for a missing queue
   * (the 404 closes only this consumer's channel), or amqplib's error when the connection failed.
   */
  async start(model: ChannelModel): Promise<void> {
    // Paused: a reconnect or a channel restart must not subscribe again.
    if (this.cancelled || this.paused) return
    this.starting = true
    const holder: { error: Error | null } = { error: null }
    const state = { live: false, closed: false }
    let ch: Channel | null = null
    try {
      ch = guard(await model.createChannel(), `consume ${this.queue}`, holder)
      const opened = ch
      opened.on('close', () => {
        state.closed = true
        if (state.live) this.channelClosed(opened, holder.error)
      })
      await opened.prefetch(this.prefetch)
      const ok = await opened.consume(this.queue, msg => this.onMessage(opened, msg), { noAck: false })
      if (this.cancelled) {
        // cancel() ran while we were subscribing.
        closeQuietly(opened)
        return
      }
      this.channel = opened
      this.tag = ok.consumerTag
      state.live = true
      // The close may have been processed in the same socket read as consume-ok.
      if (state.closed) this.channelClosed(opened, holder.error)
    } catch (err) {
      closeQuietly(ch)
      if (isNotFound(err)) throw new NotFound(this.queue, brokerReason(err))
      throw err
    } finally {
      this.starting = false
    }
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return
    this.cancelled = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
    this.host.ended(this)
    const ch = this.channel
    const tag = this.tag
    this.channel = null
    this.tag = null
    if (!ch) return
    // basic.cancel first so nothing new arrives, then close: the broker requeues whatever is
    // still unacked (marked redelivered), exactly as if this consumer had crashed.
    await bounded(async () => {
      if (tag) await ch.cancel(tag)
      await ch.close()
    })
  }

  /** basic.cancel only: nothing new arrives, while acks of delivered messages still work. */
  async pause(): Promise<void> {
    if (this.cancelled || this.paused) return
    this.paused = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
    const ch = this.channel
    const tag = this.tag
    this.tag = null
    if (!ch || !tag) return
    await bounded(async () => {
      await ch.cancel(tag)
    })
  }

  /** End without reporting: the queue was deleted through this connection. */
  endQuietly(): void {
    if (this.cancelled) return
    this.cancelled = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
    this.host.ended(this)
    closeQuietly(this.channel)
    this.channel = null
    this.tag = null
  }

  private onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // basic.cancel from the broker: the queue was deleted (or became unavailable).
      if (this.cancelled) return
      log.warn({ queue: this.queue }, 'consumer cancelled by the broker')
      this.endQuietly()
      this.host.report(new NotFound(this.queue, 'consumer cancelled by the broker (queue deleted?)'))
      return
    }
    // In flight when cancel() ran: not ours any more; closing the channel requeues it.
    if (this.cancelled) return
    const batcher = this.batcherFor(ch)
    const tag = msg.fields.deliveryTag
    batcher.delivered(tag)
    const delivery = new Amqp091Delivery(msg.content, msg.fields.redelivered, batcher, tag, this.queue)
    try {
      const result: unknown = this.handler(delivery)
      // Tolerate async handlers: their rejections must not become unhandled.
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        ;(result as Promise<unknown>).then(undefined, (err: unknown) => this.handlerFailed(err))
      }
    } catch (err) {
      this.handlerFailed(err)
    }
  }

  private batcher: { channel: Channel; batcher: AckBatcher } | null = null

  /** One batcher per channel: tags are per channel, and a new channel starts afresh. */
  private batcherFor(ch: Channel): AckBatcher {
    if (this.batcher?.channel !== ch) {
      const onError = (err: Error) =>
        // The channel died since delivery; the broker redelivers the message, so this is benign.
        log.debug({ queue: this.queue, err: err.message }, 'settle on a closed channel ignored')
      this.batcher = { channel: ch, batcher: new AckBatcher(ch, onError) }
    }
    return this.batcher.batcher
  }

  private handlerFailed(err: unknown): void {
    // The message stays unacked; it comes back when this channel or connection goes away.
    log.error({ queue: this.queue, err: err instanceof Error ? err.message : String(err) }, 'message handler threw')
  }

  /**
   * The consumer's channel closed. After a connection loss the reconnect restores us; after a
   * broker channel error (406 on a bad ack, ...) the connection is fine, so restart here.
   */
  private channelClosed(ch: Channel, brokerError: Error | null): void {
    if (this.cancelled || this.channel !== ch) return
    this.channel = null
    this.tag = null
    if (!brokerError) return
    log.warn({ queue: this.queue, err: brokerError.message }, 'consumer channel closed; resubscribing')
    this.retryLater()
  }

  /** Try start() again after a backoff (used after a failed resubscribe on a live connection). */
  retryLater(): void {
    if (this.restartTimer || this.cancelled) return
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null
      void this.restart()
    }, this.backoff.next())
  }

  private async restart(): Promise<void> {
    const model = this.host.current()
    // Down, or already restored by a reconnect: nothing to do here.
    if (!model || this.cancelled || this.channel || this.starting) return
    try {
      await this.start(model)
      this.backoff.reset()
    } catch (err) {
      if (err instanceof NotFound) {
        this.endQuietly()
        this.host.report(err)
      } else if (!isConnectionLoss(err)) {
        this.host.report(err as Error)
        this.retryLater()
      }
      // A connection loss: the reconnect restores this consumer.
    }
  }
}

/** Run a broker round trip, giving up silently after CANCEL_GRACE_MS or on any error. */
async function bounded(op: () => Promise<void>): Promise<void> {
  const grace = { timer: undefined as NodeJS.Timeout | undefined }
  try {
    await Promise.race([op(), new Promise<void>(resolve => { grace.timer = setTimeout(resolve, CANCEL_GRACE_MS) })])
  } catch {
    // Channel or connection already gone: the broker has released the consumer anyway.
  } finally {
    clearTimeout(grace.timer)
  }
}

/** One delivered message; settled once (later calls are ignored), through the channel's batcher. */
class Amqp091Delivery implements Delivery {
  private settled = false
  constructor(
    readonly body: Buffer,
    readonly redelivered: boolean,
    private readonly batcher: AckBatcher,
    private readonly tag: number,
    private readonly queue: string,
  ) {}

  ack(): void {
    this.settle('ack', () => this.batcher.ack(this.tag))
  }

  reject(requeue: boolean): void {
    this.settle('reject', () => this.batcher.nack(this.tag, requeue))
  }

  private settle(what: string, op: () => void): void {
    if (this.settled) return
    this.settled = true
    try {
      op()
    } catch (err) {
      // The channel died since delivery; the broker redelivers the message, so this is benign.
      log.debug({ queue: this.queue, op: what, err: (err as Error).message }, 'settle on a closed channel ignored')
    }
  }
}
