// RMI over AMQP 1.0 on the Proton example brokers, the path RabbitMQ 3.10 cannot take: the
// caller's replies come back on a *dynamic* reply node the broker names (no reply queue is
// declared), and each agent reply goes through a sender cached per reply address.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { RemoteError } from '../../src/errors.js'
import { acquireConnection } from '../../src/messaging/registry.js'
import { Agent } from '../../src/rmi/agent.js'
import { startTestDaemon, type RunningDaemon } from '../support/daemon.js'

const BROKERS = [
  ['Python broker.py', process.env.GOFER_TEST_PROTON_PY_URL ?? 'amqp-1-0+amqp://127.0.0.1:5674'],
  ['C++ broker.cpp', process.env.GOFER_TEST_PROTON_CPP_URL ?? 'amqp-1-0+amqp://127.0.0.1:5675'],
] as const

for (const [label, url] of BROKERS) {
  describe(`RMI over the Proton ${label} (dynamic reply node)`, () => {
    let daemon: RunningDaemon
    const agents: Agent[] = []
    const make = (options: ConstructorParameters<typeof Agent>[2] = {}) => {
      const a = new Agent(url, daemon.queue, { wait: 10, ...options })
      agents.push(a)
      return a
    }

    before(async () => {
      daemon = await startTestDaemon(url)
    })

    after(async () => {
      await Promise.all(agents.map(a => a.close()))
      await daemon.stop()
    })

    it('the broker names a dynamic reply node for the connection', async () => {
      const lease = acquireConnection(url)
      try {
        const endpoint = await lease.connection.replyEndpoint?.(d => d.ack())
        assert.ok(endpoint, 'a dynamic reply node')
        assert.ok(endpoint.address.length > 0 && !endpoint.address.startsWith('gofer.reply.'), endpoint.address)
        await endpoint.cancel()
      } finally {
        await lease.release()
      }
    })

    it('answers synchronous calls: results, progress, exceptions, concurrency, large bodies', async () => {
      const seen: unknown[] = []
      const a = make({ progress: r => seen.push(r.completed) })
      assert.equal(await a.stub('Dog').bark('proton'), 'Ruf proton')
      assert.equal(await a.stub('Dog').wag(2), 'wagged 2 times')
      assert.deepEqual(seen, [1, 2])
      await assert.rejects(a.stub('Dog').hurt(), (e: unknown) => e instanceof RemoteError && e.xclass === 'Hurt')
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => a.stub('Dog').echo(i)))
      assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i))
      const big = 'x'.repeat(200_000)
      assert.equal(await a.stub('Dog').echo(big), big)
      assert.equal(await a.stub('Admin').hello(), 'Hello, I am gofer agent')
    })

    it('fire-and-forget still runs the call', async () => {
      const sn = await make({ wait: 0 }).stub('Dog').bark('ff')
      assert.match(String(sn), /^[0-9a-f-]{36}$/)
      assert.equal(await make().stub('Dog').bark('after'), 'Ruf after')
    })
  })
}
