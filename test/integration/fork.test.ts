// The fork call model on RabbitMQ (reference/gofer.md §4.15): each call runs in its own child
// process; whatever the child does (raise, crash, exit, spin, leak, return something JSON cannot
// carry) the caller gets an answer and goferd keeps serving.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { RemoteError } from '../../src/errors.js'
import { Agent } from '../../src/rmi/agent.js'
import { startTestDaemon, type RunningDaemon } from '../support/daemon.js'
import { AMQP_URL, ROOT } from '../support/paths.js'

const FORK_PLUGIN = join(ROOT, 'test', 'fixtures', 'forkplugin.ts')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('fork call model', () => {
  let agentd: RunningDaemon
  let agent: Agent

  before(async () => {
    agentd = await startTestDaemon(AMQP_URL, { plugin: FORK_PLUGIN, threads: 4 })
    agent = new Agent(AMQP_URL, agentd.queue, { wait: 30 })
  })
  after(async () => {
    await agent?.close()
    await agentd?.stop()
  })

  it('runs the method in a child process, constructed with cntr', async () => {
    assert.equal(await agent.stub('Forked', [10]).add(1, 2), 13)
    const pid = (await agent.stub('Forked').pid()) as number
    assert.notEqual(pid, process.pid)
    assert.equal(alive(pid), false, 'the child is gone once the call is answered')
  })

  it('relays progress from the child to the caller, then the result', async () => {
    const seen: unknown[] = []
    const a = new Agent(AMQP_URL, agentd.queue, { wait: 30, progress: r => seen.push([r.completed, r.total, (r.details as { step: number }).step]) })
    try {
      const result = (await a.stub('Forked').progress(3)) as string
      assert.match(result, /^done 3 in \d+$/)
      assert.deepEqual(seen, [[1, 3, 1], [2, 3, 2], [3, 3, 3]])
    } finally {
      await a.close()
    }
  })

  it('an exception raised in the child keeps its class, state and message', async () => {
    await assert.rejects(agent.stub('Forked').raise(), (e: unknown) => {
      assert.ok(e instanceof RemoteError)
      assert.equal(e.xclass, 'Boom')
      assert.equal(e.xmodule, 'testplugin')
      assert.equal(e.state.fuse, 3)
      assert.deepEqual(e.xargs, ['kaboom'])
      return true
    })
  })

  it('a child that crashes gives an exception reply', async () => {
    await assert.rejects(agent.stub('Forked').crash(), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'ChildFailed' && /exited with code 1 before returning/.test(e.message))
  })

  it('a child that calls process.exit gives an exception reply', async () => {
    await assert.rejects(agent.stub('Forked').exit(0), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'ChildFailed' && /exited with code 0 before returning/.test(e.message))
    await assert.rejects(agent.stub('Forked').exit(7), (e: unknown) => e instanceof RemoteError && /exited with code 7/.test(e.message))
  })

  it('a child killed by a signal gives an exception reply', async () => {
    await assert.rejects(agent.stub('Forked').abort(), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'ChildFailed' && /killed by SIGSEGV/.test(e.message))
  })

  it('an endless loop is killed at its deadline', async () => {
    const started = Date.now()
    await assert.rejects(agent.stub('Forked').spin(), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'ChildFailed' && /1s deadline/.test(e.message) && e.state.reason === 'timeout')
    assert.ok(Date.now() - started < 5000)
  })

  it('a result JSON cannot carry becomes a TypeError reply', async () => {
    await assert.rejects(agent.stub('Forked').unserialisable(), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'TypeError' && e.xmodule === 'builtins' && /Map is not JSON serializable/.test(e.message))
  })

  it('processes the child leaves behind are killed with it', async () => {
    const pid = (await agent.stub('Forked').leak()) as number
    const deadline = Date.now() + 3000
    while (alive(pid) && Date.now() < deadline) await new Promise(r => setTimeout(r, 50))
    assert.equal(alive(pid), false, `grandchild ${pid} outlived the call`)
  })

  it('the child sees the sn and a callable cancelled()', async () => {
    const sn = (await agent.stub('Forked').sn()) as string
    assert.match(sn, /^[0-9a-f-]{36}$/)
    assert.equal(await agent.stub('Forked').cancelledIsCallable(), 'callable:false')
  })

  it('goferd keeps serving after all of that, fork and direct calls in parallel', async () => {
    const results = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => agent.stub('Forked').add(i, 1)),
      agent.stub('Forked').nap(0),
      agent.stub('Admin').hello(),
    ])
    assert.deepEqual(results, [1, 2, 3, 4, 0, 'Hello, I am gofer agent'])
  })
})
