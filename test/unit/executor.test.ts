// `[main] threads` and `latency` (reference/gofer.md §4.11): at most `threads` calls of a plugin
// run at once, the rest start in arrival order; latency delays each start; a cancelled call
// leaves the line at once.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Executor } from '../../src/agent/executor.js'
import { Tracker } from '../../src/rmi/tracker.js'
import { Agent } from '../../src/rmi/agent.js'
import { startTestDaemon } from '../support/daemon.js'

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(r => (resolve = r))
  return { promise, resolve }
}

describe('executor', () => {
  it('runs at most `limit` tasks at once and starts the rest in arrival order', async () => {
    const executor = new Executor(2)
    const started: number[] = []
    const gates = Array.from({ length: 5 }, deferred)
    let running = 0
    let peak = 0
    const all = gates.map((gate, i) => executor.run(async () => {
      started.push(i)
      peak = Math.max(peak, ++running)
      await gate.promise
      running--
      return i
    }))
    await new Promise(r => setImmediate(r))
    assert.deepEqual(started, [0, 1])
    assert.equal(executor.load, 5)
    gates[1]!.resolve()
    await new Promise(r => setImmediate(r))
    assert.deepEqual(started, [0, 1, 2])
    for (const g of gates) g.resolve()
    assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4])
    assert.deepEqual(started, [0, 1, 2, 3, 4])
    assert.equal(peak, 2)
    assert.equal(executor.load, 0)
  })

  it('a waiting task whose signal aborts leaves the line with the reason; the others keep their order', async () => {
    const executor = new Executor(1)
    const gate = deferred()
    const order: string[] = []
    const first = executor.run(async () => {
      order.push('first')
      await gate.promise
    })
    const controller = new AbortController()
    const second = executor.run(async () => void order.push('second'), controller.signal)
    const third = executor.run(async () => void order.push('third'))
    controller.abort(new Error('cancelled'))
    await assert.rejects(second, /cancelled/)
    assert.equal(executor.load, 2)
    gate.resolve()
    await Promise.all([first, third])
    assert.deepEqual(order, ['first', 'third'])
    await assert.rejects(executor.run(async () => 1, controller.signal), /cancelled/)
    assert.equal(executor.load, 0)
  })

  it('takes a tracked request\'s cancel signal: a cancelled request leaves the line, listeners run once', async () => {
    const tracker = new Tracker()
    const executor = new Executor(1)
    const gate = deferred()
    const first = executor.run(() => gate.promise)
    const tracked = tracker.add('sn-2', null)
    let heard = 0
    tracked.signal.addEventListener('abort', () => heard++)
    const second = executor.run(async () => 'ran', tracked.signal)
    assert.deepEqual(tracker.cancelRequests({ sn: 'sn-2' }), ['sn-2'])
    assert.deepEqual(tracker.cancelRequests({ sn: 'sn-2' }), [], 'a second cancel changes nothing')
    await assert.rejects(second, (error: Error) => error.name === 'Cancelled' && /sn-2/.test(error.message))
    assert.equal(heard, 1)
    assert.equal(tracked.cancelled, true)
    gate.resolve()
    await first
    tracked.done()
    assert.equal(tracker.size, 0)
  })

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => new Executor(0), RangeError)
    assert.throws(() => new Executor(1.5), RangeError)
  })
})

describe('threads and latency in the agent (memory adapter)', () => {
  it('threads=1: calls run one at a time in arrival order, Admin still answers meanwhile', async () => {
    const agentd = await startTestDaemon('memory://executor-threads', { threads: 1 })
    const agent = new Agent('memory://executor-threads', agentd.queue, { wait: 10 })
    try {
      const t0 = Date.now()
      const done: number[] = []
      const calls = [0.2, 0.1, 0].map((s, i) => agent.stub('Dog').sleep(s).then(() => done.push(i)))
      // Admin runs on its own slots: it answers before the plugin's queue drains.
      assert.equal(await agent.stub('Admin').hello(), 'Hello, I am gofer agent')
      assert.ok(done.length < 3)
      await Promise.all(calls)
      assert.deepEqual(done, [0, 1, 2], 'a short call never overtakes a long one queued before it')
      assert.ok(Date.now() - t0 >= 300, 'serialised: 0.2 + 0.1 s at least')
    } finally {
      await agent.close()
      await agentd.stop()
    }
  })

  it('threads=3: three calls overlap', async () => {
    const agentd = await startTestDaemon('memory://executor-threads3', { threads: 3 })
    const agent = new Agent('memory://executor-threads3', agentd.queue, { wait: 10 })
    try {
      const t0 = Date.now()
      await Promise.all([0.5, 0.5, 0.5].map(s => agent.stub('Dog').sleep(s)))
      assert.ok(Date.now() - t0 < 1300, `took ${Date.now() - t0} ms; one at a time would take 1500`)
    } finally {
      await agent.close()
      await agentd.stop()
    }
  })

  it('latency delays each start (plugin calls only, not Admin)', async () => {
    const agentd = await startTestDaemon('memory://executor-latency', { threads: 1, latency: 0.5 })
    const agent = new Agent('memory://executor-latency', agentd.queue, { wait: 10 })
    try {
      let t0 = Date.now()
      assert.equal(await agent.stub('Admin').hello(), 'Hello, I am gofer agent')
      assert.ok(Date.now() - t0 < 450, 'Admin is not delayed')
      t0 = Date.now()
      await Promise.all([agent.stub('Dog').bark('a'), agent.stub('Dog').bark('b')])
      assert.ok(Date.now() - t0 >= 1000, `two calls on one thread with 0.5 s latency each took ${Date.now() - t0} ms`)
    } finally {
      await agent.close()
      await agentd.stop()
    }
  })
})
