// Choria external agents served by goferd over RabbitMQ: a plugin with a JS module and an
// [external] agents directory (a copy of test/fixtures/external), called through the Agent.
// Discovery and activation, the request/reply contract, validation before the executable runs,
// failures, timeouts that kill the process group, environment isolation, concurrency, and the
// py-mco-agent look-alike's strictness.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { goPlatform } from '../../src/agent/external/discover.js'
import { runExternal } from '../../src/agent/external/runner.js'
import { ACTIVATION_PROTOCOL, RPC_PROTOCOL, RPC_SCHEMA } from '../../src/agent/external/status.js'
import { Plugin } from '../../src/agent/plugin.js'
import { Cancelled, RemoteError } from '../../src/errors.js'
import { logger } from '../../src/log.js'
import { Agent, type Trigger } from '../../src/rmi/agent.js'
import { TEST_PLUGIN } from '../support/daemon.js'
import { AMQP_URL, ROOT } from '../support/paths.js'

const FIXTURES = join(ROOT, 'test', 'fixtures', 'external')

/** The RemoteError a call raised (fails the test if it returned). */
async function raised(call: Promise<unknown>): Promise<RemoteError> {
  try {
    await call
  } catch (error) {
    assert.ok(error instanceof RemoteError, `expected a RemoteError, got ${error}`)
    return error
  }
  assert.fail('expected the call to raise')
}

/** Whether `pid` still runs: a killed process whose parent died stays a zombie ("Z") until reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

describe('external agents over RabbitMQ', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-ext-'))
  const agentsDir = join(etc, 'agents')
  const queue = `test.external.${randomUUID()}`
  let daemon: Daemon
  let plugin: Plugin
  let agent: Agent
  let parrot: Record<string, (...args: unknown[]) => Promise<any>>
  const calls = () => (existsSync(join(agentsDir, 'calls.log')) ? readFileSync(join(agentsDir, 'calls.log'), 'utf8').split('\n').filter(Boolean) : [])

  before(async () => {
    cpSync(FIXTURES, agentsDir, { recursive: true, verbatimSymlinks: true })
    // Choria's per-platform layout: <name>/<name>-<GOOS>_<GOARCH> when <name> is a directory.
    mkdirSync(join(agentsDir, 'plat', 'plat'), { recursive: true })
    cpSync(join(FIXTURES, 'nested', 'nested'), join(agentsDir, 'plat', 'plat', `plat-${goPlatform()}`))
    writeFileSync(join(agentsDir, 'plat', 'plat.json'), readFileSync(join(FIXTURES, 'nested', 'nested.json'), 'utf8').replace(/nested/g, 'plat'))
    // The look-alike reads <CHORIA_EXTERNAL_CONFIG>/<agent>.cfg, as py-mco-agent does.
    mkdirSync(join(etc, 'plugin.d', 'lookalike'), { recursive: true })
    writeFileSync(join(etc, 'plugin.d', 'lookalike', 'lookalike.cfg'), '# py-mco-agent style\nprefix = Polly: \n')
    mkdirSync(join(etc, 'plugins'))
    writeFileSync(join(etc, 'facts.json'), '{"os": {"family": "Debian"}}')
    writeFileSync(join(etc, 'plugins', 'ext.conf'), [
      '[main]', 'enabled=1', `plugin=${TEST_PLUGIN}`, 'threads=4',
      '[messaging]', `url=${AMQP_URL}`, '[model]', `queue=${queue}`, 'managed=2',
      '[external]', `agents=${agentsDir}`, 'environment=GOFER_EXT_ALLOWED, GOFER_EXT_UNSET', 'facts=../facts.json', 'rescan=1', '',
    ].join('\n'))
    process.env.GOFER_EXT_ALLOWED = 'passed'
    process.env.GOFER_EXT_SECRET = 'must not leak'
    daemon = new Daemon({ etc })
    const loaded = await daemon.start()
    assert.equal(loaded.length, 1)
    plugin = loaded[0]!
    await plugin.attached()
    agent = new Agent(AMQP_URL, queue, { wait: 30 })
    parrot = agent.stub('parrot')
  })

  after(async () => {
    await agent?.close()
    await plugin?.stop(true)
    await daemon?.stop()
  })

  it('activates the agents that say yes, beside the module, and says why the others are missing', () => {
    const ext = plugin.external!
    assert.deepEqual(ext.active.map(a => a.name), ['act_on', 'lookalike', 'napper', 'nested', 'parrot', 'plat'])
    assert.deepEqual(Object.fromEntries(ext.declined.map(d => [d.name, d.reason])), {
      act_fail: 'activation check failed: exit status 1',
      act_off: 'the agent declined to activate',
      act_slow: 'activation check took longer than 2 s',
    })
    const refused = ext.refused.map(r => r.reason).join('\n')
    assert.match(refused, /broken\.json: not valid JSON/)
    assert.match(refused, /incomplete\.json: metadata\.timeout: required/)
    assert.match(refused, /rpcutil\.json: agent name "rpcutil" is reserved/)
    assert.match(refused, /rubyagent\.json: metadata\.provider is "ruby", not "external"/)
    assert.ok(plugin.catalog.has('Dog') && plugin.catalog.has('parrot') && !plugin.catalog.has('act_off') && !plugin.catalog.has('tmp'))
  })

  it('Admin.help lists the agents with actions and inputs, and the ones not activated', async () => {
    const help = String(await agent.stub('Admin').help())
    assert.match(help, /<agent> parrot 1\.0\.0 \(timeout 10 s\): Repeats what it is told/)
    assert.match(help, /echo\(message: string \[shellsafe, maxlength 1024\]\)/)
    assert.match(help, /sleep\(seconds\?: integer = 1, mode\?: list \(quiet\|noisy\)\)/)
    assert.match(help, /act_off: the agent declined to activate/)
    assert.match(help, /Refused:\n.*broken\.json: not valid JSON/)
    assert.doesNotMatch(help, /Functions:\n(\s+\w+\(\{inputs\}\))/)
  })

  it('calls an action with one object or keyword arguments; output defaults are filled in', async () => {
    assert.deepEqual(await parrot.echo!({ message: 'hello' }), { message: 'hello', repeated_by: 'parrot' })
    assert.deepEqual(await agent.call({ classname: 'parrot', method: 'echo', kws: { message: 'kw' } }), { message: 'kw', repeated_by: 'parrot' })
    assert.deepEqual(await agent.stub('nested').ping!(), { layout: 'directory' })
    assert.deepEqual(await agent.stub('plat').ping!(), { layout: 'directory' })
  })

  it('inputs are keyword arguments or one object: anything else is a TypeError', async () => {
    const scalar = await raised(parrot.echo!('hello'))
    assert.deepEqual([scalar.xclass, scalar.xmodule], ['TypeError', 'builtins'])
    assert.match(scalar.message, /parrot\.echo\(\) takes its inputs as keyword arguments or one object, not string/)
    const two = await raised(parrot.echo!({ message: 'a' }, { message: 'b' }))
    assert.match(two.message, /takes 1 positional argument but 2 were given/)
    const mixed = await raised(agent.call({ classname: 'parrot', method: 'echo', args: [{ message: 'a' }], kws: { message: 'b' } }))
    assert.match(mixed.message, /got an unexpected keyword argument 'message'/)
  })

  it('refuses invalid inputs with Choria\'s message and rule, without starting the executable', async () => {
    const before = calls().length
    const cases: Array<[string, Record<string, unknown>, RegExp, string | null, string]> = [
      ['echo', {}, /^Validation failed: input 'message' is required$/, 'message', 'required'],
      ['echo', { message: 5 }, /input 'message': is not a string$/, 'message', 'string'],
      ['echo', { message: 'a;b' }, /input 'message': may not contain ';'$/, 'message', 'shellsafe'],
      ['echo', { message: 'x'.repeat(2000) }, /input 'message': is longer than 1024 characters$/, 'message', 'maxlength'],
      ['echo', { message: 'hi', loud: true }, /input 'loud' that is not declared in the DDL\. Valid inputs are: message$/, 'loud', 'declared'],
      ['sleep', { seconds: 1.5 }, /input 'seconds': is not an integer$/, 'seconds', 'integer'],
      ['sleep', { mode: 'loud' }, /input 'mode': should be one of quiet, noisy$/, 'mode', 'list'],
      ['check', { v4: '300.1.1.1' }, /input 'v4': 300\.1\.1\.1 is not an IPv4 address$/, 'v4', 'ipv4address'],
      ['check', { word: 'UPPER' }, /input 'word': input does not match '\^\[a-z\]\+\$'$/, 'word', 'regex'],
    ]
    for (const [action, inputs, message, input, rule] of cases) {
      const error = await raised(parrot[action]!(inputs))
      assert.equal(error.xclass, 'RPCAborted', action)
      assert.match(String(error.state.statusmsg), message)
      assert.deepEqual([error.state.statuscode, error.state.input, error.state.rule, error.state.data], [1, input, rule, {}])
      // statusmsg is Choria's text; the message also names the rule.
      assert.ok(error.message.endsWith(`${error.state.statusmsg} [rule: ${rule}]`), error.message)
    }
    assert.equal(calls().length, before, 'the executable ran for a refused call')
    // The same inputs, valid, do run it.
    assert.deepEqual((await parrot.check!({ v4: '10.1.1.1', word: 'lower', count: 2, flag: true })).inputs, { v4: '10.1.1.1', word: 'lower', count: 2, flag: true })
    assert.equal(calls().length, before + 1)
  })

  it('an executable removed after activation: RPCAborted, agent executable was not found', async () => {
    rmSync(join(agentsDir, 'act_on'))
    const error = await raised(agent.stub('act_on').ping!())
    assert.deepEqual([error.xclass, error.state.statusmsg], ['RPCAborted', 'Cannot call external agent act_on#ping: agent executable was not found'])
  })

  it('an unknown action is UnknownRPCAction (statuscode 2) and runs nothing', async () => {
    const before = calls().length
    const error = await raised(parrot.nosuch!({}))
    assert.deepEqual([error.xclass, error.state.statuscode, error.state.statusmsg], ['UnknownRPCAction', 2, 'Unknown action nosuch for agent parrot'])
    assert.equal(calls().length, before)
  })

  it('a non-zero statuscode is raised with its Choria name, statusmsg and data (defaults filled)', async () => {
    const error = await raised(parrot.fail!({ code: 4 }))
    assert.equal(error.xclass, 'InvalidRPCData')
    assert.equal(error.xmodule, 'choria_external.exceptions')
    assert.deepEqual([error.state.statuscode, error.state.statusmsg, error.state.data], [4, 'failed with 4', { asked: true, hint: 'see statusmsg' }])
    const invalid = await raised(parrot.invalid!())
    assert.deepEqual([invalid.xclass, invalid.state.statusmsg], ['RPCAborted', 'failed on purpose'])
  })

  it('a crash, an empty reply, bad data or a failing exit with a reply are aborted', async () => {
    const crash = await raised(parrot.crash!())
    assert.deepEqual([crash.xclass, crash.state.statusmsg, crash.state.exitcode], ['RPCAborted', 'Could not call external agent parrot#crash: executing parrot failed: exit status 3', 3])
    assert.match(String((await raised(parrot.noreply!())).state.statusmsg), /failed to decode reply json: the reply file is empty/)
    assert.equal((await raised(parrot.baddata!())).state.statusmsg, 'Could not set reply defaults: reply data is in the wrong format')
    // Choria ignores the reply file of a process that exited non-zero.
    assert.match(String((await raised(parrot.written_then_failed!())).state.statusmsg), /exit status 2$/)
    // Lenient: a reply without data is {} (Choria would abort).
    assert.deepEqual(await parrot.nodata!(), {})
  })

  it('gives the executable only the protocol variables, PATH and the allow-list; argv, cwd and 0600 temp files as Choria', async () => {
    const env = await parrot.env!()
    assert.deepEqual(env.keys, ['CHORIA_EXTERNAL_CONFIG', 'CHORIA_EXTERNAL_FACTS', 'CHORIA_EXTERNAL_PROTOCOL', 'CHORIA_EXTERNAL_REPLY', 'CHORIA_EXTERNAL_REQUEST', 'GOFER_EXT_ALLOWED', 'PATH'])
    assert.deepEqual(env.env, { GOFER_EXT_ALLOWED: 'passed', PATH: process.env.PATH })
    assert.deepEqual(env.argv, [env.files[0], env.files[1], RPC_PROTOCOL])
    assert.equal(env.cwd, tmpdir())
    assert.deepEqual(env.modes, ['0o600', '0o600', '0o600'])
    assert.match(env.files[0], new RegExp(`^${tmpdir()}/request\\d+$`))
    assert.equal(env.reply_size, 0)
    assert.equal(env.config, join(etc, 'plugin.d', 'parrot'))
    assert.deepEqual(env.facts, { os: { family: 'Debian' } })
    for (const file of env.files) assert.equal(existsSync(file), false, `${file} left behind`)
  })

  it('writes the request as Choria does: $schema, protocol, integer msgtime, the gofer sn as requestid', async () => {
    const { request } = await parrot.request!()
    assert.deepEqual(Object.keys(request).sort(), ['$schema', 'action', 'agent', 'callerid', 'collective', 'data', 'msgtime', 'protocol', 'requestid', 'senderid', 'ttl'])
    assert.equal(request.$schema, RPC_SCHEMA)
    assert.equal(request.protocol, RPC_PROTOCOL)
    assert.deepEqual([request.agent, request.action, request.collective, request.data], ['parrot', 'request', 'mcollective', {}])
    assert.ok(Number.isInteger(request.msgtime) && Math.abs(request.msgtime - Date.now() / 1000) < 120)
    assert.ok(Number.isInteger(request.ttl))
    assert.match(request.requestid, /^[0-9a-f-]{36}$/)
  })

  it('serves the py-mco-agent look-alike: config prefix, empty statusmsg, failures with exit 0', async () => {
    const look = agent.stub('lookalike')
    assert.deepEqual(await look.echo!({ message: 'hi' }), { message: 'Polly: hi' })
    const failed = await raised(look.invalid!())
    assert.deepEqual([failed.xclass, failed.state.statusmsg], ['RPCAborted', 'RPC Aborted: RPC Aborted: failed'])
    assert.match(String((await raised(look.missing!())).state.statusmsg), /Unknown RPC Action: missing/)
  })

  it('the look-alike really is strict: malformed requests crash it (exit 1)', async () => {
    const good = { $schema: RPC_SCHEMA, protocol: RPC_PROTOCOL, agent: 'lookalike', action: 'echo', requestid: 'r', senderid: 's', callerid: 'gofer=x', collective: 'mcollective', ttl: 60, msgtime: 1735689600, data: { message: 'x' } }
    const { $schema: _dropped, ...noSchema } = good
    const run = (request: unknown, protocol = RPC_PROTOCOL) => runExternal({
      executable: join(agentsDir, 'lookalike'), agent: 'lookalike', action: 'echo', protocol, request, timeoutMs: 10_000,
      configPath: join(etc, 'plugin.d', 'lookalike'), facts: '{}', allowEnv: [], log: logger('test.external'),
    })
    assert.equal((await run(good)).code, 0)
    assert.equal((await run({ $schema: 'x', protocol: ACTIVATION_PROTOCOL, agent: 'lookalike' }, ACTIVATION_PROTOCOL)).code, 0)
    for (const bad of [noSchema, { ...good, msgtime: 1.5 }, { ...good, agent: 'Bad-Name' }, { ...good, action: '' }, { ...good, ttl: '60' }]) {
      assert.equal((await run(bad)).code, 1, JSON.stringify(bad))
    }
  })

  it('runs calls concurrently (threads=4)', async () => {
    const results = await Promise.all([1, 2, 3].map(() => parrot.sleep!({ seconds: 1 })))
    const started = Math.max(...results.map(r => r.started))
    const finished = Math.min(...results.map(r => r.finished))
    assert.ok(started < finished, 'the three calls did not overlap')
  })

  it('Admin.cancel kills a running agent\'s process group; the caller gets Cancelled', async () => {
    const pids = join(agentsDir, 'sleep.pids')
    const seen = existsSync(pids) ? readFileSync(pids, 'utf8') : ''
    const call = await agent.call({ classname: 'parrot', method: 'sleep', kws: { seconds: 30 } }, { trigger: 'manual' }) as Trigger
    const answer = call()
    const deadline = Date.now() + 10_000
    while ((existsSync(pids) ? readFileSync(pids, 'utf8') : '') === seen) {
      assert.ok(Date.now() < deadline, 'the agent did not start')
      await new Promise(r => setTimeout(r, 50))
    }
    assert.deepEqual(await agent.stub('Admin').cancel!(call.sn), [call.sn])
    await assert.rejects(answer, (e: unknown) => e instanceof Cancelled && e.xclass === 'Cancelled')
    const [agentPid, sleepPid] = readFileSync(pids, 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
    assert.equal(alive(agentPid!), false, 'the agent survived')
    assert.equal(alive(sleepPid!), false, 'its child survived')
  })

  it('re-scans the directory: new agents are served, a changed one that declines keeps the old, removed ones go', async () => {
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000
      while (!check()) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}`)
        await new Promise(r => setTimeout(r, 100))
      }
    }
    // Written "10 s ago": DDLs changed within the last 5 s are left for a later scan, as in Choria.
    const writeDdl = (version: string, settled = true) => {
      const path = join(agentsDir, 'echoer.json')
      writeFileSync(path, readFileSync(join(FIXTURES, 'parrot.json'), 'utf8').replace('"name": "parrot"', '"name": "echoer"').replace('"version": "1.0.0"', `"version": "${version}"`))
      const past = new Date(Date.now() - 10_000)
      if (settled) utimesSync(path, past, past)
    }
    symlinkSync('parrot', join(agentsDir, 'echoer'))
    writeDdl('1.0.0', false)
    await new Promise(r => setTimeout(r, 2_500))
    assert.equal(plugin.catalog.has('echoer'), false, 'a DDL written just now was loaded before it settled')
    writeDdl('1.0.0')
    await until(() => plugin.catalog.has('echoer'), 'the new agent')
    assert.deepEqual(await agent.stub('echoer').echo!({ message: 'new' }), { message: 'new', repeated_by: 'parrot' })
    // Version 2 declines to activate (the parrot's marker file): version 1 keeps serving.
    writeFileSync(join(agentsDir, 'echoer.disabled'), '')
    writeDdl('2.0.0')
    await until(() => plugin.external!.declined.some(d => d.name === 'echoer'), 'the new version to be declined')
    assert.equal(plugin.external!.active.find(a => a.name === 'echoer')!.ddl.version, '1.0.0')
    assert.match(String(await agent.stub('Admin').help!()), /echoer: the agent declined to activate \(version 2\.0\.0\); still serving version 1\.0\.0/)
    assert.deepEqual(await agent.stub('echoer').echo!({ message: 'old' }), { message: 'old', repeated_by: 'parrot' })
    rmSync(join(agentsDir, 'echoer.json'))
    await until(() => !plugin.catalog.has('echoer'), 'the agent to be removed')
    assert.equal((await raised(agent.stub('echoer').echo!({ message: 'x' }))).xclass, 'NamespaceNotFound')
  })

  it('a timeout kills the whole process group and answers the caller', async () => {
    const begun = Date.now()
    const error = await raised(agent.stub('napper').sleep!({ seconds: 30 }))
    assert.equal(error.xclass, 'RPCAborted')
    assert.deepEqual([error.state.statuscode, error.state.timeout], [1, 2])
    assert.match(String(error.state.statusmsg), /^Could not call external agent napper#sleep: timed out after 2 s; its process group was killed$/)
    assert.ok(Date.now() - begun < 15_000)
    const [agentPid, sleepPid] = readFileSync(join(agentsDir, 'sleep.pids'), 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
    assert.equal(alive(agentPid!), false, 'the agent survived')
    assert.equal(alive(sleepPid!), false, 'its child survived')
  })
})
