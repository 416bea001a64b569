// Surviving the broker going away, for one adapter: goferd and callers reconnect, re-declare
// queues and re-subscribe (re-attach links over 1.0), and calls made during an outage are answered
// once the broker is back. RabbitMQ behind a TCP proxy the test can cut.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Agent } from '../../src/rmi/agent.js'
import { startTestDaemon, type RunningDaemon } from './daemon.js'
import { AMQP_URL } from './paths.js'
import { TcpProxy } from './tcp-proxy.js'

/** `prefix` selects the adapter: '' (AMQP 0-9-1) or 'amqp-1-0+'. */
export function reconnectSuite(label: string, prefix: string): void {
  describe(`broker connection loss${label}`, () => {
    const target = new URL(AMQP_URL)
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5672))
    let url: string
    let agentd: RunningDaemon
    let agent: Agent

    before(async () => {
      await proxy.start()
      url = `${prefix}amqp://${target.username || 'guest'}:${target.password || 'guest'}@127.0.0.1:${proxy.port}`
      agentd = await startTestDaemon(url)
      agent = new Agent(url, agentd.queue, { wait: 15 })
    })

    after(async () => {
      await agent.close()
      await agentd.stop()
      await proxy.stop()
    })

    it('keeps serving after every connection is cut', async () => {
      assert.equal(await agent.stub('Dog').bark('before'), 'Ruf before')
      proxy.dropAll()
      // The first call may race the reconnect; it must still be answered within its wait.
      assert.equal(await agent.stub('Dog').bark('after'), 'Ruf after')
      assert.equal(await agent.stub('Dog').bark('again'), 'Ruf again')
    })

    it('answers a call made while the broker is unreachable, once it is back', async () => {
      proxy.refuse(true)
      proxy.dropAll()
      const call = agent.stub('Dog').bark('during outage')
      await new Promise(r => setTimeout(r, 1500))
      proxy.refuse(false)
      assert.equal(await call, 'Ruf during outage')
    })

    it('answers a call that was running when the connection was cut', async () => {
      const call = agent.stub('Dog').sleep(1)
      await new Promise(r => setTimeout(r, 300))
      proxy.dropAll()
      // Not yet acked/settled when the connection died (its reply was not sent): the broker requeues
      // it, goferd gets it again after reconnecting, and the reply reaches the caller's restored
      // reply queue.
      assert.equal(await call, 1)
    })
  })
}
