// Queue management (declare, delete, exists) for the AMQP 1.0 adapter.
//
// AMQP 1.0 has no queue management of its own. Python gofer's proton adapter uses QMF (qpidd's
// management protocol) for it, which RabbitMQ does not have. RabbitMQ 3.10's 1.0 plugin can only
// declare a queue as a side effect of attaching to `/queue/NAME` (no auto-delete, no x-expires, no
// exclusive, and durability from the terminus), and cannot check or delete one (brokers.md §4).
// So on RabbitMQ we do what the broker itself offers for this: its native management protocol,
// AMQP 0-9-1, on the same port with the same credentials, through our 0-9-1 adapter (a second,
// lazily opened, reconnecting connection that carries no messages). That gives the 1.0 adapter
// the exact QueueSpec semantics of the 0-9-1 one: durable, auto-delete, x-expires, the binding
// for `exchange/queue`, delete for managed=2, and passive checks without side effects (a receiver
// attach would register a consumer, and detaching it deletes an auto-delete queue).
//
// On any other broker (the Proton example brokers, which create queues on first use and have no
// management at all) declare and delete are logged no-ops and every queue "exists".
import { ConnectionClosed } from '../../errors.js'
import { logger } from '../../log.js'
import type { ConnectOptions, Connection, QueueSpec } from '../adapter.js'
import { amqp091Adapter } from '../amqp091/adapter.js'
import type { BrokerUrl } from '../url.js'
import type { DialectName } from './dialect.js'

const log = logger('gofer.messaging')

export interface BrokerModel {
  readonly kind: 'amqp-0-9-1' | 'none'
  declare(spec: QueueSpec): Promise<void>
  delete(name: string): Promise<void>
  exists(name: string): Promise<boolean>
  close(): Promise<void>
}

/** RabbitMQ: queue management over AMQP 0-9-1 on the broker's own port. */
class RabbitModel implements BrokerModel {
  readonly kind = 'amqp-0-9-1' as const
  private conn: Connection | null = null
  private closed = false

  constructor(private readonly url: BrokerUrl, private readonly options: ConnectOptions) {}

  private connection(): Connection {
    if (this.closed) throw new ConnectionClosed()
    if (!this.conn) {
      const url: BrokerUrl = { ...this.url, adapter: 'amqp-0-9-1', key: `management:${this.url.key}` }
      // Its own reconnect and error handling; errors here only concern management calls.
      this.conn = amqp091Adapter.connect(url, this.options)
      this.conn.on('error', err => log.warn({ err: err.message }, 'queue management connection error'))
    }
    return this.conn
  }

  declare(spec: QueueSpec): Promise<void> {
    // An exclusive queue would belong to this management connection, and the 1.0 consumer
    // (another connection) would be refused with resource-locked: auto-delete is the closest
    // thing that still cleans up after us.
    const mapped = spec.exclusive ? { ...spec, exclusive: false, autoDelete: true } : spec
    return this.connection().declareQueue(mapped)
  }

  delete(name: string): Promise<void> {
    return this.connection().deleteQueue(name)
  }

  exists(name: string): Promise<boolean> {
    return this.connection().queueExists(name)
  }

  async close(): Promise<void> {
    this.closed = true
    await this.conn?.close()
  }
}

/** A broker with no management we can use: queues come into being on first use. */
class NoModel implements BrokerModel {
  readonly kind = 'none' as const
  private warned = false

  async declare(spec: QueueSpec): Promise<void> {
    log.debug({ queue: spec.name }, 'declare: this broker creates queues on first use; nothing to do')
  }

  async delete(name: string): Promise<void> {
    if (!this.warned) {
      this.warned = true
      log.warn({ queue: name }, 'this AMQP 1.0 broker offers no queue management: queues cannot be deleted (ignored)')
    }
  }

  async exists(): Promise<boolean> {
    return true
  }

  async close(): Promise<void> {}
}

export function brokerModel(dialect: DialectName, url: BrokerUrl, options: ConnectOptions): BrokerModel {
  return dialect === 'rabbitmq-v1' ? new RabbitModel(url, options) : new NoModel()
}
