// The AMQP 0-9-1 adapter (RabbitMQ, amqplib 2.x): the Connection contract of ../adapter.ts on
// top of the reconnecting Link, per-exchange confirm channels, per-consumer channels and the
// remembered queue specs.
import { EventEmitter } from 'node:events'
import type { ChannelModel } from 'amqplib'
import { ConnectionClosed, ConnectionError, GoferError, InvalidArgument } from '../../errors.js'
import { logger } from '../../log.js'
import type {
  Adapter, ConnectOptions, Connection, ConsumeOptions, MessageHandler, QueueSpec, SendOptions, Subscription,
} from '../adapter.js'
import type { BrokerUrl } from '../url.js'
import { displayUrl } from '../url.js'
import { isConnectionLoss } from './channels.js'
import { Link } from './connection.js'
import { Consumer, ConsumerSet, DEFAULT_PREFETCH, type ConsumerHost } from './consumer.js'
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SEND_TIMEOUT_MS } from './dial.js'
import { Publisher } from './publisher.js'
import * as topology from './topology.js'

const log = logger('gofer.messaging')

export class Amqp091Connection extends EventEmitter implements Connection {
  private readonly link: Link
  private readonly queues = new topology.QueueRegistry()
  private readonly consumers = new ConsumerSet()
  private readonly publisher: Publisher
  private readonly sendTimeoutMs: number
  private readonly connectTimeoutMs: number
  private closing: Promise<void> | null = null

  constructor(readonly url: BrokerUrl, options: ConnectOptions = {}) {
    super()
    this.sendTimeoutMs = options.sendTimeout ?? DEFAULT_SEND_TIMEOUT_MS
    this.connectTimeoutMs = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.link = new Link(url, options, model => this.restore(model))
    this.publisher = new Publisher(this.link, this.sendTimeoutMs)
    this.link.on('up', () => this.announce('connected'))
    this.link.on('down', () => this.announce('disconnected'))
    this.link.start()
  }

  ready(): Promise<void> {
    if (this.closing) return Promise.reject(new ConnectionClosed())
    return this.link.ready(this.connectTimeoutMs)
  }

  async send(address: string, body: Buffer, options?: SendOptions): Promise<void> {
    this.checkOpen()
    if (!Buffer.isBuffer(body)) throw new InvalidArgument(`send to "${address}": the body must be a Buffer`)
    try {
      return await this.publisher.send(address, body, options)
    } catch (err) {
      throw this.closing ? new ConnectionClosed() : err
    }
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    await this.withModel(`declare queue "${spec.name}"`, model => topology.declareQueue(model, spec))
    this.queues.remember(spec)
  }

  async deleteQueue(name: string): Promise<void> {
    this.checkOpen()
    // Forget first: a reconnect racing with the delete must not bring the queue back.
    this.queues.forget(name)
    // Our own consumers of it end quietly (the broker would cancel them anyway).
    for (const consumer of this.consumers.forQueue(name)) consumer.endQuietly()
    await this.withModel(`delete queue "${name}"`, model => topology.deleteQueue(model, name))
  }

  queueExists(name: string): Promise<boolean> {
    return this.withModel(`check queue "${name}"`, model => topology.queueExists(model, name))
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions = {}): Promise<Subscription> {
    const host: ConsumerHost = {
      current: () => this.link.current(),
      report: err => this.report(err),
      ended: c => this.consumers.delete(c),
    }
    const consumer = new Consumer(queue, handler, options.prefetch ?? DEFAULT_PREFETCH, host)
    await this.withModel(`consume "${queue}"`, model => consumer.start(model))
    // Only now: a restore running before this point must not subscribe it a second time.
    this.consumers.add(consumer)
    return consumer
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  /** Test hook (not part of the contract): destroy the socket as a network failure would. */
  _dropForTest(): void {
    this.link.dropForTest()
  }

  private async shutdown(): Promise<void> {
    const wasUp = this.link.current() !== null
    // Reject what is pending first, so nobody waits on the polite broker round trips below.
    this.publisher.close(new ConnectionClosed())
    await this.consumers.cancelAll()
    await this.link.close()
    if (wasUp) this.announce('disconnected')
  }

  /** Runs on every new connection before it is announced: queues, then bindings, then consumers. */
  private async restore(model: ChannelModel): Promise<void> {
    await this.queues.restore(model, err => this.report(err))
    await this.consumers.restore(model, err => this.report(err))
  }

  /**
   * Run a broker operation on the live connection, waiting for a (re)connect up to the send
   * deadline and retrying when the connection fails under it. Broker verdicts are final.
   */
  private async withModel<T>(what: string, op: (model: ChannelModel) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.sendTimeoutMs
    let stale: ChannelModel | null = null
    for (;;) {
      this.checkOpen()
      const left = deadline - Date.now()
      if (left <= 0) throw new ConnectionError(`cannot ${what}: no usable connection to ${displayUrl(this.url)} within ${this.sendTimeoutMs} ms`)
      let model: ChannelModel
      try {
        model = await this.link.whenUp(left, stale)
      } catch (err) {
        throw this.closing ? new ConnectionClosed() : err
      }
      try {
        return await op(model)
      } catch (err) {
        if (this.closing) throw new ConnectionClosed()
        if (err instanceof GoferError) throw err
        if (!isConnectionLoss(err)) throw new ConnectionError(`cannot ${what}: ${(err as Error).message}`, { cause: err })
        log.debug({ op: what, err: (err as Error).message }, 'connection failed under an operation; retrying')
        stale = model
      }
    }
  }

  /** The 'error' event, only when someone listens (an unheard 'error' would throw). */
  private report(err: Error): void {
    if (this.listenerCount('error') === 0) {
      log.warn({ url: displayUrl(this.url), err: err.message }, 'messaging error (no listener)')
      return
    }
    try {
      this.emit('error', err)
    } catch (thrown) {
      log.error({ err: (thrown as Error).message }, "an 'error' listener threw")
    }
  }

  /** Our listeners run inside reconnect and amqplib callbacks: a throw must not escape there. */
  private announce(event: 'connected' | 'disconnected'): void {
    try {
      this.emit(event)
    } catch (err) {
      log.error({ event, err: (err as Error).message }, 'connection listener threw')
    }
  }

  private checkOpen(): void {
    if (this.closing) throw new ConnectionClosed()
  }
}

export const amqp091Adapter: Adapter = {
  name: 'amqp-0-9-1',
  provides: ['amqp-0-9-1', 'rabbitmq', 'rabbit', 'amqp'],
  connect(url: BrokerUrl, options?: ConnectOptions): Connection {
    return new Amqp091Connection(url, options)
  },
}
