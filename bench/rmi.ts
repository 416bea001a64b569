// `npm run bench`: gofer RMI against the raw amqplib floor on the same RabbitMQ, in one run.
//
//   1. floor, sequential: amqplib requester here, amqplib responder in a forked child
//      (bench/floor-responder.ts); one reply per request
//   2. floor, pipelined: BENCH_PIPELINE requests back to back, time until every reply is in
//   3. the same two with gofer's message pattern in raw amqplib (three confirmed replies per call,
//      ack after the result is confirmed, every reply acked): what the wire protocol itself costs
//   4. gofer, sequential synchronous calls: Agent here, goferd as a separate process
//   5. gofer, pipelined synchronous calls (BENCH_WINDOW in flight), plus asynchronous calls with
//      a reply queue + ReplyConsumer, and fire-and-forget calls (wait 0)
//   6. the AMQP 1.0 path on the same broker (RabbitMQ's amqp1_0 plugin): a raw rhea floor
//      (bench/floor10.ts, responder in a forked child, bench/floor10-responder.ts) and gofer RMI
//      over `amqp-1-0+amqp://…` (a second goferd and an Agent with that URL), sequential and
//      pipelined synchronous calls
//   7. a Markdown table with the ratios to the floor (for the AMQP 1.0 rows: the rhea floor),
//      PASS/MISS against the targets, and the CPU time per call of caller, server and broker
// Subjects run in alternating blocks so that each sees the same background load.
//
// Environment: GOFER_BENCH_URL or GOFER_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672),
// BENCH_CALLS (2000), BENCH_WARMUP (200), BENCH_ROUNDS (sequential blocks, 4), BENCH_PIPELINE
// (calls per pipelined block, 5000), BENCH_PIPELINE_ROUNDS (2), BENCH_WINDOW (gofer calls in
// flight, 1000), BENCH_THREADS (goferd [main] threads, 4), BENCH_GOFERD_NODE_ARGS (e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_GOFERD_LOG_LEVEL (warn).
// AMQP 1.0: BENCH_AMQP10 (1; 0 skips it), BENCH_AMQP10_URL (default: amqp-1-0+ and the 0-9-1 URL),
// BENCH_CALLS_AMQP10 (1000), BENCH_WARMUP_AMQP10 (100), BENCH_PIPELINE_AMQP10 (calls per
// pipelined block, 2000; 0 skips the pipelined 1.0 rows).
// Exit status: 0 when every measurement ran (even if a target is missed), 1 on an error,
// 2 when the broker is not reachable.
import { randomUUID } from 'node:crypto'
import { cpus, loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { isDeepStrictEqual } from 'node:util'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { CpuMeter, findBrokerPid } from './cpu.js'
import { Floor } from './floor.js'
import { Floor10 } from './floor10.js'
import { Goferd } from './goferd.js'
import {
  amqplibUrl, brokerPort, displayUrl, envInt, payload, reachable, summarizeLatencies, summarizeThroughput, withDeadline, type Summary,
} from './util.js'

// Before the library is loaded: its logger reads the level once.
process.env.GOFER_LOG_LEVEL ??= 'warn'
const { Agent, ReplyConsumer } = await import('../src/index.js')

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const URL_ = process.env.GOFER_BENCH_URL || process.env.GOFER_TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672'
const WARMUP = envInt('BENCH_WARMUP', 200)
const CALLS = Math.max(1, envInt('BENCH_CALLS', 2000))
const PIPELINE = Math.max(1, envInt('BENCH_PIPELINE', 5000))
const WINDOW = Math.max(1, envInt('BENCH_WINDOW', 1000))
const THREADS = Math.max(1, envInt('BENCH_THREADS', 4))
const ROUNDS = Math.max(1, envInt('BENCH_ROUNDS', 4))
const PIPELINE_ROUNDS = Math.max(1, envInt('BENCH_PIPELINE_ROUNDS', 2))
const GOFERD_NODE_ARGS = (process.env.BENCH_GOFERD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
const AMQP10 = process.env.BENCH_AMQP10 !== '0'
const URL10 = process.env.BENCH_AMQP10_URL || `amqp-1-0+${amqplibUrl(URL_)}`
const CALLS10 = Math.max(1, envInt('BENCH_CALLS_AMQP10', 1000))
const WARMUP10 = envInt('BENCH_WARMUP_AMQP10', 100)
const PIPELINE10 = envInt('BENCH_PIPELINE_AMQP10', 2000)

/** The whole run must end well within 2 minutes. */
const RUN_DEADLINE_MS = 110_000
/** Per phase: generous for the sizes above on a busy 2-core machine, still bounded. */
const PHASE_MS = 45_000

/** Targets: gofer's sequential p50 at most 1.5× the floor's; pipelined throughput at least 0.6×. */
const TARGET_P50 = 1.5
const TARGET_RATE = 0.6

type AgentT = InstanceType<typeof Agent>

interface Row {
  name: string
  result: Summary
  /** CPU µs per call: caller / server / broker. */
  cpu: string
  /** Which target applies to this row, if any. */
  target?: 'p50' | 'rate'
  floor?: Summary
}

const cleanups: Array<() => Promise<unknown>> = []
let cleaning: Promise<void> | null = null

/** Run the registered cleanups in reverse order, each bounded; never throws. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      await withDeadline(Promise.resolve().then(step), 20_000, 'cleanup step').catch(error => {
        console.error(`warning: cleanup: ${(error as Error).message}`)
      })
    }
  })()
  return cleaning
}

let aborting = false

/** Report, clean up and exit; only the first reason counts (cleanup makes calls in flight fail). */
async function abort(message: string, code: number): Promise<never> {
  if (aborting) return new Promise<never>(() => undefined)
  aborting = true
  console.error(`bench: ${message}`)
  await withDeadline(cleanup(), 30_000, 'cleanup').catch(() => undefined)
  process.exit(code)
}

/** Delete queues on a connection of our own (goferd's request queue, leftovers). */
async function deleteQueues(url: string, names: string[]): Promise<void> {
  const model = await amqp.connect(amqplibUrl(url), { noDelay: true, timeout: 5000 })
  model.on('error', () => undefined)
  try {
    for (const name of names) {
      const ch = await model.createChannel()
      ch.on('error', () => undefined)
      await ch.deleteQueue(name).catch(() => undefined)
      await ch.close().catch(() => undefined)
    }
  } finally {
    await model.close().catch(() => undefined)
  }
}

/** Run `call` `total` times with at most `window` in flight (a sliding window). */
async function inFlight(total: number, window: number, call: () => Promise<unknown>): Promise<void> {
  let started = 0
  const worker = async () => {
    while (started < total) {
      started++
      await call()
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, total) }, worker))
}

/** Accumulates one subject's measured blocks: latency samples, wall time, CPU. */
class Measure {
  readonly samples: Float64Array
  private filled = 0
  elapsed = 0
  calls = 0
  constructor(readonly meter: CpuMeter, sequentialCalls = 0) {
    this.samples = new Float64Array(sequentialCalls)
  }

  /** `n` sequential calls, each timed. */
  async sequential(n: number, call: () => Promise<unknown>): Promise<void> {
    await this.meter.around(async () => {
      const begin = performance.now()
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        await call()
        this.samples[this.filled++] = performance.now() - t0
      }
      this.elapsed += performance.now() - begin
    })
    this.calls += n
  }

  /** One pipelined block of `n` calls, timed as a whole. */
  async block(n: number, run: (n: number) => Promise<void>): Promise<void> {
    await this.meter.around(async () => {
      const begin = performance.now()
      await run(n)
      this.elapsed += performance.now() - begin
    })
    this.calls += n
  }

  summary(): Summary {
    return this.filled > 0 ? summarizeLatencies(this.samples.subarray(0, this.filled), this.elapsed) : summarizeThroughput(this.calls, this.elapsed)
  }
}

/** Split `total` into `parts` near-equal positive chunks. */
function chunks(total: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, total))
  return Array.from({ length: n }, (_, i) => Math.floor((total * (i + 1)) / n) - Math.floor((total * i) / n))
}

/** Asynchronous calls: the Agent resolves once the request is confirmed; results come to a ReplyConsumer. */
async function asyncCaller(url: string, queue: string, body: unknown): Promise<(n: number) => Promise<void>> {
  const replyQueue = `bench.replies.${randomUUID()}`
  const consumer = new ReplyConsumer(url, replyQueue, { temporary: true })
  const agent = new Agent(url, queue, { reply: replyQueue })
  let succeeded = 0
  let failure: Error | null = null
  let wanted = 0
  let done: (() => void) | null = null
  cleanups.push(async () => {
    await agent.close()
    await consumer.stop()
  })
  await consumer.start({
    succeeded: () => {
      succeeded++
      if (done && succeeded >= wanted) done()
    },
    failed: reply => {
      failure ??= new Error(`async call failed: ${reply.error?.message}`)
    },
    rejected: reply => {
      failure ??= new Error(`async call rejected: ${reply.description}`)
    },
  })
  return async (n: number) => {
    succeeded = 0
    wanted = n
    const all = new Promise<void>(resolve => {
      done = resolve
    })
    await inFlight(n, WINDOW, () => agent.call({ classname: 'Bench', method: 'echo', args: [body] }))
    await all
    done = null
    if (failure) throw failure
  }
}

/** Fire-and-forget: wait 0 calls (resolved once confirmed); a block ends when goferd has run them all. */
function fireAndForgetCaller(url: string, queue: string, probe: AgentT, body: unknown): (n: number) => Promise<void> {
  const agent = new Agent(url, queue, { wait: 0 })
  cleanups.push(() => agent.close())
  const bench = probe.stub('Bench')
  return async (n: number) => {
    await bench.reset!()
    await inFlight(n, WINDOW, () => agent.call({ classname: 'Bench', method: 'tick', args: [body] }))
    // Each ticks() probe queues up behind the requests still waiting, so this polls gently.
    while (((await bench.ticks!()) as number) < n);
  }
}

function fmt(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)
}

function table(rows: Row[]): string {
  const lines = [
    '| measurement | calls | p50 ms | p99 ms | calls/s | p50 / floor | calls/s / floor | target | verdict | CPU µs/call caller / server / broker |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |',
  ]
  for (const row of rows) {
    const r = row.result
    const p50Ratio = row.floor && r.p50 !== null && row.floor.p50 ? r.p50 / row.floor.p50 : null
    const rateRatio = row.floor ? r.rate / row.floor.rate : null
    let target = ''
    let verdict = ''
    if (row.target === 'p50' && p50Ratio !== null) {
      target = `p50 ≤ ${TARGET_P50}×`
      verdict = p50Ratio <= TARGET_P50 ? 'PASS' : 'MISS'
    } else if (row.target === 'rate' && rateRatio !== null) {
      target = `calls/s ≥ ${TARGET_RATE}×`
      verdict = rateRatio >= TARGET_RATE ? 'PASS' : 'MISS'
    }
    lines.push(`| ${row.name} | ${r.calls} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.rate, 0)} | ${p50Ratio === null ? '' : `${fmt(p50Ratio, 2)}×`} | ${rateRatio === null ? '' : `${fmt(rateRatio, 2)}×`} | ${target} | ${verdict} | ${row.cpu} |`)
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => void abort(`the whole run exceeded ${RUN_DEADLINE_MS / 1000} s`, 1), RUN_DEADLINE_MS)
  watchdog.unref()
  process.once('SIGINT', () => void abort('interrupted', 130))
  process.once('SIGTERM', () => void abort('terminated', 143))

  if (!(await reachable(URL_))) {
    console.error(`bench: RabbitMQ is not reachable at ${displayUrl(URL_)}; start it with: bash scripts/brokers.sh start`)
    process.exit(2)
  }
  const body = payload()
  const bodyBytes = Buffer.from(JSON.stringify(body), 'utf8')

  const floor = new Floor(URL_, 'plain')
  const pattern = new Floor(URL_, 'gofer')
  cleanups.push(() => floor.stop())
  cleanups.push(() => pattern.stop())
  try {
    await withDeadline(Promise.all([floor.start(), pattern.start()]), 20_000, 'floor start')
  } catch (error) {
    const why = (error as Error).message
    const hint = /ECONNREFUSED|ECONNRESET|timeout|Socket closed/i.test(why) ? '; start it with: bash scripts/brokers.sh start' : ''
    return abort(`cannot set up the amqplib floor on ${displayUrl(URL_)}: ${why}${hint}`, /ACCESS_REFUSED|ECONNREFUSED/.test(why) ? 2 : 1)
  }

  const goferd = new Goferd({ root: ROOT, url: URL_, threads: THREADS, nodeArgs: GOFERD_NODE_ARGS })
  cleanups.push(() => deleteQueues(URL_, [goferd.queue]))
  cleanups.push(() => goferd.stop())
  goferd.spawn()
  const agent = new Agent(URL_, goferd.queue, { wait: 30 })
  cleanups.push(() => agent.close())
  await goferd.waitReady(() => agent.call({ classname: 'Admin', method: 'hello' }, { wait: 2 }), 30_000)

  console.log(`# gofer RMI benchmark`)
  console.log('')
  console.log(`- date: ${new Date().toISOString()}`)
  console.log(`- node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? '?'}), load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
  console.log(`- broker: RabbitMQ ${floor.serverVersion} at ${displayUrl(URL_)}`)
  console.log(`- payload ${bodyBytes.length} B JSON; sequential: ${WARMUP} warm-up + ${CALLS} calls in ${ROUNDS} blocks; pipelined: ${PIPELINE_ROUNDS} blocks of ${PIPELINE} calls (gofer: ${WINDOW} in flight); goferd pid ${goferd.pid}, threads=${THREADS}`)
  if (AMQP10) console.log(`- AMQP 1.0 (${displayUrl(URL10)}): ${WARMUP10} warm-up + ${CALLS10} sequential calls in ${ROUNDS} blocks${PIPELINE10 > 0 ? `; pipelined: 1 block of ${PIPELINE10} calls (gofer: ${WINDOW} in flight)` : ''}`)
  console.log('')

  const phase = <T>(what: string, run: () => Promise<T>) => withDeadline(run(), PHASE_MS, what)
  const brokerPid = findBrokerPid(brokerPort(URL_))
  const bench = agent.stub('Bench')
  const echoed = await bench.echo!(body)
  if (!isDeepStrictEqual(echoed, body)) throw new Error(`Bench.echo returned ${JSON.stringify(echoed)}, expected ${JSON.stringify(body)}`)

  interface Subject {
    what: string
    call: () => Promise<unknown>
    run: (n: number) => Promise<void>
    seq: Measure
    pipe: Measure
  }
  const subject = (what: string, serverPid: () => number | undefined, call: () => Promise<unknown>, run: (n: number) => Promise<void>): Subject => ({
    what, call, run,
    seq: new Measure(new CpuMeter(serverPid, brokerPid), CALLS),
    pipe: new Measure(new CpuMeter(serverPid, brokerPid)),
  })
  const subjects = [
    subject('floor', () => floor.responderPid, () => floor.call(bodyBytes), n => floor.pipelined(bodyBytes, n)),
    subject('gofer pattern', () => pattern.responderPid, () => pattern.call(bodyBytes), n => pattern.pipelined(bodyBytes, n)),
    subject('gofer', () => goferd.pid, () => bench.echo!(body),
      n => inFlight(n, WINDOW, () => agent.call({ classname: 'Bench', method: 'echo', args: [body] }))),
  ]
  // Block i runs the subjects in a rotated order, so that none is always first or last and all
  // see the same background load on a shared machine.
  const rotated = (i: number) => subjects.map((_, k) => subjects[(k + i) % subjects.length]!)

  await phase('warm-up', async () => {
    for (const s of subjects) for (let i = 0; i < WARMUP; i++) await s.call()
  })
  for (const [i, n] of chunks(CALLS, ROUNDS).entries()) {
    for (const s of rotated(i)) await phase(`${s.what} sequential`, () => s.seq.sequential(n, s.call))
  }
  await phase('pipelined warm-up', async () => {
    for (const s of subjects) await s.run(Math.min(WINDOW, PIPELINE))
  })
  for (let i = 0; i < PIPELINE_ROUNDS; i++) {
    for (const s of rotated(i)) await phase(`${s.what} pipelined`, () => s.pipe.block(PIPELINE, s.run))
  }
  const [floorS, patternS, goferS] = subjects as [Subject, Subject, Subject]

  // Informational: the other call modes, one block each after a short warm-up.
  const asyncRun = await asyncCaller(URL_, goferd.queue, body)
  const asyncPipe = new Measure(new CpuMeter(() => goferd.pid, brokerPid))
  await phase('gofer asynchronous warm-up', () => asyncRun(Math.min(WINDOW, PIPELINE)))
  await phase('gofer asynchronous', () => asyncPipe.block(PIPELINE, asyncRun))
  const fnfRun = fireAndForgetCaller(URL_, goferd.queue, agent, body)
  const fnfPipe = new Measure(new CpuMeter(() => goferd.pid, brokerPid))
  await phase('gofer fire-and-forget warm-up', () => fnfRun(Math.min(WINDOW, PIPELINE)))
  await phase('gofer fire-and-forget', () => fnfPipe.block(PIPELINE, fnfRun))

  const row = (name: string, m: Measure, extra: Partial<Row> = {}): Row => ({ name, result: m.summary(), cpu: m.meter.perCall(m.calls), ...extra })

  // The AMQP 1.0 path, after the 0-9-1 subjects so that its processes do not disturb them. A
  // failure here still prints the 0-9-1 table, then the run exits 1.
  const rows10: Row[] = []
  let error10: Error | null = null
  let amqp10: { floor: Summary; pattern: Summary; gofer: Summary } | null = null
  if (AMQP10) {
    try {
      amqp10 = await amqp10Part(body, bodyBytes, brokerPid, row, rows10)
    } catch (error) {
      error10 = error as Error
    }
  }
  const floorSeq = floorS.seq.summary()
  const floorPipe = floorS.pipe.summary()
  const rows: Row[] = [
    row('amqplib floor, sequential', floorS.seq),
    row("amqplib, gofer's message pattern, sequential", patternS.seq, { floor: floorSeq }),
    row('gofer sync calls, sequential', goferS.seq, { floor: floorSeq, target: 'p50' }),
    row('amqplib floor, pipelined', floorS.pipe),
    row("amqplib, gofer's message pattern, pipelined", patternS.pipe, { floor: floorPipe }),
    row(`gofer sync calls, pipelined (${WINDOW} in flight)`, goferS.pipe, { floor: floorPipe, target: 'rate' }),
    row('gofer async calls + ReplyConsumer, pipelined', asyncPipe, { floor: floorPipe }),
    row('gofer fire-and-forget (wait 0), pipelined', fnfPipe, { floor: floorPipe }),
    ...rows10,
  ]
  console.log(table(rows))
  console.log('')
  const ratio = (a: number | null, b: number | null) => (a && b ? `${(a / b).toFixed(2)}×` : '?')
  const g = { seq: goferS.seq.summary(), pipe: goferS.pipe.summary() }
  const p = { seq: patternS.seq.summary(), pipe: patternS.pipe.summary() }
  console.log(`gofer against the same message pattern in raw amqplib: sequential p50 ${ratio(g.seq.p50, p.seq.p50)}, pipelined calls/s ${ratio(g.pipe.rate, p.pipe.rate)}.`)
  if (amqp10) {
    console.log(`gofer over AMQP 1.0 against the same message pattern in raw rhea: sequential p50 ${ratio(amqp10.gofer.p50, amqp10.pattern.p50)}.`)
    console.log(`AMQP 1.0 against 0-9-1, sequential p50: rhea floor ${ratio(amqp10.floor.p50, floorSeq.p50)} the amqplib floor, gofer over 1.0 ${ratio(amqp10.gofer.p50, g.seq.p50)} gofer over 0-9-1.`)
  }
  console.log('')
  console.log('- floor: one persistent, confirmed, mandatory request to a durable queue (manual ack, prefetch 100); one')
  console.log('  persistent reply to an exclusive queue consumed with noAck; the responder acks right after replying.')
  console.log("- gofer's message pattern, raw amqplib: the same request; three persistent confirmed replies (accepted, started,")
  console.log('  result); the request acked once the result is confirmed; every reply acked by the caller. Its ratio to the')
  console.log("  floor is what gofer's wire protocol costs; gofer's ratio to it is what our implementation costs.")
  console.log('- CPU µs/call: caller (this process) / server (responder or goferd) / broker (the RabbitMQ node; anything else')
  console.log('  using it counts too). Ratios use p50 for sequential rows and calls/s for pipelined ones.')
  if (AMQP10) {
    console.log('- AMQP 1.0 rows (RabbitMQ amqp1_0 plugin) compare with the rhea floor, not the amqplib one: rhea requester')
    console.log('  here, rhea responder in a forked child; durable unsettled request to a durable queue (accept not awaited),')
    console.log('  responder credit 100 and manual accept; durable reply to a named `/queue/bench.reply.<uuid>` (no dynamic')
    console.log('  receivers on 3.10), sent on one cached sender per reply address (no anonymous senders); tcp_no_delay.')
    console.log("  gofer's message pattern in raw rhea: three durable replies (status accepted, started, result), the request")
    console.log('  accepted once the broker accepted the result, every reply accepted by the caller.')
  }
  console.log('')

  await cleanup()
  clearTimeout(watchdog)
  if (error10) return abort(`the AMQP 1.0 part failed: ${error10.stack ?? error10.message}`, 1)
}

/**
 * The AMQP 1.0 subjects: the rhea floor and gofer (a goferd of its own, an Agent) with the
 * amqp-1-0+ URL. Appends its rows to `rows`; returns the sequential summaries.
 */
async function amqp10Part(
  body: unknown, bodyBytes: Buffer, brokerPid: number | undefined,
  row: (name: string, m: Measure, extra?: Partial<Row>) => Row, rows: Row[],
): Promise<{ floor: Summary; pattern: Summary; gofer: Summary }> {
  const phase = <T>(what: string, run: () => Promise<T>) => withDeadline(run(), PHASE_MS, what)
  const floor = new Floor10(URL10)
  const pattern = new Floor10(URL10, 'gofer')
  cleanups.push(() => floor.stop())
  cleanups.push(() => pattern.stop())
  await withDeadline(Promise.all([floor.start(), pattern.start()]), 20_000, 'AMQP 1.0 floor start').catch(error => {
    throw new Error(`cannot set up the rhea floor on ${displayUrl(URL10)} (is the rabbitmq_amqp1_0 plugin enabled?): ${(error as Error).message}`)
  })
  const goferd = new Goferd({ root: ROOT, url: URL10, threads: THREADS, nodeArgs: GOFERD_NODE_ARGS })
  cleanups.push(() => deleteQueues(URL10, [goferd.queue]))
  cleanups.push(() => goferd.stop())
  goferd.spawn()
  const agent = new Agent(URL10, goferd.queue, { wait: 30 })
  cleanups.push(() => agent.close())
  await goferd.waitReady(() => agent.call({ classname: 'Admin', method: 'hello' }, { wait: 2 }), 30_000)
  const bench = agent.stub('Bench')
  const echoed = await bench.echo!(body)
  if (!isDeepStrictEqual(echoed, body)) throw new Error(`Bench.echo over AMQP 1.0 returned ${JSON.stringify(echoed)}`)

  const subjects = [
    { what: 'rhea floor', call: () => floor.call(bodyBytes), run: (n: number) => floor.pipelined(bodyBytes, n), pid: () => floor.responderPid },
    { what: "rhea, gofer's pattern", call: () => pattern.call(bodyBytes), run: (n: number) => pattern.pipelined(bodyBytes, n), pid: () => pattern.responderPid },
    {
      what: 'gofer over AMQP 1.0', call: () => bench.echo!(body), pid: () => goferd.pid,
      run: (n: number) => inFlight(n, WINDOW, () => agent.call({ classname: 'Bench', method: 'echo', args: [body] })),
    },
  ].map(s => ({ ...s, seq: new Measure(new CpuMeter(s.pid, brokerPid), CALLS10), pipe: new Measure(new CpuMeter(s.pid, brokerPid)) }))
  await phase('AMQP 1.0 warm-up', async () => {
    for (const s of subjects) for (let i = 0; i < WARMUP10; i++) await s.call()
  })
  for (const [i, n] of chunks(CALLS10, ROUNDS).entries()) {
    for (const s of subjects.map((_, k) => subjects[(k + i) % subjects.length]!)) await phase(`${s.what} sequential`, () => s.seq.sequential(n, s.call))
  }
  if (PIPELINE10 > 0) {
    await phase('AMQP 1.0 pipelined warm-up', async () => {
      for (const s of subjects) await s.run(Math.min(WINDOW, PIPELINE10))
    })
    for (const s of subjects) await phase(`${s.what} pipelined`, () => s.pipe.block(PIPELINE10, s.run))
  }
  const [floorS, patternS, goferS] = subjects as [typeof subjects[0], typeof subjects[0], typeof subjects[0]]
  const floorSeq = floorS.seq.summary()
  rows.push(
    row('rhea floor, AMQP 1.0, sequential', floorS.seq),
    row("rhea, gofer's message pattern, AMQP 1.0, sequential", patternS.seq, { floor: floorSeq }),
    row('gofer sync calls over AMQP 1.0, sequential (vs rhea floor)', goferS.seq, { floor: floorSeq, target: 'p50' }),
  )
  if (PIPELINE10 > 0) {
    rows.push(
      row('rhea floor, AMQP 1.0, pipelined', floorS.pipe),
      row("rhea, gofer's message pattern, AMQP 1.0, pipelined", patternS.pipe, { floor: floorS.pipe.summary() }),
      row(`gofer sync calls over AMQP 1.0, pipelined (${WINDOW} in flight; vs rhea floor)`, goferS.pipe, { floor: floorS.pipe.summary() }),
    )
  }
  return { floor: floorSeq, pattern: patternS.seq.summary(), gofer: goferS.seq.summary() }
}

try {
  await main()
  process.exit(0)
} catch (error) {
  await abort((error as Error).stack ?? String(error), 1)
}
