// Context.current() follows each call across awaits, also while the storage is switched off
// between calls (Context.run disables AsyncLocalStorage when no call runs, to spare every other
// promise its hook).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Context } from '../../src/rmi/context.js'

function context(sn: string): Context {
  return new Context(sn, null, null)
}

describe('Context.run', () => {
  it('gives overlapping async calls their own context after every await', async () => {
    const seen: string[] = []
    const call = (sn: string, delays: number[]) => Context.run(context(sn), async () => {
      for (const ms of delays) {
        await sleep(ms)
        seen.push(`${sn}:${Context.current().sn}`)
      }
      return Context.current().sn
    })
    const results = await Promise.all([call('a', [5, 1, 8]), call('b', [1, 9, 2]), call('c', [3, 3, 3])])
    assert.deepEqual(results, ['a', 'b', 'c'])
    assert.equal(seen.length, 9)
    for (const entry of seen) {
      const [sn, current] = entry.split(':')
      assert.equal(current, sn, entry)
    }
  })

  it('follows a plain function that returns a promise into its continuations', async () => {
    const sn = await Context.run(context('then'), () => sleep(2).then(() => Context.current().sn))
    assert.equal(sn, 'then')
  })

  it('works again for the next call once all calls have ended, and is detached outside calls', async () => {
    assert.equal(await Context.run(context('first'), async () => {
      await sleep(1)
      return Context.current().sn
    }), 'first')
    assert.equal(Context.current().sn, null)
    assert.equal(Context.run(context('sync'), () => Context.current().sn), 'sync')
    assert.equal(Context.current().sn, null)
    assert.equal(await Context.run(context('second'), async () => {
      await sleep(1)
      return Context.current().sn
    }), 'second')
  })

  it('keeps the context of a call still running when another one throws or rejects', async () => {
    const long = Context.run(context('long'), async () => {
      await sleep(10)
      return Context.current().sn
    })
    assert.throws(() => Context.run(context('sync-throw'), () => {
      throw new Error('boom')
    }), /boom/)
    await assert.rejects(Context.run(context('async-reject'), async () => {
      await sleep(1)
      throw new Error('late boom')
    }), /late boom/)
    assert.equal(await long, 'long')
  })
})
