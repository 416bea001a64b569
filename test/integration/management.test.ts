// goferd's management port on RabbitMQ: show/load/reload/unload through our CLI, a raw socket
// and gofer's Python client behaviour; unload with managed=2 deletes the queue; reload under
// load loses no reply; bad input gets code 1 and a message.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { Plugin } from '../../src/agent/plugin.js'
import { acquireConnection, type ConnectionLease } from '../../src/messaging/registry.js'
import { Agent } from '../../src/rmi/agent.js'
import { gofer, pythonGoferClient, rawRequest } from '../support/mgt-client.js'
import { AMQP_URL } from '../support/paths.js'

const pluginSource = (version: string) => [
  "import { action, Context, remote } from 'gofer'",
  'export class Worker {',
  '  @remote async wait(seconds: number) { const end = Date.now() + seconds * 1000; while (Date.now() < end && !Context.current().cancelled()) await new Promise(r => setTimeout(r, 20)); return Context.current().cancelled() ? "stopped" : "waited" }',
  `  @remote async work(tag: number, ms = 20) { (globalThis as any).workRuns = ((globalThis as any).workRuns ?? 0) + 1; await new Promise(r => setTimeout(r, ms)); return { tag, version: '${version}' } }`,
  `  @remote version() { return '${version}' }`,
  '  @action({ minutes: 10 }) tidy() {}',
  '}',
].join('\n')

describe('management server', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-mgt-'))
  const lib = join(etc, 'lib')
  const id = randomUUID()
  const queues = { worker: `test.mgt.worker.${id}`, extra: `test.mgt.extra.${id}` }
  let daemon: Daemon
  let port: number
  let lease: ConnectionLease
  const agents: Agent[] = []
  const agent = (queue: string): Agent => {
    const a = new Agent(AMQP_URL, queue, { wait: 60 })
    agents.push(a)
    return a
  }
  const mgt = (...args: string[]) => gofer(['mgt', '-p', String(port), ...args])
  const extraConf = join(etc, 'extra', 'extra.conf')

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    mkdirSync(join(etc, 'extra'))
    mkdirSync(lib)
    writeFileSync(join(lib, 'worker.ts'), pluginSource('v1'))
    // Enough functions to make the report larger than gofer's 4 KiB reply buffer.
    writeFileSync(join(lib, 'extra.ts'), [
      "import { action, remote } from 'gofer'",
      ...Array.from({ length: 120 }, (_, i) => `export const function_with_a_long_name_${i} = remote(function function_with_a_long_name_${i}(alpha: number, beta = 2) { return alpha + beta })`),
      "export const heartbeat = action({ cron: '*/5 * * * *' })(function heartbeat() {})",
    ].join('\n'))
    writeFileSync(join(etc, 'plugins', 'worker.conf'), `[main]\nenabled=1\nplugin=${join(lib, 'worker.ts')}\nthreads=4\n[messaging]\nurl=${AMQP_URL}\n[model]\nqueue=${queues.worker}\nmanaged=2\n`)
    writeFileSync(extraConf, `[main]\nenabled=1\nplugin=${join(lib, 'extra.ts')}\n[messaging]\nurl=${AMQP_URL}\n[model]\nqueue=${queues.extra}\nmanaged=2\n`)
    writeFileSync(join(etc, 'agent.conf'), '[management]\nenabled=1\nport=0\n')
    lease = acquireConnection(AMQP_URL)
    daemon = new Daemon({ etc })
    await daemon.start()
    await Plugin.find('worker')!.attached()
    port = daemon.managementAddress!.port
  })

  after(async () => {
    await Promise.all(agents.map(a => a.close()))
    await daemon.stop()
    for (const q of Object.values(queues)) await lease.connection.deleteQueue(q).catch(() => undefined)
    await lease.release()
  })

  it('listens on loopback only by default (localhost = 127.0.0.1)', () => {
    assert.equal(daemon.managementAddress!.address, '127.0.0.1')
  })

  it('show: gofer mgt -s prints the report with every plugin\'s actions', async () => {
    const r = await mgt('-s')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, [
      'Plugins:', '', '  <plugin> worker', '    Classes:', '      <class> Worker', '        Methods:',
      '          version()', '          wait(seconds)', '          work(tag, ms = 20)', '    Functions:', '', 'Actions:', '  Worker.tidy() 0:10:00', '',
    ].join('\n'))
  })

  it('show: answers gofer\'s Python client, which neither half-closes nor reads past 4 KiB', async () => {
    const r = await pythonGoferClient(port, 'show')
    assert.equal(r.code, 0, r.stderr)
    const reply = JSON.parse(r.stdout)
    assert.equal(reply.code, 0)
    assert.match(reply.result, /^Plugins:\n\n {2}<plugin> worker\n/)
    const raw = JSON.parse(await rawRequest(port, '{"args": [], "kwargs": {}, "name": "show"}', false))
    assert.deepEqual(raw, reply)
  })

  it('load: a descriptor outside plugins/, then "already loaded" with exit status 1', async () => {
    const r = await mgt('-l', extraConf)
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
    await Plugin.find('extra')!.attached()
    assert.equal(await agent(queues.extra).stub('extra').function_with_a_long_name_7(40), 42)
    const again = await mgt('-l', extraConf)
    assert.equal(again.code, 1)
    assert.equal(again.stderr, `plugin: ${extraConf}, already loaded\n`)
  })

  it('show: replies larger than 4 KiB arrive whole; actions of all plugins are listed', async () => {
    const r = await mgt('-s')
    assert.equal(r.code, 0)
    assert.ok(r.stdout.length > 4096, `report is ${r.stdout.length} bytes`)
    assert.match(r.stdout, /function_with_a_long_name_119\(alpha, beta = 2\)/)
    assert.match(r.stdout, /\nActions:\n {2}Worker\.tidy\(\) 0:10:00\n {2}extra\.heartbeat\(\) cron \*\/5 \* \* \* \*\n$/)
  })

  it('reload: picks up code changes (fresh import)', async () => {
    assert.equal(await agent(queues.worker).stub('Worker').version(), 'v1')
    writeFileSync(join(lib, 'worker.ts'), pluginSource('v2'))
    const r = await mgt('-r', 'worker')
    assert.deepEqual([r.code, r.stderr], [0, ''])
    await Plugin.find('worker')!.attached()
    assert.equal(await agent(queues.worker).stub('Worker').version(), 'v2')
  })

  it('reload under load loses no reply: calls in flight and calls sent meanwhile are all answered', async () => {
    const worker = agent(queues.worker).stub('Worker')
    const runs = () => ((globalThis as { workRuns?: number }).workRuns ?? 0)
    const runsBefore = runs()
    const before = Array.from({ length: 40 }, (_, i) => worker.work(i, 50))
    await new Promise(r => setTimeout(r, 100))
    writeFileSync(join(lib, 'worker.ts'), pluginSource('v3'))
    const reload = rawRequest(port, JSON.stringify({ args: ['worker'], kwargs: {}, name: 'reload' }))
    await new Promise(r => setTimeout(r, 50))
    const during = Array.from({ length: 20 }, (_, i) => worker.work(100 + i, 5))
    const results = await Promise.all([...before, ...during]) as Array<{ tag: number; version: string }>
    assert.deepEqual(JSON.parse(await reload), { code: 0, result: null })
    assert.deepEqual(results.map(r => r.tag), [...Array.from({ length: 40 }, (_, i) => i), ...Array.from({ length: 20 }, (_, i) => 100 + i)])
    assert.ok(results.slice(0, 10).every(r => r.version === 'v2'), 'the first calls in flight ran on the old code')
    // Until the new code is imported the old plugin keeps consuming, so calls sent during the
    // reload run on either; none is lost, and once it returns only the new code answers.
    assert.ok(results.slice(40).every(r => r.version === 'v2' || r.version === 'v3'))
    assert.equal((await worker.work(999, 1) as { version: string }).version, 'v3')
    // Calls answered during the drain were acked on the paused subscription, not redelivered.
    assert.equal(runs() - runsBefore, 61, 'each call ran once')
  })

  it('unload (managed=2): answers calls in flight, then deletes the queue', async () => {
    const call = agent(queues.extra).stub('extra').function_with_a_long_name_1(1)
    assert.equal(await lease.connection.queueExists(queues.extra), true)
    const r = await mgt('-u', 'extra')
    assert.deepEqual([r.code, r.stderr], [0, ''])
    assert.equal(await call, 3)
    assert.equal(Plugin.find('extra'), null)
    assert.equal(await lease.connection.queueExists(queues.extra), false)
    const show = await mgt('-s')
    assert.doesNotMatch(show.stdout, /extra/)
  })

  it('cancel: by criteria on the caller\'s data and by sn, as Admin.cancel does', async () => {
    const worker = new Agent(AMQP_URL, queues.worker, { wait: 30, data: { job: 7 } })
    agents.push(worker)
    const started = Date.now()
    const call = worker.stub('Worker').wait(20)
    let reply: { code: number; result: unknown } = { code: 1, result: [] }
    for (let i = 0; i < 50 && (reply.code !== 0 || (reply.result as string[]).length === 0); i++) {
      await new Promise(r => setTimeout(r, 50))
      reply = JSON.parse(await rawRequest(port, JSON.stringify({ args: [], kwargs: { criteria: { match: { job: 7 } } }, name: 'cancel' })))
    }
    assert.equal(reply.code, 0)
    assert.equal((reply.result as string[]).length, 1)
    const sn = (reply.result as string[])[0]!
    assert.equal(await call, 'stopped')
    assert.ok(Date.now() - started < 10_000)
    const gone = JSON.parse(await rawRequest(port, JSON.stringify({ args: [], kwargs: { sn }, name: 'cancel' })))
    assert.deepEqual(gone, { code: 1, result: `serial number (${sn}), not-found` })
  })

  it('unload/reload of an unknown plugin: code 1 "not-found", exit status 1', async () => {
    const r = await mgt('-u', 'nope')
    assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'plugin: nope, not-found\n'])
    const raw = JSON.parse(await rawRequest(port, '{"args": ["nope"], "kwargs": {}, "name": "reload"}'))
    assert.deepEqual(raw, { code: 1, result: 'plugin: nope, not-found' })
  })

  it('bad input: garbage, huge, unknown command, missing path; goferd keeps serving', async () => {
    const garbage = JSON.parse(await rawRequest(port, 'hello there'))
    assert.equal(garbage.code, 1)
    assert.match(garbage.result, /^request is not valid JSON/)
    const huge = JSON.parse(await rawRequest(port, Buffer.alloc(3 << 20, 'x')))
    assert.deepEqual(huge, { code: 1, result: 'request too large (limit 1048576 bytes)' })
    const unknown = JSON.parse(await rawRequest(port, '{"args": [], "kwargs": {}, "name": "explode"}', false))
    assert.deepEqual(unknown, { code: 1, result: 'method "explode" not supported (show, load, reload, unload, cancel)' })
    const missing = JSON.parse(await rawRequest(port, '{"args": [], "kwargs": {}, "name": "load"}'))
    assert.deepEqual(missing, { code: 1, result: 'load: a plugin descriptor path is required' })
    const notObject = JSON.parse(await rawRequest(port, '[1, 2]'))
    assert.equal(notObject.code, 1)
    const empty = JSON.parse(await rawRequest(port, ''))
    assert.deepEqual(empty, { code: 1, result: 'empty request' })
    const nofile = await mgt('-l', '/nonexistent/x.conf')
    assert.equal(nofile.code, 1)
    assert.match(nofile.stderr, /^plugin: \/nonexistent\/x\.conf, load failed: .*cannot read \(ENOENT\)/)
    assert.equal((await mgt('-s')).code, 0)
  })

  it('gofer mgt reports an unreachable goferd with exit status 1', async () => {
    const r = await gofer(['mgt', '-p', '1', '-s'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /cannot reach goferd management at localhost:1: ECONNREFUSED/)
  })
})
