// The AMQP 0-9-1 adapter (RabbitMQ, amqplib 2.x): the Connection contract of ../adapter.ts on
// top of the reconnecting Link (its lifecycle and events in ../linked-connection.ts),
// per-exchange confirm channels, per-consumer channels and the remembered queue specs.
import type { ChannelModel } from 'amqplib'
import { ConnectionClosed, InvalidArgument } from '../../errors.js'
import type {
  Adapter, ConnectOptions, Connection, ConsumeOptions, MessageHandler, QueueSpec, SendOptions, Subscription,
} from '../adapter.js'
import { ConsumerSet } from '../consumer-set.js'
import { LinkedConnection } from '../linked-connection.js'
import type { BrokerUrl } from '../url.js'
import { isConnectionLoss } from './channels.js'
import { Link } from './connection.js'
import { Consumer, DEFAULT_PREFETCH, type ConsumerHost } from './consumer.js'
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SEND_TIMEOUT_MS } from './dial.js'
import { Publisher } from './publisher.js'
import * as topology from './topology.js'

export class Amqp091Connection extends LinkedConnection<ChannelModel> implements Connection {
  private readonly queues = new topology.QueueRegistry()
  private readonly consumers = new ConsumerSet<ChannelModel, Consumer>(isConnectionLoss)
  private readonly publisher: Publisher

  constructor(url: BrokerUrl, options: ConnectOptions = {}) {
    super(url, {
      sendTimeoutMs: options.sendTimeout ?? DEFAULT_SEND_TIMEOUT_MS,
      connectTimeoutMs: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    }, restore => new Link(url, options, restore))
    this.publisher = new Publisher(this.link, this.sendTimeoutMs)
    this.link.start()
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

  /** Rejects pending sends at once (ConnectionClosed), then cancels the consumers politely. */
  protected async release(): Promise<void> {
    this.publisher.close(new ConnectionClosed())
    await this.consumers.cancelAll()
  }

  /** Runs on every new connection before it is announced: queues, then bindings, then consumers. */
  protected async restore(model: ChannelModel): Promise<void> {
    await this.queues.restore(model, err => this.report(err))
    await this.consumers.restore(model, err => this.report(err))
  }

  /** A broker operation, retried on the next connection when this one fails under it. */
  private withModel<T>(what: string, op: (model: ChannelModel) => Promise<T>): Promise<T> {
    return this.onLiveConnection(what, isConnectionLoss, op)
  }
}

export const amqp091Adapter: Adapter = {
  name: 'amqp-0-9-1',
  provides: ['amqp-0-9-1', 'rabbitmq', 'rabbit', 'amqp'],
  connect(url: BrokerUrl, options?: ConnectOptions): Connection {
    return new Amqp091Connection(url, options)
  },
}
