// Deadlines: one timer for many requests that must be journaled if still unanswered after a delay.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Deadlines } from '../../src/agent/deadlines.js'
import { systemClock } from '../../src/agent/actions.js'
import { FakeClock } from '../support/fake-clock.js'

describe('Deadlines', () => {
  it('runs `due` once for each entry still present after the delay, oldest first, and never for removed ones', async () => {
    const clock = new FakeClock()
    const due: string[] = []
    const deadlines = new Deadlines<string>(100, entry => due.push(entry), clock)
    deadlines.add('a')
    deadlines.add('b')
    deadlines.add('c')
    deadlines.delete('b')
    await clock.advance(50)
    deadlines.add('d')
    assert.deepEqual(due, [])
    await clock.advance(50)
    assert.deepEqual(due, ['a', 'c'], 'due at 100')
    assert.equal(clock.pending, 1, 'the timer is armed again for d')
    await clock.advance(49)
    assert.deepEqual(due, ['a', 'c'])
    await clock.advance(1)
    assert.deepEqual(due, ['a', 'c', 'd'], 'd due at 150')
    assert.equal(deadlines.size, 0)
    assert.equal(clock.pending, 0, 'no timer left when nothing waits')
  })

  it('does nothing after clear()', async () => {
    const clock = new FakeClock()
    const due: number[] = []
    const deadlines = new Deadlines<number>(5, entry => due.push(entry), clock)
    deadlines.add(1)
    deadlines.clear()
    await clock.advance(20)
    assert.deepEqual(due, [])
    assert.equal(clock.pending, 0)
  })

  it('works on real timers', async () => {
    const due: string[] = []
    const deadlines = new Deadlines<string>(5, entry => due.push(entry), systemClock)
    deadlines.add('x')
    await sleep(40)
    assert.deepEqual(due, ['x'])
  })

  it('refuses a delay that is not positive', () => {
    assert.throws(() => new Deadlines(0, () => undefined), /afterMs/)
  })
})
