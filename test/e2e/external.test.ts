// End to end, as a user runs it: a goferd process whose only plugin is a descriptor naming an
// external agents directory (no JS module), called with the gofer CLI; `gofer mgt -s` explains
// which agents are missing and why; DDLs that are invalid are refused and goferd keeps serving.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { acquireConnection } from '../../src/messaging/registry.js'
import { gofer as run } from '../support/cli.js'
import { AMQP_URL, ROOT } from '../support/paths.js'

const GOFERD = join(ROOT, 'bin', 'goferd')


/** A loopback port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** Whether `pid` still runs (a killed orphan is a zombie, "Z", until it is reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

async function waitFor(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 100))
  }
}

describe('external agents through goferd and the gofer CLI', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-ext-e2e-'))
  const queue = `test.e2e.external.${randomUUID()}`
  const rmi = ['rmi', '-u', AMQP_URL, '-a', queue]
  let goferd: ChildProcess
  let log = ''
  let port: number

  before(async () => {
    cpSync(join(ROOT, 'test', 'fixtures', 'external'), join(etc, 'agents'), { recursive: true, verbatimSymlinks: true })
    port = await freePort()
    mkdirSync(join(etc, 'plugins'))
    writeFileSync(join(etc, 'agent.conf'), `[management]\nenabled=1\nhost=127.0.0.1\nport=${port}\n`)
    // No [main] plugin: the plugin serves its external agents only. The directory is relative.
    writeFileSync(join(etc, 'plugins', 'demo.conf'), [
      '[main]', 'enabled=1', 'threads=2', '[messaging]', `url=${AMQP_URL}`,
      '[model]', `queue=${queue}`, 'managed=2', '[external]', 'agents=../agents', '',
    ].join('\n'))
    goferd = spawn(process.execPath, [GOFERD, '-c', etc], { env: { ...process.env, GOFER_LOG_LEVEL: 'info' } })
    goferd.stdout!.on('data', c => (log += c))
    goferd.stderr!.on('data', c => (log += c))
    await waitFor(() => log.includes('"consuming"'), 'goferd to consume its queue')
  })

  after(async () => {
    if (goferd.exitCode === null) {
      const exited = new Promise(resolve => goferd.on('exit', resolve))
      goferd.kill('SIGTERM')
      await exited
    }
    const lease = acquireConnection(AMQP_URL)
    await lease.connection.deleteQueue(queue).catch(() => undefined)
    await lease.release()
  })

  it('gofer rmi -t parrot.echo message=hello prints the reply data', async () => {
    const r = await run([...rmi, '-t', 'parrot.echo', 'message=hello'])
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '{"message":"hello","repeated_by":"parrot"}\n', ''])
  })

  it('an invalid input: the Choria status name and the rule, exit 1', async () => {
    const r = await run([...rmi, '-t', 'parrot.echo', 'message=a;b'])
    assert.deepEqual([r.code, r.stdout], [1, ''])
    assert.equal(r.stderr, "RPCAborted: Validation failed: validation failed for input 'message': may not contain ';' [rule: shellsafe]\n")
    const missing = await run([...rmi, '-t', 'parrot.echo'])
    assert.equal(missing.stderr, "RPCAborted: Validation failed: input 'message' is required [rule: required]\n")
  })

  it('an unknown action and a crash are answered with errors', async () => {
    const unknown = await run([...rmi, '-t', 'parrot.fly'])
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'UnknownRPCAction: Unknown action fly for agent parrot\n'])
    const crash = await run([...rmi, '-t', 'parrot.crash'])
    assert.deepEqual([crash.code, crash.stderr], [1, 'RPCAborted: Could not call external agent parrot#crash: executing parrot failed: exit status 3\n'])
    // Its stderr went to goferd's log at error level (50), its stdout at info (30).
    await waitFor(() => /"level":50[^\n]*"action":"crash"[^\n]*"msg":"parrot crashing on purpose"/.test(log), 'the stderr line in the log')
    assert.match(log, /"level":30[^\n]*"action":"crash"[^\n]*"msg":"parrot handling crash for gofer=anonymous"/)
  })

  it('refuses invalid DDLs with a message and keeps serving the rest', () => {
    assert.match(log, /external agent refused: [^\n]*broken\.json: not valid JSON/)
    assert.match(log, /external agent refused: [^\n]*incomplete\.json: metadata\.timeout: required/)
    assert.equal(goferd.exitCode, null)
  })

  it('gofer mgt -s lists the agents with actions and inputs, and why the others are missing', async () => {
    const r = await run(['mgt', '-H', '127.0.0.1', '-p', String(port), '-s'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /<plugin> demo/)
    assert.match(r.stdout, /<agent> parrot 1\.0\.0 \(timeout 10 s\)/)
    assert.match(r.stdout, /echo\(message: string \[shellsafe, maxlength 1024\]\)/)
    assert.match(r.stdout, /Not activated:\n\s+act_fail: activation check failed: exit status 1\n\s+act_off: the agent declined to activate\n\s+act_slow: activation check took longer than 2 s/)
  })

  it('goferd leaving mid-call (SIGTERM twice) takes the agent\'s process group with it', async () => {
    const pids = join(etc, 'agents', 'sleep.pids')
    const call = run([...rmi, '-w', '3', '-t', 'parrot.sleep', 'seconds=60'])
    await waitFor(() => existsSync(pids), 'the agent to start its child')
    const exited = new Promise(resolve => goferd.on('exit', resolve))
    goferd.kill('SIGTERM')
    await new Promise(r => setTimeout(r, 300))
    goferd.kill('SIGTERM')
    await exited
    const [agentPid, sleepPid] = readFileSync(pids, 'utf8').trim().split(' ').map(Number)
    await waitFor(() => !alive(agentPid!) && !alive(sleepPid!), 'the agent and its child to be gone', 5_000)
    await call
  })
})
