// The adapter contract suite: the behaviour the RMI layer relies on, run unchanged against every
// messaging adapter (memory in unit tests, amqp-0-9-1 and amqp-1-0 against a broker).
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { ConnectionClosed, NotFound } from '../../src/errors.js'
import type { ConnectOptions, Connection, Delivery, MessageHandler, QueueSpec } from '../../src/messaging/adapter.js'
import { acquireConnection, type ConnectionLease } from '../../src/messaging/registry.js'

/**
 * What a broker can do. A broker that lacks a feature (the Proton example brokers have no TTL,
 * no requeue, no management) is not skipped: the cases assert the documented limitation
 * instead, so a change in behaviour is noticed either way. Everything defaults to true.
 */
export interface Capabilities {
  /** Message TTL is enforced (an expired message is never delivered). */
  ttl: boolean
  /** reject(requeue=true), cancel and close give unsettled messages back, marked redelivered. */
  requeue: boolean
  /** Missing queues are reported: send and consume reject NotFound, queueExists is false. */
  notFound: boolean
  /** deleteQueue removes the queue. */
  deleteQueue: boolean
  /** Queues can be bound to amq.direct and `exchange/queue` addresses route through it. */
  exchanges: boolean
  /** A send to an existing exchange with no queue bound for its key rejects NotFound. */
  unroutable: boolean
}

export interface ContractOptions {
  /** Skip the whole suite (e.g. no broker reachable), with this reason. */
  skip?: string | false
  connect?: ConnectOptions
  /** What the broker lacks; see Capabilities. */
  capabilities?: Partial<Capabilities>
}

/** A unique queue name per test, so that runs and tests never see each other's messages. */
export function uniqueQueue(): string {
  return `test.${randomUUID().slice(0, 12)}`
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/** Collects deliveries; next() waits for the next one, quiet() asserts none arrives. */
export class Inbox {
  readonly received: Delivery[] = []
  private taken = 0
  private wake: (() => void) | null = null

  /** The handler to pass to consume(); `auto` acks every delivery. */
  handler(auto: 'ack' | 'none' = 'none'): MessageHandler {
    return delivery => {
      this.received.push(delivery)
      if (auto === 'ack') delivery.ack()
      this.wake?.()
    }
  }

  async next(timeoutMs = 3000): Promise<Delivery> {
    const deadline = Date.now() + timeoutMs
    while (this.received.length <= this.taken) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no delivery within ${timeoutMs} ms (got ${this.received.length})`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = null
    }
    return this.received[this.taken++]!
  }

  async quiet(ms: number): Promise<void> {
    const before = this.received.length
    await sleep(ms)
    assert.equal(this.received.length, before, `expected no delivery within ${ms} ms`)
  }
}

/** Resolves with how a promise settled, failing the test if it takes longer than `ms`. */
export async function settleWithin<T>(p: Promise<T>, ms: number): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([Promise.allSettled([p]).then(r => r[0]!), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Register the contract tests for one adapter; `makeUrl` gives the broker URL. */
export function adapterContract(name: string, makeUrl: () => string, options: ContractOptions = {}): void {
  const connectOptions: ConnectOptions = { connectTimeout: 5000, sendTimeout: 5000, ...options.connect }
  const can: Capabilities = {
    ttl: true, requeue: true, notFound: true, deleteQueue: true, exchanges: true, unroutable: true, ...options.capabilities,
  }
  const lacks = Object.entries(can).filter(([, v]) => !v).map(([k]) => k)
  const title = lacks.length > 0 ? ` (lacks: ${lacks.join(', ')})` : ''

  describe(`adapter contract: ${name}${title}`, { skip: options.skip ?? false }, () => {
    let lease: ConnectionLease
    let conn: Connection
    let queues: string[]

    /** Declare a fresh queue that afterEach deletes. */
    async function queue(spec: Partial<QueueSpec> = {}): Promise<string> {
      const q = spec.name ?? uniqueQueue()
      queues.push(q)
      await conn.declareQueue({ ...spec, name: q })
      return q
    }

    beforeEach(async () => {
      queues = []
      lease = acquireConnection(makeUrl(), connectOptions)
      conn = lease.connection
      await conn.ready()
    })

    afterEach(async () => {
      // Release first: a test may have closed its connection, and the pool must drop it before
      // the cleanup lease asks for one.
      await lease.release()
      if (queues.length === 0) return
      const cleanup = acquireConnection(makeUrl(), connectOptions)
      try {
        for (const q of queues) await cleanup.connection.deleteQueue(q).catch(() => undefined)
      } finally {
        await cleanup.release()
      }
    })

    it('connects: ready() resolves and the URL is kept', async () => {
      await conn.ready()
      assert.equal(conn.url.input, makeUrl())
    })

    it('declares, binds, checks and deletes queues', async () => {
      const q = await queue()
      assert.equal(await conn.queueExists(q), true)
      await conn.declareQueue({ name: q }) // re-declaring the same spec is fine
      if (can.exchanges) {
        const bound = await queue({ exchange: 'amq.direct', durable: false })
        const inbox = new Inbox()
        await conn.consume(bound, inbox.handler('ack'))
        await conn.send(`amq.direct/${bound}`, Buffer.from('via exchange'))
        assert.equal((await inbox.next()).body.toString(), 'via exchange')
      }
      await conn.deleteQueue(q)
      // Without management the queue stays (and a broker that creates queues on use has them all).
      assert.equal(await conn.queueExists(q), !can.deleteQueue)
      await conn.deleteQueue(q) // deleting a missing queue is not an error
      assert.equal(await conn.queueExists(uniqueQueue()), !can.notFound)
    })

    it('round-trips arbitrary bytes', async () => {
      const q = await queue()
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'))
      const bodies = [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(100_000), Buffer.alloc(0)]
      for (const body of bodies) await conn.send(q, body)
      for (const body of bodies) assert.deepEqual((await inbox.next()).body, body)
    })

    it('preserves UTF-8 JSON bodies, order, and reports first deliveries as not redelivered', async () => {
      const q = await queue()
      const docs = Array.from({ length: 20 }, (_, i) => JSON.stringify({ sn: randomUUID(), i, text: 'héllo wörld ☃ 𝄞' }))
      await Promise.all(docs.map(d => conn.send(q, Buffer.from(d, 'utf8'))))
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'))
      const got: string[] = []
      for (let i = 0; i < docs.length; i++) {
        const d = await inbox.next()
        assert.equal(d.redelivered, false)
        got.push(d.body.toString('utf8'))
      }
      // Concurrent sends may be published in any order; each arrives intact and exactly once.
      assert.deepEqual([...got].sort(), [...docs].sort())
      const ordered = await queue()
      for (const d of docs) await conn.send(ordered, Buffer.from(d))
      const inbox2 = new Inbox()
      await conn.consume(ordered, inbox2.handler('ack'))
      for (const d of docs) assert.equal((await inbox2.next()).body.toString(), d)
    })

    it('ack removes the message', async () => {
      const q = await queue()
      await conn.send(q, Buffer.from('once'))
      const first = new Inbox()
      const sub = await conn.consume(q, first.handler('ack'))
      assert.equal((await first.next()).body.toString(), 'once')
      await sub.cancel()
      const second = new Inbox()
      await conn.consume(q, second.handler('ack'))
      await second.quiet(300)
    })

    it('reject(requeue=true) redelivers with redelivered=true', async () => {
      const q = await queue()
      await conn.send(q, Buffer.from('again'))
      const inbox = new Inbox()
      let rejected = false
      await conn.consume(q, d => {
        if (!rejected) {
          rejected = true
          d.reject(true)
        } else d.ack()
        inbox.handler()(d)
      })
      const first = await inbox.next()
      assert.equal(first.redelivered, false)
      if (!can.requeue) {
        // Limitation: the broker forgets a message once it is settled in any way.
        await inbox.quiet(300)
        return
      }
      const second = await inbox.next()
      assert.equal(second.body.toString(), 'again')
      assert.equal(second.redelivered, true)
    })

    it('reject(requeue=false) drops the message', async () => {
      const q = await queue()
      await conn.send(q, Buffer.from('drop me'))
      const inbox = new Inbox()
      const sub = await conn.consume(q, d => {
        d.reject(false)
        inbox.handler()(d)
      })
      await inbox.next()
      await inbox.quiet(300)
      await sub.cancel()
      const after = new Inbox()
      await conn.consume(q, after.handler('ack'))
      await after.quiet(300)
    })

    it('settling twice, or after cancel, does not throw', async () => {
      const q = await queue()
      await conn.send(q, Buffer.from('x'))
      const inbox = new Inbox()
      const sub = await conn.consume(q, inbox.handler())
      const d = await inbox.next()
      await sub.cancel()
      d.ack()
      d.ack()
      d.reject(true)
    })

    it('a throwing handler crashes nothing and later messages still arrive', async () => {
      const q = await queue()
      const inbox = new Inbox()
      let calls = 0
      await conn.consume(q, d => {
        calls++
        if (calls === 1) throw new Error('handler bug')
        d.ack()
        inbox.handler()(d)
      })
      await conn.send(q, Buffer.from('boom'))
      await conn.send(q, Buffer.from('fine'))
      assert.equal((await inbox.next()).body.toString(), 'fine')
    })

    it('drops a message whose TTL expired before anyone consumed it', async () => {
      const q = await queue()
      await conn.send(q, Buffer.from('short-lived'), { ttl: 100 })
      await sleep(400)
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'))
      if (can.ttl) await inbox.quiet(300)
      // Limitation: the broker ignores the TTL and delivers the stale message.
      else assert.equal((await inbox.next()).body.toString(), 'short-lived')
    })

    it('delivers a message with a TTL that has not expired', async () => {
      const q = await queue()
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'))
      await conn.send(q, Buffer.from('fresh'), { ttl: 60_000, durable: false })
      assert.equal((await inbox.next()).body.toString(), 'fresh')
    })

    it('send to a missing queue rejects NotFound', async () => {
      const q = uniqueQueue()
      queues.push(q)
      if (!can.notFound) {
        // Limitation: the broker creates the queue on first use, so the send succeeds.
        await conn.send(q, Buffer.from('nobody'))
        return
      }
      const err = await conn.send(q, Buffer.from('nobody')).then(() => null, (e: unknown) => e)
      assert.ok(err instanceof NotFound, `expected NotFound, got ${String(err)}`)
      assert.equal(err.code, 'NOT_FOUND')
      assert.equal(err.address, q)
    })

    it('send to amq.direct with an unbound key rejects NotFound', async () => {
      const address = `amq.direct/${uniqueQueue()}`
      // Limitation: the broker accepts the message and drops it without telling the sender.
      if (!can.unroutable) return void (await conn.send(address, Buffer.from('nobody')))
      await assert.rejects(conn.send(address, Buffer.from('nobody')), (e: unknown) => e instanceof NotFound && e.address === address)
    })

    it('many concurrent sends are all confirmed and delivered', async () => {
      const q = await queue({ durable: false })
      const n = 300
      await Promise.all(Array.from({ length: n }, (_, i) => conn.send(q, Buffer.from(String(i)))))
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'))
      const seen = new Set<string>()
      for (let i = 0; i < n; i++) seen.add((await inbox.next()).body.toString())
      assert.equal(seen.size, n)
    })

    it('prefetch limits unacked deliveries', async () => {
      const q = await queue()
      for (let i = 0; i < 5; i++) await conn.send(q, Buffer.from(String(i)))
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('none'), { prefetch: 2 })
      await inbox.next()
      await inbox.next()
      await inbox.quiet(300)
      assert.equal(inbox.received.length, 2)
      inbox.received[0]!.ack()
      await inbox.next()
      await inbox.quiet(200)
      assert.equal(inbox.received.length, 3)
    })

    it('cancel stops deliveries and gives unacked messages back', async () => {
      const q = await queue()
      const inbox = new Inbox()
      const sub = await conn.consume(q, inbox.handler('none'))
      assert.equal(sub.queue, q)
      await conn.send(q, Buffer.from('held'))
      await inbox.next()
      await sub.cancel()
      await sub.cancel() // idempotent
      await conn.send(q, Buffer.from('later'))
      await inbox.quiet(200)
      const again = new Inbox()
      await conn.consume(q, again.handler('ack'))
      if (!can.requeue) {
        // Limitation: the unsettled message went with the cancelled link; only the later one is left.
        assert.equal((await again.next()).body.toString(), 'later')
        await again.quiet(300)
        return
      }
      const bodies = [(await again.next()), (await again.next())]
      const held = bodies.find(d => d.body.toString() === 'held')
      assert.ok(held, 'the unacked message came back')
      assert.equal(held.redelivered, true)
    })

    it('consume on a missing queue rejects NotFound', async () => {
      const q = uniqueQueue()
      queues.push(q)
      if (!can.notFound) {
        // Limitation: the broker creates the queue on first use, so the subscription starts.
        await (await conn.consume(q, () => undefined)).cancel()
        return
      }
      await assert.rejects(conn.consume(q, () => undefined), (e: unknown) => e instanceof NotFound && e.code === 'NOT_FOUND')
      // The connection is still usable afterwards.
      const ok = await queue()
      await conn.send(ok, Buffer.from('still fine'))
    })

    it('a per-process reply queue (non-durable, expiring) carries replies', async () => {
      const q = await queue({ durable: false, autoDelete: false, expires: 60_000 })
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'), { prefetch: 1000 })
      await Promise.all(['r1', 'r2', 'r3'].map(r => conn.send(q, Buffer.from(r), { durable: false })))
      const got = [(await inbox.next()), (await inbox.next()), (await inbox.next())].map(d => d.body.toString())
      assert.deepEqual(got.sort(), ['r1', 'r2', 'r3'])
    })

    it('reconnects after the connection drops: consumers resume and sends work again', async () => {
      const drop = (conn as unknown as { _dropForTest?: () => void })._dropForTest
      const q = await queue({ durable: false })
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('ack'))
      await conn.send(q, Buffer.from('before'))
      assert.equal((await inbox.next()).body.toString(), 'before')
      if (typeof drop !== 'function') {
        // Only the in-process adapter has no network connection that could be lost.
        assert.equal(conn.url.adapter, 'memory', 'a networked adapter must offer _dropForTest')
        return
      }
      const next = (event: 'connected' | 'disconnected') => new Promise<void>(resolve => {
        const on = (): void => {
          conn.off(event, on)
          resolve()
        }
        conn.on(event, on)
      })
      const down = next('disconnected')
      const up = next('connected')
      drop.call(conn)
      await settleWithin(down, 10_000)
      // Issued while reconnecting: waits for the new connection, then goes through.
      await conn.send(q, Buffer.from('during'))
      await settleWithin(up, 10_000)
      await conn.send(q, Buffer.from('after'))
      const bodies: string[] = []
      while (!bodies.includes('after')) {
        const d = await inbox.next(10_000)
        // An ack still batched at the drop never reached the broker: that copy comes back, marked.
        if (d.body.toString() === 'before') assert.equal(d.redelivered, true)
        else bodies.push(d.body.toString())
      }
      assert.deepEqual(bodies, ['during', 'after'])
    })

    it('close with a pending send never hangs (resolves or ConnectionClosed)', async () => {
      const q = await queue()
      const pending = conn.send(q, Buffer.from('in flight'))
      await conn.close()
      const outcome = await settleWithin(pending, 3000)
      if (outcome.status === 'rejected') {
        assert.ok(outcome.reason instanceof ConnectionClosed, `expected ConnectionClosed, got ${String(outcome.reason)}`)
      }
    })

    it('after close: send, declare and consume reject ConnectionClosed; close is idempotent', async () => {
      const q = await queue()
      await conn.close()
      await conn.close()
      await assert.rejects(conn.send(q, Buffer.from('late')), ConnectionClosed)
      await assert.rejects(conn.declareQueue({ name: uniqueQueue() }), ConnectionClosed)
      await assert.rejects(conn.consume(q, () => undefined), ConnectionClosed)
      await assert.rejects(conn.ready(), ConnectionClosed)
    })

    it('close ends subscriptions: their unacked messages go back to the queue', async () => {
      const q = await queue()
      const inbox = new Inbox()
      await conn.consume(q, inbox.handler('none'))
      await conn.send(q, Buffer.from('unfinished'))
      const d = await inbox.next()
      await conn.close()
      d.ack() // too late: a no-op, not a throw
      await lease.release() // so that the pool hands out a fresh connection
      const other = acquireConnection(makeUrl(), connectOptions)
      try {
        const again = new Inbox()
        await other.connection.consume(q, again.handler('ack'))
        if (!can.requeue) {
          // Limitation: the unsettled message is gone with the closed connection.
          await again.quiet(300)
          return
        }
        const back = await again.next()
        assert.equal(back.body.toString(), 'unfinished')
        assert.equal(back.redelivered, true)
      } finally {
        await other.release()
      }
    })
  })
}
