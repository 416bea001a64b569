// Deadlines: one timer for many requests that must be journaled if still unanswered after a delay.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Deadlines } from '../../src/agent/deadlines.js'

describe('Deadlines', () => {
  it('runs `due` once for each entry still present after the delay, oldest first, and never for removed ones', async () => {
    const due: string[] = []
    const deadlines = new Deadlines<string>(30, entry => due.push(entry))
    deadlines.add('a')
    deadlines.add('b')
    deadlines.add('c')
    deadlines.delete('b')
    assert.deepEqual(due, [])
    await sleep(15)
    deadlines.add('d')
    assert.deepEqual(due, [])
    await sleep(30)
    assert.deepEqual(due, ['a', 'c'])
    await sleep(20)
    assert.deepEqual(due, ['a', 'c', 'd'])
    assert.equal(deadlines.size, 0)
  })

  it('does nothing after clear()', async () => {
    const due: number[] = []
    const deadlines = new Deadlines<number>(5, entry => due.push(entry))
    deadlines.add(1)
    deadlines.clear()
    await sleep(20)
    assert.deepEqual(due, [])
  })

  it('refuses a delay that is not positive', () => {
    assert.throws(() => new Deadlines(0, () => undefined), /afterMs/)
  })
})
