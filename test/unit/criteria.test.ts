// gofer's cancellation criteria (reference/gofer.md §4.14) and the tracker Admin.cancel uses.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { build, InvalidOperator } from '../../src/rmi/criteria.js'
import { CancelledError, Tracker } from '../../src/rmi/tracker.js'
import { failureOf } from '../../src/rmi/failure.js'

describe('criteria', () => {
  it('match: every given key equals the locator value; keys the locator lacks count as matching', () => {
    const c = build({ match: { task: 'backup', host: 'a' } })
    assert.equal(c({ task: 'backup', host: 'a', extra: 1 }), true)
    assert.equal(c({ task: 'backup', host: 'b' }), false)
    assert.equal(c({ task: 'backup' }), true)
    assert.equal(c({ other: 1 }), true)
  })

  it('match never matches an empty or non-object locator, nor with empty criteria', () => {
    assert.equal(build({ match: { a: 1 } })({}), false)
    assert.equal(build({ match: { a: 1 } })(null), false)
    assert.equal(build({ match: { a: 1 } })('a'), false)
    assert.equal(build({ match: {} })({ a: 1 }), false)
  })

  it('eq, neq compare JSON values structurally', () => {
    assert.equal(build({ eq: { a: [1, 2] } })({ a: [1, 2] }), true)
    assert.equal(build({ eq: 10 })(11), false)
    assert.equal(build({ neq: 10 })(11), true)
    assert.equal(build({ neq: { a: 1 } })({ a: 1 }), false)
  })

  it('gt, lt order numbers and strings; other types never match', () => {
    assert.equal(build({ gt: 10 })(11), true)
    assert.equal(build({ gt: 10 })(10), false)
    assert.equal(build({ lt: 'm' })('a'), true)
    assert.equal(build({ lt: 10 })('a'), false)
    assert.equal(build({ gt: 10 })(null), false)
  })

  it('in: the locator is one of the list', () => {
    assert.equal(build({ in: [1, 2, { a: 1 }] })({ a: 1 }), true)
    assert.equal(build({ in: [1, 2] })(3), false)
  })

  it('and, or take exactly two sub-criteria and nest', () => {
    const between = build({ and: [{ gt: 1 }, { lt: 10 }] })
    assert.deepEqual([0, 5, 10].map(between), [false, true, false])
    const nested = build({ or: [{ eq: 10 }, { or: [{ eq: 1 }, { eq: 2 }] }] })
    assert.deepEqual([1, 2, 3, 10].map(nested), [true, true, false, true])
    assert.throws(() => build({ and: [{ eq: 1 }] }), InvalidOperator)
  })

  it('an unknown operator is InvalidOperator "<op> not supported"; {} matches nothing', () => {
    assert.throws(() => build({ like: 'x' }), (e: unknown) => e instanceof InvalidOperator && e.message === 'like not supported')
    assert.throws(() => build({ and: [{ eq: 1 }, { bogus: 2 }] }), /bogus not supported/)
    assert.throws(() => build('eq'), InvalidOperator)
    assert.equal(build({})({ a: 1 }), false)
    const failure = failureOf(new InvalidOperator('x not supported'), 'p')
    assert.equal(failure.xclass, 'InvalidOperator')
    assert.equal(failure.xmodule, 'gofer.rmi.criteria')
  })
})

describe('tracker', () => {
  it('cancel(sn): newly cancelled once, then nothing; signal aborts with CancelledError', () => {
    const tracker = new Tracker()
    const entry = tracker.add('sn-1', { task: 'x' })
    assert.deepEqual(tracker.cancelRequests({ sn: 'sn-1' }), ['sn-1'])
    assert.equal(entry.cancelled, true)
    assert.ok(entry.signal.reason instanceof CancelledError)
    assert.deepEqual(tracker.cancelRequests({ sn: 'sn-1' }), [])
    entry.done()
    assert.equal(tracker.size, 0)
  })

  it('an unknown sn raises gofer\'s "serial number (<sn>), not-found" as builtins.Exception', () => {
    const tracker = new Tracker()
    assert.throws(() => tracker.cancelRequests({ sn: 'nope' }), (e: unknown) => {
      const f = failureOf(e, 'p')
      return f.xclass === 'Exception' && f.xmodule === 'builtins' && (e as Error).message === 'serial number (nope), not-found'
    })
  })

  it('criteria replace sn and cancel every match not yet cancelled', () => {
    const tracker = new Tracker()
    const a = tracker.add('a', { group: 1 })
    const b = tracker.add('b', { group: 1 })
    const c = tracker.add('c', { group: 2 })
    tracker.cancel('b')
    assert.deepEqual(tracker.cancelRequests({ sn: 'c', criteria: { match: { group: 1 } } }), ['a'])
    assert.equal(a.cancelled && b.cancelled && !c.cancelled, true)
    assert.deepEqual(tracker.cancelRequests({}), [])
  })

  it('the Cancelled reply: xclass Cancelled from gofer.rmi.tracker', () => {
    const f = failureOf(new CancelledError('sn-9'), 'plugin')
    assert.equal(f.xclass, 'Cancelled')
    assert.equal(f.xmodule, 'gofer.rmi.tracker')
    assert.deepEqual(f.xargs, ['request sn-9 cancelled'])
    assert.equal(f.xstate.sn, 'sn-9')
  })
})
