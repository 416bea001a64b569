// Surviving the broker going away over AMQP 1.0: goferd (listening over 1.0) and a 1.0 caller
// reconnect, re-attach their links (and the adapter's 0-9-1 queue management connection, which
// goes through the same cut proxy) and answer calls made during the outage. RabbitMQ behind a
// TCP proxy the test can cut; the same scenarios as reconnect.test.ts for 0-9-1.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Agent } from '../../src/rmi/agent.js'
import { startTestDaemon, type RunningDaemon } from '../support/daemon.js'
import { AMQP_URL } from '../support/paths.js'
import { TcpProxy } from '../support/tcp-proxy.js'

describe('broker connection loss over AMQP 1.0', () => {
  const target = new URL(AMQP_URL)
  const proxy = new TcpProxy(target.hostname, Number(target.port || 5672))
  let url: string
  let agentd: RunningDaemon
  let agent: Agent

  before(async () => {
    await proxy.start()
    url = `amqp-1-0+amqp://${target.username || 'guest'}:${target.password || 'guest'}@127.0.0.1:${proxy.port}`
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
    // Unsettled when the connection died: RabbitMQ requeues it, goferd gets it again after
    // re-attaching, and the reply reaches the caller's re-attached reply queue.
    assert.equal(await call, 1)
  })
})
