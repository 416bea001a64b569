// End to end: a spawned goferd with [management] enabled, driven by the spawned `gofer mgt` and
// `gofer rmi` CLIs: show/reload/unload/load, @action and @load/@unload hooks in the daemon,
// single instance per pid file (live and stale), SIGTERM running unload hooks.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { acquireConnection, type ConnectionLease } from '../../src/messaging/registry.js'
import { gofer } from '../support/mgt-client.js'
import { AMQP_URL, ROOT } from '../support/paths.js'

const GOFERD = join(ROOT, 'bin', 'goferd')

interface Goferd {
  child: ChildProcess
  log: () => string
  exited: Promise<number | null>
}

function startGoferd(etc: string, extra: string[] = []): Goferd {
  const child = spawn(process.execPath, [GOFERD, '-c', etc, ...extra], { env: { ...process.env, GOFER_LOG_LEVEL: 'info', GOFER_LOG_FORMAT: 'json' } })
  let log = ''
  child.stdout!.on('data', c => (log += c))
  child.stderr!.on('data', c => (log += c))
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  return { child, log: () => log, exited }
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 50))
  }
}

function managementPort(log: string): number | null {
  for (const line of log.split('\n')) {
    if (!line.includes('"management listening"')) continue
    return (JSON.parse(line) as { port: number }).port
  }
  return null
}

const pluginSource = (version: string, events: string) => [
  "import { action, load, remote, unload } from 'gofer'",
  "import { appendFileSync } from 'node:fs'",
  `const note = (what: string) => appendFileSync(${JSON.stringify(events)}, what + '\\n')`,
  'export class Clock {',
  `  @remote version() { return '${version}' }`,
  `  @action({ seconds: 1 }) tick() { note('tick ${version}') }`,
  `  @load static up() { note('load ${version}') }`,
  `  @unload static down() { note('unload ${version}') }`,
  '}',
].join('\n')

describe('gofer mgt against a spawned goferd', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-e2e-mgt-'))
  const queue = `test.e2e.mgt.${randomUUID()}`
  const events = join(etc, 'events.log')
  const module = join(etc, 'clock.ts')
  const descriptor = join(etc, 'plugins', 'clock.conf')
  let goferd: Goferd
  let port: number
  let lease: ConnectionLease
  const lines = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').trim().split('\n') : [])
  const mgt = (...args: string[]) => gofer(['mgt', '-p', String(port), ...args])
  const rmi = (...args: string[]) => gofer(['rmi', '-u', AMQP_URL, '-a', queue, ...args])

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    mkdirSync(join(etc, 'conf.d'))
    writeFileSync(module, pluginSource('v1', events))
    writeFileSync(descriptor, `[main]\nenabled=1\nplugin=${module}\n[messaging]\nurl=${AMQP_URL}\n[model]\nqueue=${queue}\nmanaged=2\n`)
    // Management is enabled by conf.d, which gofer documented but never read.
    writeFileSync(join(etc, 'agent.conf'), '[management]\nenabled=0\nport=0\n[logging]\ngofer.agent=info\n')
    writeFileSync(join(etc, 'conf.d', 'management.conf'), '[management]\nenabled=1\n')
    lease = acquireConnection(AMQP_URL)
    goferd = startGoferd(etc)
    await waitFor(() => goferd.log().includes('"consuming"') && managementPort(goferd.log()) !== null, 'goferd to consume and listen')
    port = managementPort(goferd.log())!
  })

  after(async () => {
    if (goferd.child.exitCode === null) {
      goferd.child.kill('SIGKILL')
      await goferd.exited
    }
    await lease.connection.deleteQueue(queue).catch(() => undefined)
    await lease.release()
  })

  it('runs @load at start and the @action every second', async () => {
    await waitFor(() => lines().filter(l => l === 'tick v1').length >= 2, 'two ticks')
    assert.equal(lines()[0], 'load v1')
  })

  it('shows the plugin with its action', async () => {
    const r = await mgt('-s')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /<plugin> clock\n {4}Classes:\n {6}<class> Clock\n {8}Methods:\n {10}version\(\)\n/)
    assert.match(r.stdout, /\nActions:\n {2}Clock\.tick\(\) 0:00:01\n$/)
  })

  it('refuses a second goferd on the same configuration (pid file)', async () => {
    const second = startGoferd(etc)
    assert.equal(await second.exited, 1)
    assert.match(second.log(), new RegExp(`goferd: goferd already running \\(pid ${goferd.child.pid}, pid file ${join(etc, 'goferd.pid').replace(/[.]/g, '\\.')}\\)`))
    assert.equal(readFileSync(join(etc, 'goferd.pid'), 'utf8').trim(), String(goferd.child.pid))
  })

  it('reloads new code: @unload of the old, @load of the new, calls see the new version', async () => {
    assert.equal((await rmi('-t', 'Clock.version')).stdout, 'v1\n')
    writeFileSync(module, pluginSource('v2', events))
    const r = await mgt('-r', descriptor)
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''])
    const after = lines()
    assert.ok(after.indexOf('unload v1') < after.indexOf('load v2'), after.join(','))
    await waitFor(async () => (await rmi('-t', 'Clock.version')).stdout === 'v2\n', 'the new version to answer')
    await waitFor(() => lines().includes('tick v2'), 'the new action to run')
  })

  it('unloads (the queue goes, managed=2) and loads again', async () => {
    const r = await mgt('-u', 'clock')
    assert.deepEqual([r.code, r.stderr], [0, ''])
    assert.equal(lines().at(-1), 'unload v2')
    assert.equal(await lease.connection.queueExists(queue), false)
    const ticks = lines().length
    await new Promise(r => setTimeout(r, 1500))
    assert.equal(lines().length, ticks, 'no tick after unload')
    const missing = await mgt('-r', 'clock')
    assert.deepEqual([missing.code, missing.stderr], [1, 'plugin: clock, not-found\n'])
    const load = await mgt('-l', descriptor)
    assert.deepEqual([load.code, load.stderr], [0, ''])
    await waitFor(async () => (await rmi('-t', 'Clock.version', '-w', '5')).stdout === 'v2\n', 'the loaded plugin to answer')
  })

  it('SIGTERM runs @unload and removes the pid file; after a SIGKILL the stale pid file is replaced', async () => {
    goferd.child.kill('SIGTERM')
    assert.equal(await goferd.exited, 0)
    assert.equal(lines().at(-1), 'unload v2')
    assert.equal(existsSync(join(etc, 'goferd.pid')), false)
    goferd = startGoferd(etc)
    await waitFor(() => goferd.log().includes('"consuming"'), 'goferd to start')
    goferd.child.kill('SIGKILL')
    await goferd.exited
    assert.equal(existsSync(join(etc, 'goferd.pid')), true, 'SIGKILL leaves the pid file')
    goferd = startGoferd(etc)
    await waitFor(() => goferd.log().includes('"consuming"'), 'goferd to start over a stale pid file')
    assert.equal(readFileSync(join(etc, 'goferd.pid'), 'utf8').trim(), String(goferd.child.pid))
  })

  it('a management port in use stops goferd with a message', async () => {
    port = managementPort(goferd.log())!
    const other = mkdtempSync(join(tmpdir(), 'gofer-e2e-mgt-port-'))
    writeFileSync(join(other, 'agent.conf'), `[management]\nenabled=1\nport=${port}\n`)
    const clash = startGoferd(other)
    assert.equal(await clash.exited, 1)
    assert.match(clash.log(), new RegExp(`goferd: management: cannot listen on localhost:${port}: .*EADDRINUSE`))
  })
})
