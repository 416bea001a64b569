// The in-process adapter: a tiny broker inside this process, with the same semantics the RMI
// layer relies on (routing by address, mandatory publish, TTL, prefetch, ack/requeue, unacked
// messages requeued when a connection closes). For unit tests and the zero-setup demo; never
// evidence of broker behaviour.
import { EventEmitter } from 'node:events'
import { ConnectionClosed, NotFound } from '../errors.js'
import type {
  Adapter, ConnectOptions, Connection, ConsumeOptions, Delivery, MessageHandler, QueueSpec, SendOptions, Subscription,
} from './adapter.js'
import { splitAddress } from './adapter.js'
import type { BrokerUrl } from './url.js'

interface Stored {
  body: Buffer
  expiresAt: number | null
  redelivered: boolean
}

interface Consumer {
  queue: MemoryQueue
  handler: MessageHandler
  prefetch: number
  unacked: number
  owner: MemoryConnection
  active: boolean
  inflight: Set<Stored>
}

class MemoryQueue {
  readonly messages: Stored[] = []
  readonly consumers: Consumer[] = []
  private next = 0
  private scheduled = false
  constructor(readonly spec: QueueSpec, private readonly broker: MemoryBroker) {}

  push(message: Stored, atHead = false): void {
    if (atHead) this.messages.unshift(message)
    else this.messages.push(message)
    this.schedule()
  }

  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.dispatch()
    })
  }

  private dispatch(): void {
    const now = Date.now()
    while (this.messages.length > 0) {
      const head = this.messages[0]!
      if (head.expiresAt !== null && head.expiresAt <= now) {
        this.messages.shift()
        continue
      }
      const consumer = this.pickConsumer()
      if (!consumer) return
      this.messages.shift()
      this.deliver(consumer, head)
    }
  }

  private pickConsumer(): Consumer | null {
    const n = this.consumers.length
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.next + i) % n]!
      if (c.active && c.unacked < c.prefetch) {
        this.next = (this.next + i + 1) % n
        return c
      }
    }
    return null
  }

  private deliver(consumer: Consumer, message: Stored): void {
    consumer.unacked++
    consumer.inflight.add(message)
    let settled = false
    const settle = (): boolean => {
      if (settled || !consumer.inflight.has(message)) return false
      settled = true
      consumer.inflight.delete(message)
      consumer.unacked--
      return true
    }
    const delivery: Delivery = {
      body: message.body,
      redelivered: message.redelivered,
      ack: () => {
        if (settle()) this.schedule()
      },
      reject: (requeue: boolean) => {
        if (!settle()) return
        if (requeue && this.broker.queues.get(this.spec.name) === this) {
          this.push({ ...message, redelivered: true }, true)
        } else this.schedule()
      },
    }
    try {
      consumer.handler(delivery)
    } catch {
      // A throwing handler must not take the broker down; the message stays unacked.
    }
  }

  /** Called when a consumer goes away: its unacked messages return to the queue. */
  release(consumer: Consumer): void {
    consumer.active = false
    const index = this.consumers.indexOf(consumer)
    if (index >= 0) this.consumers.splice(index, 1)
    const back = [...consumer.inflight].map(m => ({ ...m, redelivered: true }))
    consumer.inflight.clear()
    consumer.unacked = 0
    this.messages.unshift(...back)
    // Only if still the live queue: a deleted and re-declared namesake must not be removed.
    if (this.consumers.length === 0 && this.spec.autoDelete) {
      if (this.broker.queues.get(this.spec.name) === this) this.broker.queues.delete(this.spec.name)
    } else this.schedule()
  }
}

class MemoryBroker {
  readonly queues = new Map<string, MemoryQueue>()
  /** exchange -> routing key -> queue names. The default exchange is implicit. */
  readonly bindings = new Map<string, Map<string, Set<string>>>([['amq.direct', new Map()]])

  route(address: string): MemoryQueue[] {
    const { exchange, key } = splitAddress(address)
    if (exchange === '') {
      const q = this.queues.get(key)
      return q ? [q] : []
    }
    const names = this.bindings.get(exchange)?.get(key)
    if (!names) return []
    return [...names].map(n => this.queues.get(n)).filter((q): q is MemoryQueue => q !== undefined)
  }
}

const brokers = new Map<string, MemoryBroker>()

/** The broker shared by every memory connection to the same host (and vhost) in this process. */
function brokerFor(url: BrokerUrl): MemoryBroker {
  const id = `${url.host}/${url.vhost ?? ''}`
  let broker = brokers.get(id)
  if (!broker) {
    broker = new MemoryBroker()
    brokers.set(id, broker)
  }
  return broker
}

class MemoryConnection extends EventEmitter implements Connection {
  private closed = false
  private readonly consumers = new Set<Consumer>()
  private readonly broker: MemoryBroker
  constructor(readonly url: BrokerUrl) {
    super()
    this.broker = brokerFor(url)
    setImmediate(() => this.emit('connected'))
  }

  async ready(): Promise<void> {
    this.check()
  }

  private check(): void {
    if (this.closed) throw new ConnectionClosed()
  }

  async send(address: string, body: Buffer, options: SendOptions = {}): Promise<void> {
    this.check()
    const targets = this.broker.route(address)
    if (targets.length === 0) throw new NotFound(address, 'no queue bound (memory broker)')
    const expiresAt = options.ttl ? Date.now() + options.ttl : null
    for (const q of targets) q.push({ body, expiresAt, redelivered: false })
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    this.check()
    if (!this.broker.queues.has(spec.name)) this.broker.queues.set(spec.name, new MemoryQueue(spec, this.broker))
    if (spec.exchange) {
      const keys = this.broker.bindings.get(spec.exchange)
      if (!keys) throw new NotFound(spec.exchange, 'no such exchange (memory broker)')
      let names = keys.get(spec.name)
      if (!names) keys.set(spec.name, (names = new Set()))
      names.add(spec.name)
    }
  }

  async deleteQueue(name: string): Promise<void> {
    this.check()
    const q = this.broker.queues.get(name)
    if (!q) return
    this.broker.queues.delete(name)
    for (const keys of this.broker.bindings.values()) for (const names of keys.values()) names.delete(name)
    for (const c of [...q.consumers]) {
      c.active = false
      c.inflight.clear()
    }
    q.consumers.length = 0
  }

  async queueExists(name: string): Promise<boolean> {
    this.check()
    return this.broker.queues.has(name)
  }

  async consume(queue: string, handler: MessageHandler, options: ConsumeOptions = {}): Promise<Subscription> {
    this.check()
    const q = this.broker.queues.get(queue)
    if (!q) throw new NotFound(queue, 'no such queue (memory broker)')
    const consumer: Consumer = {
      queue: q, handler, prefetch: options.prefetch ?? 100, unacked: 0, owner: this, active: true, inflight: new Set(),
    }
    q.consumers.push(consumer)
    this.consumers.add(consumer)
    q.schedule()
    return {
      queue,
      cancel: async () => {
        if (!this.consumers.delete(consumer)) return
        q.release(consumer)
      },
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const c of this.consumers) c.queue.release(c)
    this.consumers.clear()
    this.emit('disconnected')
  }
}

export const memoryAdapter: Adapter = {
  name: 'memory',
  provides: ['memory', 'in-memory'],
  connect(url: BrokerUrl, _options?: ConnectOptions): Connection {
    return new MemoryConnection(url)
  },
}

/** Forget every in-process broker (tests). */
export function resetMemoryBrokers(): void {
  brokers.clear()
}
