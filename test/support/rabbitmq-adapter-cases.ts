// What the two broker adapters (amqp-0-9-1 and amqp-1-0) share on RabbitMQ beyond the adapter
// contract: cases that need a real network connection (a dead port, a dropped socket) or a raw
// 0-9-1 client to see what reached the broker, so they cannot run on the memory adapter or the
// Proton example brokers the contract also covers. Each adapter's test file calls
// rabbitmqAdapterCases() inside its own describe; its protocol-specific cases stay there.
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import amqp, { type Channel, type ChannelModel } from 'amqplib'
import { ConnectionClosed, ConnectionError } from '../../src/errors.js'
import type { Adapter, ConnectOptions, Connection, QueueSpec } from '../../src/messaging/adapter.js'
import { parseUrl } from '../../src/messaging/url.js'
import { Inbox, settleWithin, sleep, uniqueQueue } from './adapter-contract.js'

/** A connection that can be dropped on purpose, as both broker adapters' can. */
export interface DroppableConnection extends Connection {
  _dropForTest(): void
}

export type Opener<C extends DroppableConnection> = (url?: string, options?: ConnectOptions) => C

/** Opens connections of `adapter` (to `defaultUrl` unless told otherwise) with short test deadlines. */
export function opener<C extends DroppableConnection>(adapter: Adapter, defaultUrl: string): Opener<C> {
  return (url = defaultUrl, options = {}) =>
    adapter.connect(parseUrl(url), { connectTimeout: 5000, sendTimeout: 5000, ...options }) as C
}

/** Resolves on the connection's next `event`; rejects after `timeoutMs`. */
export function nextEvent(conn: Connection, event: 'connected' | 'disconnected', timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const on = (): void => {
      clearTimeout(timer)
      conn.off(event, on)
      resolve()
    }
    const timer = setTimeout(() => {
      conn.off(event, on)
      reject(new Error(`no '${event}' within ${timeoutMs} ms`))
    }, timeoutMs)
    conn.on(event, on)
  })
}

/** A test body run with a fresh connection that is closed afterwards, whatever happens. */
export function withConnection<C extends Connection>(open: () => C, body: (conn: C) => Promise<void>): () => Promise<void> {
  return async () => {
    const conn = open()
    try {
      await body(conn)
    } finally {
      await conn.close()
    }
  }
}

/**
 * A raw amqplib connection to RabbitMQ for the enclosing describe (opened before, closed after),
 * to look at the broker behind the adapter's back, and the queues the tests made, deleted after.
 */
export class RawRabbit {
  private model: ChannelModel | undefined
  private readonly queues: string[] = []

  constructor(url: string) {
    before(async () => {
      this.model = await amqp.connect(url)
      this.model.on('error', () => undefined)
    })
    after(async () => {
      const model = this.model!
      const ch = await model.createChannel()
      for (const q of this.queues) await ch.deleteQueue(q).catch(() => undefined)
      await model.close()
    })
  }

  /** A unique queue name, deleted after the describe. */
  name(): string {
    const q = uniqueQueue()
    this.queues.push(q)
    return q
  }

  /** Declare a fresh queue through `conn` (deleted after the describe). */
  async queue(conn: Connection, spec: Omit<QueueSpec, 'name'> = {}): Promise<string> {
    const q = this.name()
    await conn.declareQueue({ ...spec, name: q })
    return q
  }

  /** Runs `fn` on a raw channel of its own, closed afterwards. */
  async channel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await this.model!.createChannel()
    try {
      return await fn(ch)
    } finally {
      await ch.close().catch(() => undefined)
    }
  }

  /** A raw basic.get (no-ack), to see exactly what went over the wire; asserts there was one. */
  async get(queue: string): Promise<amqp.GetMessage> {
    const msg = await this.channel(ch => ch.get(queue, { noAck: true }))
    assert.ok(msg, `a message in ${queue}`)
    return msg
  }

  /** The queue's message and consumer counts, as the broker has them. */
  check(queue: string): Promise<amqp.Replies.AssertQueue> {
    return this.channel(ch => ch.checkQueue(queue))
  }

  deleteQueue(queue: string): Promise<unknown> {
    return this.channel(ch => ch.deleteQueue(queue))
  }
}

export interface RabbitmqCaseOptions<C extends DroppableConnection> {
  open: Opener<C>
  /** The adapter's URL for a closed loopback port: connecting is refused at once. */
  deadUrl: string
  rabbit: RawRabbit
  /** Also carry an exclusive queue across the reconnect (0-9-1; 1.0 declares none). */
  exclusive: boolean
}

/** Register the shared cases in the enclosing describe. */
export function rabbitmqAdapterCases<C extends DroppableConnection>(options: RabbitmqCaseOptions<C>): void {
  const { open, deadUrl, rabbit } = options
  const withConn = (body: (conn: C) => Promise<void>) => withConnection(() => open(), body)

  it('declares queues with the spec: durability, auto-delete, x-expires and the binding', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false, autoDelete: true, expires: 60_000, exchange: 'amq.direct' })
    // Re-declaring with the same arguments from a raw client succeeds only if they all match.
    await rabbit.channel(ch => ch.assertQueue(q, { durable: false, autoDelete: true, arguments: { 'x-expires': 60_000 } }))
    await conn.send(`amq.direct/${q}`, Buffer.from('bound'))
    assert.equal((await rabbit.get(q)).content.toString(), 'bound')
  }))

  it('reconnects: re-declares queues, resubscribes consumers exactly once, and sends work again', withConn(async conn => {
    await conn.ready()
    const consumed = rabbit.name() // auto-delete: vanishes when its consumer's connection drops
    const exclusive = options.exclusive ? rabbit.name() : null // exclusive: vanishes with the connection
    const removed = rabbit.name() // deleted behind our back; the reconnect must bring it back
    await conn.declareQueue({ name: consumed, durable: false, autoDelete: true })
    if (exclusive) await conn.declareQueue({ name: exclusive, durable: false, exclusive: true })
    await conn.declareQueue({ name: removed, durable: false })
    const inbox = new Inbox()
    await conn.consume(consumed, inbox.handler('ack'), { prefetch: 5 })
    await conn.send(consumed, Buffer.from('before'))
    assert.equal((await inbox.next()).body.toString(), 'before')
    await rabbit.deleteQueue(removed)

    const down = nextEvent(conn, 'disconnected')
    const up = nextEvent(conn, 'connected')
    conn._dropForTest()
    await down
    // Issued while disconnected: waits for the reconnection, then goes through.
    const during = conn.send(consumed, Buffer.from('during'))
    await up
    await during
    assert.equal((await inbox.next()).body.toString(), 'during')
    await conn.send(consumed, Buffer.from('after'))
    assert.equal((await inbox.next()).body.toString(), 'after')
    if (exclusive) {
      assert.equal(await conn.queueExists(exclusive), true)
      await conn.send(exclusive, Buffer.from('x'))
    }
    assert.equal(await conn.queueExists(removed), true)
    await conn.send(removed, Buffer.from('y'))
    // Exactly one consumer: the resubscription did not double up.
    assert.equal((await rabbit.check(consumed)).consumerCount, 1)
  }))

  it('retry=false: a failed first connect rejects ready() and sends with ConnectionError', async () => {
    const conn = open(deadUrl, { retry: false })
    try {
      await assert.rejects(conn.ready(), ConnectionError)
      await assert.rejects(conn.send('q', Buffer.from('x')), ConnectionError)
    } finally {
      await conn.close()
    }
    await assert.rejects(conn.send('q', Buffer.from('x')), ConnectionClosed)
  })

  it('close() during reconnection stops retrying and rejects waiting sends ConnectionClosed', async () => {
    const conn = open(deadUrl, { sendTimeout: 10_000 })
    const pending = conn.send('q', Buffer.from('x'))
    await sleep(200)
    await conn.close()
    const outcome = await settleWithin(pending, 1000)
    assert.equal(outcome.status, 'rejected')
    assert.ok((outcome as PromiseRejectedResult).reason instanceof ConnectionClosed)
  })
}
