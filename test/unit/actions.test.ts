// The @action scheduler on a fake clock: intervals, cron, run-once, failures, no overlap, stop.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ActionScheduler, scheduleOf, timedeltaText } from '../../src/agent/actions.js'
import { action } from '../../src/rmi/decorators.js'
import { FakeClock, recordingLogger } from '../support/fake-clock.js'

const MIN = 60_000

describe('@action scheduler', () => {
  it('runs an interval action at start, then every interval', async () => {
    const clock = new FakeClock()
    const runs: number[] = []
    const exports = { tick: action({ minutes: 10 })(function tick() { runs.push(clock.now()) }) }
    const s = ActionScheduler.fromExports('demo', exports, recordingLogger().log, clock)
    const t0 = clock.now()
    s.start()
    await clock.advance(35 * MIN)
    assert.deepEqual(runs.map(t => (t - t0) / MIN), [0, 10, 20, 30])
    await s.stop()
    await clock.advance(60 * MIN)
    assert.equal(runs.length, 4, 'no run after stop')
    assert.equal(clock.pending, 0)
  })

  it('adds up weeks, days, hours, minutes and seconds', () => {
    const s = scheduleOf({ weeks: 1, days: 1, hours: 1, minutes: 1, seconds: 1.5 })
    assert.deepEqual(s, { kind: 'interval', ms: 604_800_000 + 86_400_000 + 3_600_000 + 60_000 + 1500 })
  })

  it('logs a failing action and keeps its schedule', async () => {
    const clock = new FakeClock()
    const { log, records } = recordingLogger()
    let calls = 0
    const exports = { flaky: action({ seconds: 30 })(async function flaky() { calls++; throw new Error(`boom ${calls}`) }) }
    const s = ActionScheduler.fromExports('demo', exports, log, clock)
    s.start()
    await clock.advance(95_000)
    assert.equal(calls, 4)
    const errors = records.filter(r => r.level === 'error')
    assert.equal(errors.length, 4)
    assert.match(String(errors[0]!.args[1]), /action demo\.flaky failed: boom 1/)
    assert.equal(s.actions[0]!.failures, 4)
    await s.stop()
  })

  it('runs @action() once, at start', async () => {
    const clock = new FakeClock()
    let calls = 0
    const s = ActionScheduler.fromExports('demo', { warm: action()(function warm() { calls++ }) }, recordingLogger().log, clock)
    s.start()
    await clock.advance(365 * 86_400_000)
    assert.equal(calls, 1)
    assert.equal(clock.pending, 0)
    await s.stop()
  })

  it('runs a cron action at each match of its pattern', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 0, 3, 0))
    const at: string[] = []
    const exports = { sweep: action({ cron: '*/5 * * * *' })(function sweep() { at.push(new Date(clock.now()).toISOString().slice(11, 16)) }) }
    const s = ActionScheduler.fromExports('demo', exports, recordingLogger().log, clock)
    s.start()
    await clock.advance(17 * MIN)
    // Minutes are matched in local time; at a whole-hour offset the minutes are the same.
    assert.deepEqual(at.map(t => t.slice(3)), ['05', '10', '15', '20'])
    await s.stop()
  })

  it('never overlaps runs of one action; the next run follows a slow one', async () => {
    const clock = new FakeClock()
    let running = 0
    let maxRunning = 0
    let release: (() => void) | null = null
    const exports = {
      slow: action({ seconds: 10 })(async function slow() {
        running++
        maxRunning = Math.max(maxRunning, running)
        await new Promise<void>(r => (release = r))
        running--
      }),
    }
    const s = ActionScheduler.fromExports('demo', exports, recordingLogger().log, clock)
    s.start()
    await clock.advance(60_000)
    assert.equal(s.actions[0]!.runs, 1, 'still in the first run')
    release!()
    await clock.advance(0)
    assert.equal(s.actions[0]!.runs, 2, 'overdue run starts once the slow one ends')
    assert.equal(maxRunning, 1)
    const stopping = s.stop(5_000)
    release!()
    await stopping
  })

  it('stop() waits for a run in progress', async () => {
    const clock = new FakeClock()
    let done = false
    const exports = { job: action({ hours: 1 })(async function job() { await new Promise(r => setTimeout(r, 50)); done = true }) }
    const s = ActionScheduler.fromExports('demo', exports, recordingLogger().log, clock)
    s.start()
    await clock.advance(0)
    assert.equal(done, false, 'the run is under way')
    await s.stop()
    assert.equal(done, true)
  })

  it('chains timers for intervals beyond setTimeout range', async () => {
    const clock = new FakeClock()
    let calls = 0
    const s = ActionScheduler.fromExports('demo', { monthly: action({ weeks: 5 })(function monthly() { calls++ }) }, recordingLogger().log, clock)
    s.start()
    await clock.advance(34 * 86_400_000)
    assert.equal(calls, 1)
    await clock.advance(2 * 86_400_000)
    assert.equal(calls, 2)
    await s.stop()
  })

  it('finds actions on instance methods (one instance), static methods and functions', async () => {
    const clock = new FakeClock()
    const seen: string[] = []
    class Heart {
      beats = 0
      beat() { this.beats++; seen.push(`beat ${this.beats}`) }
      static census() { seen.push(`census ${this.name}`) }
    }
    action({ seconds: 1 })(Heart.prototype.beat)
    action()(Heart.census)
    const s = ActionScheduler.fromExports('demo', { Heart, log: action()(function log() { seen.push('log') }) }, recordingLogger().log, clock)
    s.start()
    await clock.advance(1000)
    assert.deepEqual(seen.sort(), ['beat 1', 'beat 2', 'census Heart', 'log'])
    assert.deepEqual(s.lines(), ['Heart.beat() 0:00:01', 'Heart.census() once', 'demo.log() once'])
    await s.stop()
  })

  it('refuses bad schedules with the action named', () => {
    assert.throws(() => ActionScheduler.fromExports('demo', { bad: action({ cron: 'every day' })(function bad() {}) }, recordingLogger().log), /@action demo\.bad: cron pattern "every day"/)
    assert.throws(() => ActionScheduler.fromExports('demo', { zero: action({ seconds: 0 })(function zero() {}) }, recordingLogger().log), /@action demo\.zero: interval must be at least 1 ms/)
    assert.throws(() => action({ minutes: -1 }), /minutes must be a number >= 0/)
    assert.throws(() => action({ minutes: 1, cron: '* * * * *' })(() => 1), /either cron or an interval/)
  })

  it('shows intervals as Python timedelta text, as gofer does', () => {
    assert.equal(timedeltaText(90_000), '0:01:30')
    assert.equal(timedeltaText(600_000), '0:10:00')
    assert.equal(timedeltaText(86_400_000), '1 day, 0:00:00')
    assert.equal(timedeltaText(36_500 * 86_400_000), '36500 days, 0:00:00')
    assert.equal(timedeltaText(1500), '0:00:01.500000')
  })
})
