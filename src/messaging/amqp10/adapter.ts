// The AMQP 1.0 adapter (rhea 3.x): the Connection contract of ../adapter.ts on top of the
// reconnecting Link10 (its lifecycle and events in ../linked-connection.ts), cached sender links,
// one receiver link per subscription, and queue management by broker (topology.ts). Selected by
// the URL prefixes amqp-1-0+, proton+, qpid+, rhea+.
import type { Connection as RheaConnection } from 'rhea'
import { ConnectionClosed, ConnectionError, GoferError, InvalidArgument, NotFound } from '../../errors.js'
import { logger } from '../../log.js'
import type {
  Adapter, ConnectOptions, Connection, ConsumeOptions, MessageHandler, QueueSpec, ReplyEndpoint, SendOptions, Subscription,
} from '../adapter.js'
import { ConsumerSet } from '../consumer-set.js'
import { LinkedConnection } from '../linked-connection.js'
import type { BrokerUrl } from '../url.js'
import { isLinkLost } from './attach.js'
import { encodeMessage } from './codec.js'
import { Link10 } from './connection.js'
import { Consumer10, DEFAULT_PREFETCH, type ConsumerHost10 } from './consumer.js'
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_SEND_TIMEOUT_MS } from './dial.js'
import { dialectOf, type Dialect } from './dialect.js'
import { Outbox, type OutboxHost } from './outbox.js'
import { SenderPool } from './sender.js'
import { brokerModel, type BrokerModel } from './topology.js'

const log = logger('gofer.messaging')

export class Amqp10Connection extends LinkedConnection<RheaConnection> implements Connection {
  private readonly consumers = new ConsumerSet<RheaConnection, Consumer10>(isLinkLost)
  private readonly senders = new SenderPool()
  private readonly outbox: Outbox
  /** Declared queue specs, re-declared before consumers re-attach after a reconnect. */
  private readonly specs = new Map<string, QueueSpec>()
  /** Queues known to exist on the current connection (checked before the first send to each). */
  private readonly known = new Set<string>()
  private dialect: Dialect | null = null
  /** The broker refused a dynamic receiver once: do not ask again. */
  private dynamicRefused = false
  private model: BrokerModel | null = null

  constructor(url: BrokerUrl, private readonly options: ConnectOptions = {}) {
    super(url, {
      sendTimeoutMs: options.sendTimeout ?? DEFAULT_SEND_TIMEOUT_MS,
      connectTimeoutMs: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    }, restore => new Link10(url, options, restore))
    const host: OutboxHost = {
      link: this.link,
      sendTimeoutMs: this.sendTimeoutMs,
      dialect: () => this.dialect,
      known: queue => this.known.has(queue),
      mustExist: (queue, address) => this.mustExist(queue, address),
      checkOpen: () => this.checkOpen(),
      closedUnder: () => (this.closing ? this.closedUnder() : null),
    }
    this.outbox = new Outbox(host, this.senders)
    this.link.start()
  }

  /** Which broker family the connection found ('rabbitmq-v1' or 'plain'); null before connecting. */
  get brokerDialect(): string | null {
    return this.dialect?.name ?? null
  }

  async send(address: string, body: Buffer, options?: SendOptions): Promise<void> {
    this.checkOpen()
    if (!Buffer.isBuffer(body)) throw new InvalidArgument(`send to "${address}": the body must be a Buffer`)
    return this.outbox.send(address, encodeMessage(body, options), Date.now() + this.sendTimeoutMs, options?.batch === true)
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    const model = await this.brokerModel(`declare queue "${spec.name}"`)
    await model.declare(spec)
    this.specs.delete(spec.name)
    this.specs.set(spec.name, { ...spec })
    this.known.add(spec.name)
  }

  async deleteQueue(name: string): Promise<void> {
    this.checkOpen()
    this.specs.delete(name)
    this.known.delete(name)
    // Detach our own receivers first: RabbitMQ 3.10 crashes the session of a 1.0 receiver whose
    // queue is deleted and then closes the whole connection (brokers.md §4.4).
    await Promise.all(this.consumers.forQueue(name).map(c => c.endQuietly()))
    const model = await this.brokerModel(`delete queue "${name}"`)
    await model.delete(name)
  }

  async queueExists(name: string): Promise<boolean> {
    const model = await this.brokerModel(`check queue "${name}"`)
    return model.exists(name)
  }

  consume(queue: string, handler: MessageHandler, options: ConsumeOptions = {}): Promise<Subscription> {
    return this.subscribe(new Consumer10(queue, handler, options.prefetch ?? DEFAULT_PREFETCH, this.consumerHost()))
  }

  /**
   * A dynamic reply receiver where the broker has them (the Proton brokers, qpidd, the dispatch
   * router, Artemis); null on RabbitMQ 3.10, which ends the session with amqp:not-implemented.
   * Found out by trying once per connection object, on the attempt's own session.
   */
  async replyEndpoint(handler: MessageHandler, options: ConsumeOptions = {}): Promise<ReplyEndpoint | null> {
    if (this.dynamicRefused) return null
    const consumer = new Consumer10('(dynamic reply node)', handler, options.prefetch ?? 1000, this.consumerHost(), true)
    try {
      await this.subscribe(consumer)
    } catch (err) {
      if (!(err instanceof GoferError) || err instanceof ConnectionClosed) throw err
      this.dynamicRefused = true
      log.debug({ err: err.message }, 'no dynamic receivers on this broker; using a named reply queue')
      return null
    }
    return {
      get address() {
        return consumer.address
      },
      get queue() {
        return consumer.address
      },
      cancel: () => consumer.cancel(),
    }
  }

  private consumerHost(): ConsumerHost10 {
    return {
      current: () => this.link.current(),
      source: q => this.dialect!.source(q),
      report: err => this.report(err),
      ended: c => this.consumers.delete(c),
    }
  }

  private async subscribe(consumer: Consumer10): Promise<Subscription> {
    await this.onLiveConnection(`consume "${consumer.queue}"`, isLinkLost, conn => consumer.start(conn))
    // Only now: a restore running before this point must not attach it a second time.
    this.consumers.add(consumer)
    return consumer
  }

  /** Rejects pending sends at once (ConnectionClosed), then detaches the consumers politely. */
  protected async release(): Promise<void> {
    this.senders.close(new ConnectionClosed())
    await this.consumers.cancelAll()
  }

  /** The broker's management connection (topology.ts), if it has one. */
  protected override async releaseAfterLink(): Promise<void> {
    await this.model?.close()
  }

  /** Every fresh connection: pick the dialect, re-declare queues, then re-attach consumers. */
  protected async restore(conn: RheaConnection): Promise<void> {
    this.senders.reset(conn)
    this.known.clear()
    const dialect = dialectOf(conn)
    if (this.dialect?.name !== dialect.name) {
      if (this.dialect) log.warn({ from: this.dialect.name, to: dialect.name }, 'the broker behind the URL changed')
      this.dialect = dialect
      this.dynamicRefused = false
      const old = this.model
      this.model = brokerModel(dialect.name, this.url, this.options)
      void old?.close()
    }
    for (const spec of [...this.specs.values()]) {
      try {
        await this.model!.declare(spec)
      } catch (err) {
        if (err instanceof ConnectionClosed) throw err
        log.error({ queue: spec.name, err: (err as Error).message }, 'cannot re-declare queue after reconnect')
        this.report(err as Error)
      }
    }
    await this.consumers.restore(conn, err => this.report(err))
  }

  /** The queue management for the broker (known once connected). */
  private async brokerModel(what: string): Promise<BrokerModel> {
    this.checkOpen()
    if (!this.model) {
      try {
        await this.link.whenUp(this.sendTimeoutMs)
      } catch (err) {
        throw this.closing ? new ConnectionClosed() : new ConnectionError(`cannot ${what}: ${(err as Error).message}`, { cause: err })
      }
    }
    this.checkOpen()
    return this.model!
  }

  /**
   * RabbitMQ drops messages sent to a missing queue's `/amq/queue/` address without telling
   * us, so check once per queue and connection. A queue deleted later is not noticed until
   * the next reconnect (documented limitation).
   */
  private async mustExist(queue: string, address: string): Promise<void> {
    if (this.known.has(queue)) return
    const model = await this.brokerModel(`send to "${address}"`)
    if (!(await model.exists(queue))) throw new NotFound(address, `no queue '${queue}'`)
    this.known.add(queue)
  }

  /**
   * A send that close() interrupted rejects ConnectionClosed once close() has finished, so a
   * caller that awaits close() first still sees the rejection as handled.
   */
  private async closedUnder(): Promise<never> {
    await this.closing?.catch(() => undefined)
    throw new ConnectionClosed()
  }
}

export const amqp10Adapter: Adapter = {
  name: 'amqp-1-0',
  provides: ['amqp-1-0', 'proton', 'qpid', 'rhea'],
  connect(url: BrokerUrl, options?: ConnectOptions): Connection {
    return new Amqp10Connection(url, options)
  },
}
