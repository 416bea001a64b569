// Confirmed, mandatory publishing with one confirm channel per exchange.
//
// Why per exchange: a publish to a missing exchange makes RabbitMQ close the channel (404), and
// every other unconfirmed publish on that channel loses its confirm, so its outcome becomes
// unknown. Keeping each exchange on its own channel confines that damage to sends to the missing
// exchange itself, which are all NotFound anyway. The default exchange always exists, so plain
// queue addresses (nearly all gofer traffic) can never be hurt by somebody else's typo.
import type { ChannelModel } from 'amqplib'
import { ConnectionClosed, ConnectionError } from '../../errors.js'
import type { SendOptions } from '../adapter.js'
import { splitAddress } from '../adapter.js'
import { delay } from '../backoff.js'
import type { ReconnectingLink } from '../reconnecting-link.js'
import { isConnectionLoss } from './channels.js'
import { NotWritten, PublishChannel, type PublishProperties } from './confirm-channel.js'

/** Above this many exchange channels, idle ones are closed (least recently used first). */
const MAX_CHANNELS = 32

const PERSISTENT: Readonly<PublishProperties> = Object.freeze({ contentEncoding: 'utf-8', deliveryMode: 2 })

/** The message properties for a send: content_encoding, delivery_mode, expiration; nothing else. */
export function publishProperties(options: SendOptions = {}): PublishProperties {
  // Nearly every gofer message: persistent, no TTL (one shared object; the channel copies it).
  if (options.durable !== false && !(options.ttl && options.ttl > 0)) return PERSISTENT
  const props: PublishProperties = { contentEncoding: 'utf-8', deliveryMode: options.durable === false ? 1 : 2 }
  // AMQP wants the TTL as a decimal string of whole milliseconds.
  if (options.ttl && options.ttl > 0) props.expiration = String(Math.ceil(options.ttl))
  return props
}

export class Publisher {
  /** exchange -> channel on `model`, in least-recently-used order. */
  private readonly channels = new Map<string, PublishChannel>()
  private readonly opening = new Map<string, Promise<PublishChannel>>()
  private model: ChannelModel | null = null
  private closedWith: Error | null = null

  constructor(private readonly link: ReconnectingLink<ChannelModel>, private readonly sendTimeoutMs: number) {}

  /**
   * Publish and wait for the broker's confirm. Before the message is written, failures are
   * retried on the next connection until the send deadline; once written, the outcome is the
   * broker's (ack → resolve, return/404 → NotFound, lost confirm → ConnectionError).
   */
  send(address: string, body: Buffer, options?: SendOptions): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith)
    const { exchange, key } = splitAddress(address)
    const props = publishProperties(options)
    // Fast path, no await before the write: connected and this exchange's channel is open.
    const live = this.link.current()
    const channel = live && live === this.model ? this.channels.get(exchange) : undefined
    if (channel?.alive) {
      // Written at once (not queued behind backpressure): the confirm promise is the outcome.
      if (!channel.congested) {
        const confirmed = channel.write(address, key, body, props, options?.batch === true)
        if (confirmed) return confirmed
      } else {
        const queued = channel.write(address, key, body, props)
        if (queued) return this.outcome(queued, address, exchange, key, body, props, Date.now() + this.sendTimeoutMs)
      }
    }
    return this.sendSlowly(address, exchange, key, body, props, Date.now() + this.sendTimeoutMs)
  }

  /** Wait for a connection and a channel, retrying until the deadline, then write. */
  private async sendSlowly(
    address: string, exchange: string, key: string, body: Buffer, props: PublishProperties, deadline: number,
  ): Promise<void> {
    let stale: ChannelModel | null = null
    for (;;) {
      this.checkOpen()
      const left = deadline - Date.now()
      if (left <= 0) throw new ConnectionError(`cannot send to "${address}": no usable connection within ${this.sendTimeoutMs} ms`)
      const model = await this.link.whenUp(left, stale)
      let channel: PublishChannel
      try {
        channel = await this.channelFor(model, exchange)
      } catch (err) {
        this.checkOpen()
        if (!isConnectionLoss(err)) throw new ConnectionError(`cannot open a channel to send to "${address}": ${(err as Error).message}`, { cause: err })
        stale = model
        continue
      }
      this.checkOpen()
      const confirmed = channel.write(address, key, body, props)
      if (confirmed) return this.outcome(confirmed, address, exchange, key, body, props, deadline)
      // Nothing was written: the channel died in between. Next round opens a fresh one; pause a
      // moment so a connection that is dying but not yet noticed does not make us spin.
      if (this.link.current() !== model) stale = model
      else await delay(10)
    }
  }

  /** The broker's verdict; a message that was never written is sent again (no duplicate). */
  private async outcome(
    confirmed: Promise<void>, address: string, exchange: string, key: string, body: Buffer, props: PublishProperties, deadline: number,
  ): Promise<void> {
    try {
      await confirmed
    } catch (err) {
      if (!(err instanceof NotWritten)) throw err
      await this.sendSlowly(address, exchange, key, body, props, deadline)
    }
  }

  /** Reject every pending confirm with `error` and refuse further sends (connection close). */
  close(error: Error): void {
    this.closedWith ??= error
    for (const channel of this.channels.values()) channel.fail(this.closedWith)
    this.channels.clear()
  }

  private checkOpen(): void {
    if (this.closedWith) throw this.closedWith
  }

  private async channelFor(model: ChannelModel, exchange: string): Promise<PublishChannel> {
    if (this.model !== model) {
      // A new connection: the old channels died with the old one (their pending publishes are
      // rejected by their own close handling).
      this.model = model
      this.channels.clear()
      this.opening.clear()
    }
    const current = this.channels.get(exchange)
    if (current?.alive) {
      // Move to the most-recently-used end.
      this.channels.delete(exchange)
      this.channels.set(exchange, current)
      return current
    }
    let opening = this.opening.get(exchange)
    if (!opening) {
      // Concurrent sends to one exchange share one channel open.
      const p: Promise<PublishChannel> = PublishChannel.open(model, exchange).finally(() => {
        if (this.opening.get(exchange) === p) this.opening.delete(exchange)
      })
      this.opening.set(exchange, p)
      opening = p
    }
    const channel = await opening
    if (this.closedWith) {
      channel.fail(this.closedWith)
      throw this.closedWith
    }
    if (this.model === model) {
      this.channels.delete(exchange)
      this.channels.set(exchange, channel)
      this.trim()
    }
    return channel
  }

  /** Close the least recently used idle channels beyond MAX_CHANNELS (many distinct exchanges). */
  private trim(): void {
    if (this.channels.size <= MAX_CHANNELS) return
    for (const [exchange, channel] of this.channels) {
      if (this.channels.size <= MAX_CHANNELS) break
      if (!channel.idle || exchange === '') continue
      this.channels.delete(exchange)
      channel.fail(new ConnectionClosed('publish channel closed as unused'))
    }
  }
}
