// One publisher-confirm channel and the bookkeeping that turns broker confirms, returns and
// channel closes into per-message outcomes.
//
// Why a basic.return can be matched to its publish without any message property:
// * RabbitMQ handles a channel's publishes in order and sends basic.return for an unroutable
//   mandatory message while handling it, i.e. before that message's basic.ack (which is sent
//   after the routing decision and may be merged into a later `multiple` ack).
// * So when a return arrives its message is still unconfirmed here, and it is the oldest
//   unconfirmed, not-yet-returned publish with the same routing key and body (every publish on
//   this channel goes to the same exchange, see publisher.ts). Two byte-identical bodies to the
//   same key of which only the later one is unroutable are the only ambiguity; gofer bodies carry
//   a unique serial number, so it does not arise.
// When the ack then arrives for a message marked returned, its send rejects NotFound.
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib'
import { ConnectionError, NotFound } from '../../errors.js'
import { logger } from '../../log.js'
import { brokerReason, closeQuietly, isNotFound, openConfirmChannel } from './channels.js'
import { publishDirect, writerOf } from './socket-writer.js'

const log = logger('gofer.messaging')

/** The only properties gofer's amqp adapter sets (wire captures, reference/gofer.md §2.3). */
export interface PublishProperties {
  contentEncoding: 'utf-8'
  deliveryMode: 1 | 2
  expiration?: string
}

interface Pending {
  address: string
  key: string
  body: Buffer
  /** basic.return reply text once the broker returned the message. */
  returned: string | null
  settled: boolean
  resolve(): void
  reject(error: Error): void
}

/** amqplib internals used to publish without its always-present empty `headers` table. */
interface RawConfirmChannel {
  sendMessage(fields: Record<string, unknown>, properties: Record<string, unknown>, content: Buffer): boolean
  pushConfirmCallback(cb: (err: Error | null) => void): void
}

let warnedFallback = false

/**
 * Write one mandatory publish. amqplib's public publish() always encodes an (empty) headers
 * table, so the message would carry `application_headers` that gofer never sets; the method it
 * wraps (sendMessage + pushConfirmCallback, the exact pair ConfirmChannel.publish calls) lets us
 * send only the three properties. The frames go straight to the socket where possible
 * (socket-writer.ts). Falls back to publish() should a future amqplib rename these internals.
 */
function writePublish(ch: ConfirmChannel, exchange: string, key: string, body: Buffer, props: PublishProperties, batch: boolean, cb: (err: Error | null) => void): boolean {
  const raw = ch as unknown as Partial<RawConfirmChannel>
  if (typeof raw.sendMessage === 'function' && typeof raw.pushConfirmCallback === 'function') {
    const fields = { exchange, routingKey: key, mandatory: true, immediate: false, ticket: undefined }
    const properties = { ...props }
    const ok = publishDirect(ch, fields, properties, body, batch) ?? raw.sendMessage.call(ch, fields, properties, body)
    raw.pushConfirmCallback.call(ch, cb)
    return ok
  }
  if (!warnedFallback) {
    warnedFallback = true
    log.warn('amqplib internals changed: publishing with an extra empty headers table')
  }
  return ch.publish(exchange, key, body, {
    mandatory: true,
    contentEncoding: props.contentEncoding,
    deliveryMode: props.deliveryMode,
    expiration: props.expiration,
  }, cb)
}

/**
 * Rejection of a send that was queued behind socket backpressure and never written because the
 * channel died first: safe to publish again elsewhere (publisher.ts does, within the deadline).
 */
export class NotWritten extends Error {
  constructor() {
    super('channel closed before the message was written')
    this.name = 'NotWritten'
  }
}

interface Queued {
  entry: Pending
  props: PublishProperties
  batch: boolean
}

export class PublishChannel {
  /** Written, waiting for a confirm; in publish order (Set iteration order). */
  private readonly pending = new Set<Pending>()
  /** Not yet written because the socket buffer was full: FIFO, flushed on 'drain'. */
  private backlog: Queued[] = []
  private backlogHead = 0
  private isCongested = false
  private closedWith: Error | null = null
  private dead = false

  private constructor(
    readonly model: ChannelModel,
    readonly exchange: string,
    private readonly ch: ConfirmChannel,
    /** Written by the channel's 'error' listener: why the broker closed it. */
    private readonly holder: { error: Error | null },
  ) {
    ch.on('return', (msg: Message) => this.returned(msg))
    ch.on('drain', () => this.drained())
    ch.on('close', () => this.died())
    // Direct publishes fill the socket's buffer, not the channel's: its 'drain' resumes them too.
    this.socket = writerOf(ch)?.socket ?? null
    this.socket?.on('drain', this.onSocketDrain)
  }

  private readonly socket: Pick<NodeJS.EventEmitter, 'on' | 'removeListener'> | null
  private readonly onSocketDrain = (): void => {
    if (this.isCongested) this.drained()
  }

  static async open(model: ChannelModel, exchange: string): Promise<PublishChannel> {
    const holder: { error: Error | null } = { error: null }
    const ch = await openConfirmChannel(model, `publish ${exchange || '(default exchange)'}`, holder)
    return new PublishChannel(model, exchange, ch, holder)
  }

  get alive(): boolean {
    return !this.dead
  }

  /** Sends wait in the backlog (socket buffer full): a write now would be queued, not written. */
  get congested(): boolean {
    return this.isCongested
  }

  get idle(): boolean {
    return this.pending.size === 0 && this.backlog.length === this.backlogHead
  }

  /**
   * Publish; returns the confirm promise, or null when the channel is already dead and nothing
   * was written (the caller may safely retry on a new channel). While amqplib reports the socket
   * buffer full, messages wait in a backlog here and go out in order on 'drain': that is the
   * backpressure, without waking every waiting sender on each drain.
   */
  write(address: string, key: string, body: Buffer, props: PublishProperties, batch = false): Promise<void> | null {
    if (this.dead) return null
    let entry!: Pending
    const confirmed = new Promise<void>((resolve, reject) => {
      entry = { address, key, body, returned: null, settled: false, resolve, reject }
    })
    if (this.isCongested) {
      this.backlog.push({ entry, props, batch })
      return confirmed
    }
    return this.transmit(entry, props, batch) ? confirmed : null
  }

  /** Give up on this channel: every unconfirmed send rejects with `error`, then close it. */
  fail(error: Error): void {
    if (!this.closedWith) this.closedWith = error
    this.died()
    closeQuietly(this.ch)
  }

  /** Hand one message to amqplib; false when the channel turned out to be closed (not sent). */
  private transmit(entry: Pending, props: PublishProperties, batch: boolean): boolean {
    let ok: boolean
    try {
      ok = writePublish(this.ch, this.exchange, entry.key, entry.body, props, batch, err => this.confirmed(entry, err))
    } catch (err) {
      if ((err as Error).name === 'IllegalOperationError') {
        // Closing or closed under us; nothing reached the socket.
        log.debug({ err: (err as Error).message }, 'publish on a closed channel; retrying elsewhere')
        return false
      }
      // This message's own fault (amqplib refused to encode it): fail just this send.
      entry.settled = true
      entry.reject(err as Error)
      return true
    }
    this.pending.add(entry)
    if (!ok) this.isCongested = true
    return true
  }

  private drained(): void {
    this.isCongested = false
    while (!this.isCongested && !this.dead && this.backlogHead < this.backlog.length) {
      const item = this.backlog[this.backlogHead]!
      // A failed transmit means the channel is closing: died() settles the rest as NotWritten.
      if (!this.transmit(item.entry, item.props, item.batch)) break
      this.backlogHead++
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog = []
      this.backlogHead = 0
    }
  }

  private confirmed(entry: Pending, err: Error | null): void {
    if (entry.settled) return
    if (err === null) {
      this.settle(entry, entry.returned === null ? null : new NotFound(entry.address, entry.returned))
    } else if (err.message === 'message nacked') {
      // basic.nack: the broker could not take the message (internal error in a queue).
      this.settle(entry, new ConnectionError(`the broker refused the message to "${entry.address}" (basic.nack)`))
    } else {
      // 'channel closed': amqplib is failing every unconfirmed publish of a closed channel.
      this.died()
    }
  }

  private returned(msg: Message): void {
    const fields = msg.fields as Message['fields'] & { replyText?: string; replyCode?: number }
    for (const entry of this.pending) {
      if (entry.returned === null && entry.key === fields.routingKey && entry.body.equals(msg.content)) {
        entry.returned = fields.replyText || 'NO_ROUTE'
        return
      }
    }
    log.warn({ exchange: fields.exchange, key: fields.routingKey }, 'basic.return for no pending publish')
  }

  /** Runs once when the channel is gone: settle everything still waiting for a confirm. */
  private died(): void {
    this.dead = true
    this.socket?.removeListener('drain', this.onSocketDrain)
    const brokerError = this.holder.error
    for (const entry of this.pending) {
      if (entry.settled) continue
      if (this.closedWith) this.settle(entry, this.closedWith)
      // A publish to a missing exchange: the broker closes the channel with 404. Every publish on
      // this channel went to that exchange, so all of them are unroutable.
      else if (isNotFound(brokerError)) this.settle(entry, new NotFound(entry.address, brokerReason(brokerError)))
      else {
        const why = brokerError ? brokerError.message : 'connection lost'
        this.settle(entry, new ConnectionError(`no confirm for the message to "${entry.address}": ${why}`, { cause: brokerError ?? undefined }))
      }
    }
    this.pending.clear()
    // Never written: a retry on a new channel cannot duplicate them (unless we are closing).
    const unsent = this.backlog.slice(this.backlogHead)
    this.backlog = []
    this.backlogHead = 0
    for (const { entry } of unsent) this.settle(entry, this.closedWith ?? new NotWritten())
  }

  private settle(entry: Pending, error: Error | null): void {
    entry.settled = true
    this.pending.delete(entry)
    if (error) entry.reject(error)
    else entry.resolve()
  }
}
