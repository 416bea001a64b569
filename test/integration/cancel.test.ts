// Cancellation on RabbitMQ (reference/gofer.md §4.14, §10.15): Admin.cancel by sn and by
// criteria; a queued request is answered at once with a Cancelled reply (gofer leaves that caller
// hanging), a running direct call sees Context.current().cancelled(), a running fork call's child
// is killed within 200 ms and its caller gets the Cancelled reply. Also through `gofer rmi`.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Cancelled, RemoteError } from '../../src/errors.js'
import { Agent, type Trigger } from '../../src/rmi/agent.js'
import { tracker } from '../../src/rmi/tracker.js'
import { gofer } from '../support/cli.js'
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

/** Start a manual call now; its outcome is asserted later (so an early rejection is not "unhandled"). */
function pull(trigger: Trigger): Promise<unknown> {
  const answer = trigger()
  answer.catch(() => undefined)
  return answer
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 10))
  }
}


describe('cancellation', () => {
  let agentd: RunningDaemon
  let agent: Agent

  before(async () => {
    // One thread: a second call waits in line behind the first.
    agentd = await startTestDaemon(AMQP_URL, { plugin: FORK_PLUGIN, threads: 1 })
    agent = new Agent(AMQP_URL, agentd.queue, { wait: 30 })
  })
  after(async () => {
    await agent?.close()
    await agentd?.stop()
  })

  const manual = async (method: string, args: unknown[], options = {}): Promise<Trigger> =>
    (await agent.call({ classname: 'Forked', method, args }, { trigger: 'manual', ...options })) as Trigger

  it('a queued request is answered at once with Cancelled; the running one is untouched', async () => {
    const first = agent.stub('Forked').nap(1.5)
    const second = await manual('nap', [0])
    const answer = pull(second)
    await until(() => tracker.find({ eq: null }).includes(second.sn), 'the second request to be accepted')
    const t0 = Date.now()
    assert.deepEqual(await agent.stub('Admin').cancel(second.sn), [second.sn])
    await assert.rejects(answer, (e: unknown) => {
      assert.ok(e instanceof Cancelled, String(e))
      assert.ok(e instanceof RemoteError)
      assert.equal(e.code, 'CANCELLED')
      assert.equal(e.xclass, 'Cancelled')
      assert.equal(e.xmodule, 'gofer.rmi.tracker')
      assert.equal(e.message, `Cancelled: request ${second.sn} cancelled`)
      return true
    })
    assert.ok(Date.now() - t0 < 1000, 'answered without waiting for the busy thread')
    assert.equal(await first, 1.5)
    // Cancelling it again: it is gone.
    await assert.rejects(agent.stub('Admin').cancel(second.sn), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'Exception' && e.message === `Exception: serial number (${second.sn}), not-found`)
  })

  it('a running direct call sees Context.current().cancelled()', async () => {
    const call = await manual('waitForCancel', [10])
    const answer = pull(call)
    await until(() => tracker.find({ eq: null }).includes(call.sn), 'the call to be accepted')
    await new Promise(r => setTimeout(r, 300))
    assert.deepEqual(await agent.stub('Admin').cancel(call.sn), [call.sn])
    assert.equal(await answer, 'saw cancelled')
  })

  it('a running fork call: the child is killed within 200 ms and the caller gets Cancelled', async () => {
    let pid = 0
    const call = await manual('hang', [], { progress: (r: { details: unknown }) => (pid = (r.details as { pid: number }).pid) })
    const answer = pull(call)
    await until(() => pid > 0, 'the child to report its pid')
    assert.equal(alive(pid), true)
    assert.deepEqual(await agent.stub('Admin').cancel(call.sn), [call.sn])
    // Admin.cancel's reply left after the kill was sent: the child must be gone almost at once.
    const t0 = Date.now()
    await until(() => !alive(pid), 'the child to die', 2000)
    assert.ok(Date.now() - t0 < 200, `child died ${Date.now() - t0} ms after the cancel reply`)
    await assert.rejects(answer, (e: unknown) => e instanceof Cancelled && e.xclass === 'Cancelled')
  })

  it('criteria cancel every request whose data matches, and only those', async () => {
    const blocker = agent.stub('Forked').nap(1)
    const a = await manual('nap', [0], { data: { job: 'sweep', n: 1 } })
    const b = await manual('nap', [0], { data: { job: 'sweep', n: 2 } })
    const c = await manual('nap', [0], { data: { job: 'keep' } })
    const answers = [pull(a), pull(b), pull(c)]
    await until(() => tracker.find({ match: { job: 'sweep' } }).length === 2 && tracker.find({ match: { job: 'keep' } }).length === 1, 'all three accepted')
    const cancelled = (await agent.call({ classname: 'Admin', method: 'cancel', args: [], kws: { criteria: { match: { job: 'sweep' } } } })) as string[]
    assert.deepEqual(cancelled.sort(), [a.sn, b.sn].sort())
    await assert.rejects(answers[0]!, Cancelled)
    await assert.rejects(answers[1]!, Cancelled)
    assert.equal(await answers[2], 0)
    await blocker
    await assert.rejects(agent.call({ classname: 'Admin', method: 'cancel', args: [], kws: { criteria: { like: 1 } } }), (e: unknown) =>
      e instanceof RemoteError && e.xclass === 'InvalidOperator' && /like not supported/.test(e.message))
  })

  it('gofer rmi -t Admin.cancel <sn> and criteria=<json>', async () => {
    const blocker = agent.stub('Forked').nap(2)
    const one = await manual('nap', [0], { data: { batch: 7 } })
    const two = await manual('nap', [0], { data: { batch: 8 } })
    const answers = [pull(one), pull(two)]
    await until(() => tracker.find({ in: [{ batch: 7 }, { batch: 8 }] }).length === 2, 'both accepted')
    const base = ['rmi', '-u', AMQP_URL, '-a', agentd.queue, '-t', 'Admin.cancel']
    const bySn = await gofer([...base, one.sn])
    assert.equal(bySn.code, 0, bySn.stderr)
    assert.match(bySn.stdout, new RegExp(one.sn))
    await assert.rejects(answers[0]!, Cancelled)
    const byCriteria = await gofer([...base, 'criteria={"match": {"batch": 8}}'])
    assert.equal(byCriteria.code, 0, byCriteria.stderr)
    assert.match(byCriteria.stdout, new RegExp(two.sn))
    await assert.rejects(answers[1]!, Cancelled)
    const unknown = await gofer([...base, 'no-such-sn'])
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stdout + unknown.stderr, /serial number \(no-such-sn\), not-found/)
    await blocker
  })
})
