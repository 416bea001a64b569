// The AMQP 1.0 adapter's own behaviour, beyond the shared contract and the cases it shares with
// the 0-9-1 adapter on RabbitMQ (support/rabbitmq-adapter-cases.ts): connect options, body
// encoding, the RabbitMQ dialect, what a 0-9-1 consumer sees of our messages and the reverse,
// session isolation (RabbitMQ ends a whole session on any attach error), queue management over
// RabbitMQ's 0-9-1, reconnect edge cases. RabbitMQ 3.10 on AMQP_URL (1.0 on the same port).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import rhea, { type Message } from 'rhea'
import { ConnectionError, NotFound } from '../../src/errors.js'
import { amqp10Adapter, type Amqp10Connection } from '../../src/messaging/amqp10/adapter.js'
import { bodyBytes, encodeMessage, isRedelivered } from '../../src/messaging/amqp10/codec.js'
import { connectOptions } from '../../src/messaging/amqp10/dial.js'
import { adapterFor } from '../../src/messaging/registry.js'
import { parseUrl } from '../../src/messaging/url.js'
import { Inbox, sleep, uniqueQueue } from '../support/adapter-contract.js'
import { AMQP_URL } from '../support/paths.js'
import { nextEvent, opener, RawRabbit, rabbitmqAdapterCases, withConnection } from '../support/rabbitmq-adapter-cases.js'

const URL10 = `amqp-1-0+${AMQP_URL}`
const DEAD_URL = 'amqp-1-0+amqp://guest:guest@127.0.0.1:1'

const open = opener<Amqp10Connection>(amqp10Adapter, URL10)
const withConn = (body: (conn: Amqp10Connection) => Promise<void>) => withConnection(() => open(), body)

describe('amqp-1-0 adapter configuration and codec (no broker needed)', () => {
  it('is selected by its prefixes', () => {
    for (const url of ['amqp-1-0+amqp://h', 'proton+amqps://h', 'qpid+amqp://h', 'rhea+amqp://h']) {
      assert.equal(adapterFor(parseUrl(url)).name, 'amqp-1-0', url)
    }
  })

  it('connects with SASL PLAIN (or ANONYMOUS), Nagle off, a heartbeat, the vhost and no rhea reconnect', () => {
    const plain = connectOptions(parseUrl('amqp-1-0+amqp://elmer:fu%40dd@broker:5000/v%25h'), { heartbeat: 30 }) as unknown as Record<string, unknown>
    assert.equal(plain.host, 'broker')
    assert.equal(plain.port, 5000)
    assert.equal(plain.username, 'elmer')
    assert.equal(plain.password, 'fu@dd')
    assert.equal(plain.hostname, 'vhost:v%h')
    assert.equal(plain.tcp_no_delay, true)
    assert.equal(plain.reconnect, false)
    assert.equal(plain.idle_time_out, 30_000)
    const anonymous = connectOptions(parseUrl('amqp-1-0+amqp://broker')) as unknown as Record<string, unknown>
    assert.equal(anonymous.username, 'anonymous')
    assert.equal(anonymous.password, undefined)
    assert.equal(anonymous.hostname, 'broker')
    assert.equal(anonymous.idle_time_out, 10_000)
    const tls = connectOptions(parseUrl('amqp-1-0+amqps://broker')) as unknown as Record<string, unknown>
    assert.equal(tls.transport, 'tls')
    assert.equal(tls.port, 5671)
  })

  it('sends one data section with durable, ttl and utf-8 content encoding', () => {
    const m = encodeMessage(Buffer.from('{"a": 1}'), { ttl: 1500.2 })
    assert.equal((m.body as { typecode: number }).typecode, 0x75)
    assert.deepEqual((m.body as { content: Buffer }).content, Buffer.from('{"a": 1}'))
    assert.equal(m.durable, true)
    assert.equal(m.ttl, 1501)
    assert.equal(m.content_encoding, 'utf-8')
    assert.equal(encodeMessage(Buffer.alloc(0), { durable: false }).durable, false)
    assert.equal(encodeMessage(Buffer.alloc(0), { ttl: 0 }).ttl, undefined)
  })

  it('reads data sections, amqp-value strings and binaries, and foreign values as JSON', () => {
    const data = rhea.message.data_section(Buffer.from('bytes'))
    assert.equal(bodyBytes({ body: data } as Message).toString(), 'bytes')
    assert.equal(bodyBytes({ body: '{"sn": "python"}' } as Message).toString(), '{"sn": "python"}')
    assert.equal(bodyBytes({ body: Buffer.from('bin') } as Message).toString(), 'bin')
    assert.equal(bodyBytes({ body: { a: 1 } } as Message).toString(), '{"a":1}')
    assert.equal(bodyBytes({} as Message).length, 0)
    assert.equal(isRedelivered({ first_acquirer: true } as Message), false)
    assert.equal(isRedelivered({ first_acquirer: false } as Message), true)
    assert.equal(isRedelivered({ delivery_count: 2 } as Message), true)
    assert.equal(isRedelivered({} as Message), false)
  })
})

describe('amqp-1-0 adapter on RabbitMQ', () => {
  const rabbit = new RawRabbit(AMQP_URL)

  rabbitmqAdapterCases({ open, deadUrl: DEAD_URL, rabbit, exclusive: false })

  /** A fresh non-durable queue that `conn` consumes into the returned inbox, acking. */
  async function consumedQueue(conn: Amqp10Connection, prefetch?: number): Promise<{ q: string; inbox: Inbox }> {
    const q = await rabbit.queue(conn, { durable: false })
    const inbox = new Inbox()
    await conn.consume(q, inbox.handler('ack'), prefetch === undefined ? {} : { prefetch })
    return { q, inbox }
  }

  it('picks the RabbitMQ 3.x dialect and finds no dynamic receivers there', withConn(async conn => {
    await conn.ready()
    assert.equal(conn.brokerDialect, 'rabbitmq-v1')
    assert.equal(await conn.replyEndpoint(() => undefined), null)
    // The refused attempt ended only its own session: the connection works on.
    const q = await rabbit.queue(conn, { durable: false })
    await conn.send(q, Buffer.from('fine'))
  }))

  it('a 0-9-1 consumer reads our messages as gofer\'s: raw body, utf-8, delivery mode, expiration', withConn(async conn => {
    const q = await rabbit.queue(conn)
    const body = '{"sn": "1", "version": "2.0"}'
    await conn.send(q, Buffer.from(body), { ttl: 300_000 })
    await conn.send(q, Buffer.from(body), { durable: false })
    const first = await rabbit.get(q)
    const second = await rabbit.get(q)
    assert.equal(first.content.toString(), body)
    assert.equal(first.properties.contentEncoding, 'utf-8')
    assert.equal(first.properties.deliveryMode, 2)
    assert.equal(first.properties.expiration, '300000')
    assert.equal(second.properties.deliveryMode, 1)
  }))

  it('reads a 0-9-1 publisher\'s message (a data section over 1.0) as its bytes', withConn(async conn => {
    const q = rabbit.name()
    // Declared over 0-9-1 as goferd does (durable): the 1.0 side attaches without declaring.
    await rabbit.channel(async ch => {
      await ch.assertQueue(q, { durable: true })
      ch.sendToQueue(q, Buffer.from('{"from": "0-9-1"}'), { contentEncoding: 'utf-8', deliveryMode: 2 })
    })
    const inbox = new Inbox()
    await conn.consume(q, inbox.handler('ack'))
    const d = await inbox.next()
    assert.equal(d.body.toString(), '{"from": "0-9-1"}')
    assert.equal(d.redelivered, false)
  }))

  it('sends issued without waiting are written in call order (an agent\'s accepted, started, result)', withConn(async conn => {
    const { q, inbox } = await consumedQueue(conn, 1000)
    // The first sends wait for the existence check and the sender attach; later ones are
    // written at once. None may overtake another.
    const n = 300
    await Promise.all(Array.from({ length: n }, (_, i) => conn.send(q, Buffer.from(String(i)))))
    const got: number[] = []
    for (let i = 0; i < n; i++) got.push(Number((await inbox.next()).body.toString()))
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i))
  }))

  it('pause stops deliveries but still settles what was delivered (no redelivery of answered calls)', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false })
    const inbox = new Inbox()
    const sub = await conn.consume(q, inbox.handler('none'), { prefetch: 10 })
    await conn.send(q, Buffer.from('one'))
    const first = await inbox.next()
    await sub.pause!()
    await conn.send(q, Buffer.from('two'))
    await conn.send(q, Buffer.from('three'))
    await inbox.quiet(300)
    first.ack() // the call in flight finishes while paused
    await sleep(100)
    await sub.cancel()
    const next = new Inbox()
    await conn.consume(q, next.handler('ack'))
    const bodies = [(await next.next()).body.toString(), (await next.next()).body.toString()]
    assert.deepEqual(bodies.sort(), ['three', 'two'])
    await next.quiet(300) // 'one' was acked, not requeued
  }))

  it('a missing exchange rejects NotFound without disturbing other sends or consumers', withConn(async conn => {
    const { q, inbox } = await consumedQueue(conn)
    const missing = `no.such.exchange.${uniqueQueue()}/x`
    const results = await Promise.allSettled([
      conn.send(q, Buffer.from('a')),
      conn.send(missing, Buffer.from('b')),
      conn.send(q, Buffer.from('c')),
    ])
    assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'fulfilled'])
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof NotFound)
    await assert.rejects(conn.send(missing, Buffer.from('again')), NotFound)
    await conn.send(q, Buffer.from('d'))
    const got = [await inbox.next(), await inbox.next(), await inbox.next()].map(d => d.body.toString())
    assert.deepEqual(got.sort(), ['a', 'c', 'd'])
  }))

  it('deleteQueue detaches our own consumer first, so RabbitMQ does not drop the connection', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false })
    await conn.consume(q, () => undefined)
    let dropped = false
    conn.on('disconnected', () => (dropped = true))
    await conn.deleteQueue(q)
    assert.equal(await conn.queueExists(q), false)
    await sleep(3500) // RabbitMQ closes a connection ~3 s after one of its sessions crashed
    assert.equal(dropped, false)
    await assert.rejects(conn.send(q, Buffer.from('gone')), NotFound)
  }))

  it('a consumed queue deleted behind our back comes back: RabbitMQ drops the connection, the reconnect re-declares it', withConn(async conn => {
    const { q, inbox } = await consumedQueue(conn)
    const down = nextEvent(conn, 'disconnected')
    const up = nextEvent(conn, 'connected')
    await rabbit.deleteQueue(q)
    // RabbitMQ 3.10 crashes the consuming session and closes the 1.0 connection ~3 s later
    // (brokers.md §4.4); the adapter still remembers the queue, as the 0-9-1 one does.
    await down
    await up
    assert.equal((await rabbit.check(q)).consumerCount, 1)
    await conn.send(q, Buffer.from('back'))
    assert.equal((await inbox.next()).body.toString(), 'back')
  }))

  it('a wrong password is refused with ConnectionError', async () => {
    const target = new URL(AMQP_URL)
    const conn = open(`amqp-1-0+amqp://guest:wrong-password@${target.hostname}:${target.port || 5672}`, { retry: false, connectTimeout: 8000 })
    try {
      await assert.rejects(conn.ready(), (e: unknown) => e instanceof ConnectionError && /authenticate|unauthorized/i.test(e.message))
    } finally {
      await conn.close()
    }
  })
})
