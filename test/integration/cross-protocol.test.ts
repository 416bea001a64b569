// Crossing protocols on one RabbitMQ: an agent that listens over AMQP 0-9-1 called by a caller
// that speaks AMQP 1.0, and the reverse; plus Python gofer's proton body (an amqp-value string)
// read by our 0-9-1 side, where RabbitMQ hands it over as the encoded 1.0 section.
//
// Queues are declared the same way by both adapters (over 0-9-1: the 1.0 adapter manages queues
// through RabbitMQ's 0-9-1 on the same port) and 1.0 links attach to existing queues through
// /amq/queue/NAME, so no durability mismatch can end a session.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import amqp from 'amqplib'
import rhea from 'rhea'
import { RemoteError } from '../../src/errors.js'
import { Agent } from '../../src/rmi/agent.js'
import { amqpValueString, decode, encodeRequest } from '../../src/rmi/envelope.js'
import { ReplyConsumer } from '../../src/rmi/reply-consumer.js'
import type { Reply } from '../../src/rmi/replies.js'
import { startTestDaemon, type RunningDaemon } from '../support/daemon.js'
import { AMQP_URL } from '../support/paths.js'

const URL091 = AMQP_URL
const URL10 = `amqp-1-0+${AMQP_URL}`

/** Send one message the way Python gofer's proton adapter does: amqp-value string, durable header. */
async function sendAsPythonProton(queue: string, text: string): Promise<void> {
  const target = new URL(AMQP_URL)
  const container = rhea.create_container({ id: `test-${randomUUID()}` })
  container.on('error', () => undefined)
  const conn = container.connect({
    host: target.hostname, port: Number(target.port || 5672), username: target.username || 'guest', password: target.password || 'guest', reconnect: false,
  })
  try {
    await new Promise<void>((resolve, reject) => {
      const sender = conn.open_sender({ target: { address: `/amq/queue/${queue}` } })
      sender.once('sendable', () => sender.send({ durable: true, body: text }))
      sender.once('accepted', () => resolve())
      conn.once('disconnected', ctx => reject(ctx.error ?? new Error('disconnected')))
      sender.once('sender_error', ctx => reject(ctx.sender?.error))
    })
  } finally {
    conn.close()
  }
}

/** An agent listening over `listener`, called by a caller over `caller` (goferd runs one plugin per process). */
function crossing(listener: '0-9-1' | '1.0', listenerUrl: string, caller: '0-9-1' | '1.0', callerUrl: string): void {
  describe(`an agent listening over ${listener}, called over ${caller}`, () => {
    let daemon: RunningDaemon
    const agents: Agent[] = []
    const make = (options: ConstructorParameters<typeof Agent>[2] = {}) => {
      const a = new Agent(callerUrl, daemon.queue, { wait: 10, ...options })
      agents.push(a)
      return a
    }

    before(async () => {
      daemon = await startTestDaemon(listenerUrl)
    })

    after(async () => {
      await Promise.all(agents.map(a => a.close()))
      await daemon.stop()
    })

    it('answers synchronous calls: results, progress, exceptions, large bodies, exchange replies', async () => {
      const seen: unknown[] = []
      const a = make({ progress: r => seen.push(r.completed) })
      assert.equal(await a.stub('Dog').bark('across'), 'Ruf across')
      assert.equal(await a.stub('Dog').wag(2), 'wagged 2 times')
      assert.deepEqual(seen, [1, 2])
      await assert.rejects(a.stub('Dog').hurt(), (e: unknown) => e instanceof RemoteError && e.xclass === 'Hurt')
      assert.equal(await make({ exchange: 'amq.direct' }).stub('Dog').bark('via exchange'), 'Ruf via exchange')
      const big = 'é'.repeat(300_000)
      assert.equal(await a.stub('Dog').echo(big), big)
    })

    it('sends asynchronous replies that a ReplyConsumer on the caller side reads', async () => {
      const replies = `test.cross.${randomUUID()}`
      const consumer = new ReplyConsumer(callerUrl, replies, { temporary: true })
      const kinds: string[] = []
      const done = new Promise<Reply>(resolve => {
        void consumer.start(r => {
          kinds.push(r.kind)
          if (r.kind === 'succeeded') resolve(r)
        })
      })
      try {
        await new Promise(r => setTimeout(r, 200))
        await make({ reply: replies }).stub('Dog').bark('later')
        const final = await done
        assert.ok(final.kind === 'succeeded' && final.retval === 'Ruf later')
        assert.deepEqual(kinds, ['accepted', 'started', 'succeeded'])
      } finally {
        await consumer.stop()
      }
    })

    it("answers a request sent the way Python gofer's proton adapter sends it (amqp-value string)", async () => {
      const replies = `test.cross.${randomUUID()}`
      const consumer = new ReplyConsumer(callerUrl, replies, { temporary: true })
      const done = new Promise<Reply>(resolve => {
        void consumer.start(r => {
          if (r.kind === 'succeeded' || r.kind === 'failed') resolve(r)
        })
      })
      try {
        await new Promise(r => setTimeout(r, 200))
        const sn = randomUUID()
        await sendAsPythonProton(daemon.queue, encodeRequest({
          sn, address: daemon.queue, replyto: replies, classname: 'Dog', method: 'bark', args: ['python'],
        }))
        const final = await done
        assert.ok(final.kind === 'succeeded' && final.retval === 'Ruf python' && final.sn === sn)
      } finally {
        await consumer.stop()
      }
    })
  })
}

crossing('0-9-1', URL091, '1.0', URL10)
crossing('1.0', URL10, '0-9-1', URL091)

describe('the amqp-value body across the bridge', () => {
  it('RabbitMQ hands an amqp-value string to 0-9-1 as the encoded section, which decode() unwraps', async () => {
    const model = await amqp.connect(URL091)
    try {
      const ch = await model.createChannel()
      const queue = `test.cross.${randomUUID()}`
      await ch.assertQueue(queue, { durable: true })
      const short = '{"sn": "s"}'
      const long = JSON.stringify({ sn: 'l', pad: 'x'.repeat(400) })
      await sendAsPythonProton(queue, short)
      await sendAsPythonProton(queue, long)
      const first = await ch.get(queue, { noAck: true })
      const second = await ch.get(queue, { noAck: true })
      assert.ok(first && second)
      assert.deepEqual([...first.content.subarray(0, 4)], [0x00, 0x53, 0x77, 0xa1])
      assert.deepEqual([...second.content.subarray(0, 4)], [0x00, 0x53, 0x77, 0xb1])
      assert.equal(amqpValueString(first.content), short)
      assert.equal(decode(second.content).document?.sn, 'l')
      assert.equal(amqpValueString(Buffer.from(short)), null)
      await ch.deleteQueue(queue)
    } finally {
      await model.close()
    }
  })
})
