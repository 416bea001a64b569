// The AMQP 0-9-1 adapter against a real RabbitMQ (GOFER_TEST_AMQP_URL, default 127.0.0.1:5672):
// the shared contract, the cases shared with the 1.0 adapter on RabbitMQ
// (support/rabbitmq-adapter-cases.ts), plus wire properties, reconnection and channel-error recovery.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type amqp from 'amqplib'
import { ConnectionError, NotFound } from '../../src/errors.js'
import { amqp091Adapter, type Amqp091Connection } from '../../src/messaging/amqp091/adapter.js'
import { connectArguments } from '../../src/messaging/amqp091/dial.js'
import { publishProperties } from '../../src/messaging/amqp091/publisher.js'
import { Backoff } from '../../src/messaging/backoff.js'
import { adapterFor } from '../../src/messaging/registry.js'
import { parseUrl } from '../../src/messaging/url.js'
import { adapterContract, Inbox, settleWithin, sleep, uniqueQueue } from '../support/adapter-contract.js'
import { AMQP_URL } from '../support/paths.js'
import { nextEvent, opener, RawRabbit, rabbitmqAdapterCases, withConnection } from '../support/rabbitmq-adapter-cases.js'

/** Is something listening where the URL points? (Skip, rather than fail, without a broker.) */
async function reachable(url: string): Promise<boolean> {
  const { host, port } = parseUrl(url)
  return new Promise(resolve => {
    const s = new Socket()
    const done = (ok: boolean): void => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(1000, () => done(false))
    s.once('error', () => done(false))
    s.connect(port, host, () => done(true))
  })
}

const skip = (await reachable(AMQP_URL)) ? false : `no AMQP broker at ${AMQP_URL}`

adapterContract('amqp-0-9-1', () => AMQP_URL, { skip })

describe('amqp-0-9-1 adapter configuration (no broker needed)', () => {
  it('is selected by its prefixes and by a bare amqp:// URL', () => {
    for (const url of ['amqp://h', 'amqp-0-9-1+amqp://h', 'rabbitmq+amqps://h', 'rabbit+amqp://h', 'amqp+amqp://h']) {
      assert.equal(adapterFor(parseUrl(url)).name, 'amqp-0-9-1', url)
    }
  })

  it('connects with gofer defaults, a heartbeat and Nagle off', () => {
    const { target, socket } = connectArguments(parseUrl('amqp://broker'))
    assert.deepEqual(target, {
      protocol: 'amqp', hostname: 'broker', port: 5672, username: 'guest', password: 'guest', vhost: '%2F', heartbeat: 10,
    })
    assert.equal(socket.noDelay, true)
    assert.equal(socket.timeout, 10_000)
    const custom = connectArguments(parseUrl('amqps://elmer:fu%40dd@broker:5000/v%25h'), { heartbeat: 30, connectTimeout: 500 })
    assert.equal(custom.target.protocol, 'amqps')
    assert.equal(custom.target.port, 5000)
    assert.equal(custom.target.username, 'elmer')
    assert.equal(custom.target.password, 'fu@dd')
    // amqplib unescapes the vhost once more, so the decoded 'v%h' travels encoded.
    assert.equal(decodeURIComponent(custom.target.vhost!), 'v%h')
    assert.equal(custom.target.heartbeat, 30)
    assert.equal(custom.socket.timeout, 500)
  })

  it('wires TLS files and host validation for amqps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gofer-tls-'))
    try {
      const ca = join(dir, 'ca.pem')
      const pem = join(dir, 'client.pem')
      writeFileSync(ca, 'CA')
      writeFileSync(pem, 'CERT+KEY')
      const url = parseUrl('amqps://broker')
      const { socket } = connectArguments(url, { tls: { cacert: ca, clientcert: pem, hostValidation: false } })
      assert.equal(String(socket.ca), 'CA')
      assert.equal(String(socket.cert), 'CERT+KEY')
      assert.equal(String(socket.key), 'CERT+KEY') // no clientkey: the PEM holds both
      assert.equal(socket.checkServerIdentity?.('other-host', {} as never), undefined)
      const strict = connectArguments(url, { tls: { cacert: ca } }).socket
      assert.equal(strict.checkServerIdentity, undefined)
      assert.equal(connectArguments(parseUrl('amqp://broker'), { tls: { cacert: ca } }).socket.ca, undefined)
      assert.throws(() => connectArguments(url, { tls: { cacert: join(dir, 'missing.pem') } }), ConnectionError)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('maps send options to exactly three message properties', () => {
    assert.deepEqual(publishProperties(), { contentEncoding: 'utf-8', deliveryMode: 2 })
    assert.deepEqual(publishProperties({ ttl: 300_000 }), { contentEncoding: 'utf-8', deliveryMode: 2, expiration: '300000' })
    assert.deepEqual(publishProperties({ ttl: 0, durable: false }), { contentEncoding: 'utf-8', deliveryMode: 1 })
    assert.equal(publishProperties({ ttl: 0.5 }).expiration, '1')
  })

  it('backs off exponentially with jitter up to the ceiling', () => {
    const b = new Backoff({ initial: 100, max: 1000, factor: 2, jitter: 0.3 })
    const delays = Array.from({ length: 8 }, () => b.next())
    const bases = [100, 200, 400, 800, 1000, 1000, 1000, 1000]
    delays.forEach((d, i) => assert.ok(d >= bases[i]! * 0.7 && d <= bases[i]! * 1.3, `delay ${i} = ${d}`))
    b.reset()
    assert.ok(b.next() <= 130)
  })
})

/** A closed loopback port: connecting is refused at once. */
const DEAD_URL = 'amqp://guest:guest@127.0.0.1:1'

const open = opener<Amqp091Connection>(amqp091Adapter, AMQP_URL)
const withConn = (body: (conn: Amqp091Connection) => Promise<void>) => withConnection(() => open(), body)

describe('amqp-0-9-1 adapter specifics', { skip }, () => {
  const rabbit = new RawRabbit(AMQP_URL)

  rabbitmqAdapterCases({ open, deadUrl: DEAD_URL, rabbit, exclusive: true })

  it('publishes only content_encoding, delivery_mode and (with a TTL) expiration', withConn(async conn => {
    const q = await rabbit.queue(conn)
    const body = '{"sn": "1", "version": "2.0"}'
    await conn.send(q, Buffer.from(body))
    await conn.send(q, Buffer.from(body), { ttl: 300_000 })
    await conn.send(q, Buffer.from(body), { durable: false })
    const plain = await rabbit.get(q)
    const props = Object.fromEntries(Object.entries(plain.properties).filter(([, v]) => v !== undefined))
    assert.deepEqual(props, { contentEncoding: 'utf-8', deliveryMode: 2 })
    assert.equal(plain.content.toString(), body)
    assert.deepEqual(plain.fields.exchange, '')
    assert.deepEqual(plain.fields.routingKey, q)
    const withTtl = await rabbit.get(q)
    const ttlProps = Object.fromEntries(Object.entries(withTtl.properties).filter(([, v]) => v !== undefined))
    assert.deepEqual(ttlProps, { contentEncoding: 'utf-8', deliveryMode: 2, expiration: '300000' })
    const transient = await rabbit.get(q)
    assert.equal(transient.properties.deliveryMode, 1)
  }))

  it('a missing exchange rejects NotFound and does not disturb other sends', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false })
    const missing = `no.such.exchange.${uniqueQueue()}/x`
    await assert.rejects(conn.send(missing, Buffer.from('lost')), (e: unknown) => e instanceof NotFound && e.address === missing)
    await conn.send(q, Buffer.from('after'))
    // Interleaved with good sends: only the bad ones fail.
    const results = await Promise.allSettled([
      conn.send(q, Buffer.from('a')),
      conn.send(missing, Buffer.from('b')),
      conn.send(q, Buffer.from('c')),
      conn.send(missing, Buffer.from('d')),
      conn.send(q, Buffer.from('e')),
    ])
    assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof NotFound)
    // The exchange channel reopens transparently.
    await assert.rejects(conn.send(missing, Buffer.from('again')), NotFound)
    await conn.send(`amq.direct/${uniqueQueue()}`, Buffer.from('x')).catch(e => assert.ok(e instanceof NotFound))
    assert.equal((await rabbit.check(q)).messageCount, 4)
  }))

  it('respects socket backpressure: a burst larger than the buffers is fully confirmed', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false })
    const body = Buffer.alloc(16 * 1024, 0x61)
    await Promise.all(Array.from({ length: 1500 }, () => conn.send(q, body, { durable: false })))
    assert.equal((await rabbit.check(q)).messageCount, 1500)
  }))

  it('a throwing connection listener does not break reconnection', withConn(async conn => {
    await conn.ready()
    conn.on('disconnected', () => {
      throw new Error('listener bug')
    })
    const up = nextEvent(conn, 'connected')
    conn._dropForTest()
    await up
    const q = await rabbit.queue(conn, { durable: false })
    await conn.send(q, Buffer.from('fine'))
  }))

  it('a consumer whose channel the broker closes (406) resubscribes by itself', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false })
    const inbox = new Inbox()
    const sub = await conn.consume(q, inbox.handler('ack'))
    // Reach into the subscription to provoke a channel error: ack an unknown delivery tag.
    const channel = (sub as unknown as { channel: amqp.Channel }).channel
    channel.ack({ fields: { deliveryTag: 999_999 } } as amqp.Message)
    await sleep(500)
    await conn.send(q, Buffer.from('after the channel error'))
    assert.equal((await inbox.next(5000)).body.toString(), 'after the channel error')
    assert.equal((await rabbit.check(q)).consumerCount, 1)
  }))

  it('binding to a missing exchange rejects NotFound', withConn(async conn => {
    const q = rabbit.name()
    await assert.rejects(conn.declareQueue({ name: q, exchange: `no.such.exchange.${uniqueQueue()}` }), NotFound)
  }))

  it('unconfirmed sends at a connection loss settle: confirmed or ConnectionError, never hang', withConn(async conn => {
    const q = await rabbit.queue(conn)
    await conn.send(q, Buffer.from('opens the publish channel'))
    const up = nextEvent(conn, 'connected')
    // Written to the socket at once (the channel is open), so most are unconfirmed at the drop.
    const sends = Array.from({ length: 500 }, (_, i) => conn.send(q, Buffer.from(`m${i}`)))
    conn._dropForTest()
    const outcomes = await Promise.all(sends.map(p => settleWithin(p, 10_000)))
    const failed = outcomes.filter(o => o.status === 'rejected')
    for (const o of failed) assert.ok(o.reason instanceof ConnectionError, `unexpected ${String(o.reason)}`)
    assert.ok(failed.length > 0, 'some sends were unconfirmed at the drop')
    await up
    await conn.send(q, Buffer.from('works again'))
  }))

  it('a consumer whose queue is deleted reports NotFound on the error event', withConn(async conn => {
    const q = await rabbit.queue(conn, { durable: false })
    const errors: Error[] = []
    conn.on('error', e => errors.push(e))
    await conn.consume(q, () => undefined)
    await rabbit.deleteQueue(q)
    for (let i = 0; i < 50 && errors.length === 0; i++) await sleep(20)
    assert.ok(errors[0] instanceof NotFound, `expected NotFound, got ${String(errors[0])}`)
  }))

  it('close() cancels consumers on the broker', async () => {
    const conn = open()
    const q = await rabbit.queue(conn, { durable: false })
    await conn.consume(q, () => undefined)
    assert.equal((await rabbit.check(q)).consumerCount, 1)
    await conn.close()
    await sleep(100)
    assert.equal((await rabbit.check(q)).consumerCount, 0)
  })

  it('retrying: ready() and send() give up after their deadlines with ConnectionError', async () => {
    const conn = open(DEAD_URL, { connectTimeout: 300, sendTimeout: 300 })
    try {
      const started = Date.now()
      await assert.rejects(conn.ready(), ConnectionError)
      await assert.rejects(conn.send('q', Buffer.from('x')), ConnectionError)
      const took = Date.now() - started
      assert.ok(took >= 500 && took < 3000, `took ${took} ms`)
    } finally {
      await conn.close()
    }
  })
})
