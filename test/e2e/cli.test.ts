// End to end, as a user runs it: goferd spawned as its own process on RabbitMQ, the gofer CLI
// spawned for each call; stdout, stderr and exit codes checked.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { acquireConnection, type ConnectionLease } from '../../src/messaging/registry.js'
import { gofer as run } from '../support/cli.js'
import { TEST_PLUGIN } from '../support/daemon.js'
import { AMQP_URL, ROOT } from '../support/paths.js'

const GOFERD = join(ROOT, 'bin', 'goferd')



interface Goferd {
  child: ChildProcess
  log: () => string
  exited: Promise<number | null>
}

function startGoferd(etc: string): Goferd {
  const child = spawn(process.execPath, [GOFERD, '-c', etc], { env: { ...process.env, GOFER_LOG_LEVEL: 'info' } })
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
    await new Promise(r => setTimeout(r, 100))
  }
}

describe('gofer rmi against a spawned goferd', () => {
  const queue = `test.e2e.${randomUUID()}`
  const etc = mkdtempSync(join(tmpdir(), 'gofer-e2e-'))
  let goferd: Goferd
  let lease: ConnectionLease
  const base = ['rmi', '-u', AMQP_URL, '-a', queue]

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    writeFileSync(join(etc, 'agent.conf'), '[logging]\ngofer.agent=info\n')
    writeFileSync(join(etc, 'plugins', 'testplugin.conf'), [
      '[main]', 'enabled=1', `plugin=${TEST_PLUGIN}`, 'threads=2',
      '[messaging]', `url=${AMQP_URL}`, '[model]', `queue=${queue}`, 'managed=2', '',
    ].join('\n'))
    // A broken descriptor beside it must be refused without stopping goferd.
    writeFileSync(join(etc, 'plugins', 'broken.conf'), '[main]\nenabled=1\nthreads=many\n')
    writeFileSync(join(etc, 'plugins', 'disabled.conf'), '[main]\nenabled=0\n')
    lease = acquireConnection(AMQP_URL)
    goferd = startGoferd(etc)
    await waitFor(() => goferd.log().includes('"consuming"'), 'goferd to consume its queue')
  })

  after(async () => {
    if (goferd.child.exitCode === null) {
      goferd.child.kill('SIGTERM')
      await goferd.exited
    }
    await lease.connection.deleteQueue(queue).catch(() => undefined)
    await lease.release()
  })

  it('refuses a bad descriptor naming file, section and key, and loads the rest', () => {
    assert.match(goferd.log(), /broken\.conf: \[main\] threads: value \\"many\\" must be an integer/)
    assert.match(goferd.log(), /plugin disabled disabled/)
  })

  it('prints a string result and exits 0', async () => {
    const r = await run([...base, '-t', 'Dog.bark', 'howdy'])
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Ruf howdy\n', ''])
  })

  it('converts numbers, binds keyword=value and prints non-strings as JSON', async () => {
    const r = await run([...base, '-t', 'Dog.keywords', '1', 'c=9'])
    assert.deepEqual([r.code, r.stdout], [0, '[1,2,9]\n'])
    const echo = await run([...base, '-t', 'testplugin.echo', '{"a": [1, true]}'])
    assert.deepEqual([echo.code, echo.stdout], [0, '{"a":[1,true]}\n'])
  })

  it('takes -i [[args], {kwargs}] and -d user data', async () => {
    const r = await run([...base, '-i', '[[1], {"b": 5}]', '-t', 'Dog.keywords'])
    assert.deepEqual([r.code, r.stdout], [0, '[1,5,3]\n'])
    const d = await run([...base, '-d', '{"job": 7}', '-t', 'Dog.data'])
    assert.deepEqual([d.code, d.stdout], [0, '{"job":7}\n'])
  })

  it('prints progress with the -p prefix before the result', async () => {
    const r = await run([...base, '-t', 'Dog.wag', '3', '-p', 'progress: '])
    assert.equal(r.code, 0)
    assert.equal(r.stdout, 'progress: wag 1\nprogress: wag 2\nprogress: wag 3\nwagged 3 times\n')
  })

  it('-w 0 prints the serial number and the call still runs', async () => {
    const r = await run([...base, '-w', '0', '-t', 'Dog.bark', 'hi'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$/)
  })

  it('-r sends replies to the named queue and prints the serial number', async () => {
    const replies = `test.e2e.replies.${randomUUID()}`
    await lease.connection.declareQueue({ name: replies, durable: false, autoDelete: false })
    try {
      const r = await run([...base, '-r', replies, '-t', 'Dog.bark', 'async'])
      assert.equal(r.code, 0)
      const sn = r.stdout.trim()
      const docs: Array<Record<string, any>> = []
      const sub = await lease.connection.consume(replies, d => {
        docs.push(JSON.parse(d.body.toString()))
        d.ack()
      })
      await waitFor(() => docs.some(d => d.result), 'the result in the reply queue')
      await sub.cancel()
      assert.ok(docs.every(d => d.sn === sn))
      assert.deepEqual(docs.map(d => d.status ?? 'result'), ['accepted', 'started', 'result'])
      assert.deepEqual(docs[2]!.result, { retval: 'Ruf async' })
    } finally {
      await lease.connection.deleteQueue(replies)
    }
  })

  it('a remote exception prints its class and message and exits 1', async () => {
    const r = await run([...base, '-t', 'Dog.hurt'])
    assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'Hurt: ouch\n'])
    const ns = await run([...base, '-t', 'Cat.meow'])
    assert.deepEqual([ns.code, ns.stderr], [1, 'NamespaceNotFound: "Cat" not provided by plugin.\n'])
    const member = await run([...base, '-t', 'Dog.notRemote'])
    assert.deepEqual([member.code, member.stderr], [1, 'MemberNotFound: "Dog.notRemote()" not provided by plugin.\n'])
  })

  it('a call slower than -w times out with the serial number, exit 1', async () => {
    const r = await run([...base, '-w', '1', '-t', 'Dog.sleep', '3'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^request [0-9a-f-]{36} timed out after 1s\n$/)
  })

  it('a missing agent queue fails fast with NotFound, exit 1', async () => {
    const started = Date.now()
    const r = await run(['rmi', '-u', AMQP_URL, '-a', `test.none.${randomUUID()}`, '-t', 'Dog.bark', 'x'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^address "test\.none\.[0-9a-f-]+" not found/)
    assert.ok(Date.now() - started < 10_000)
  })

  const usage: Array<[string, string[], RegExp]> = [
    ['no address', ['rmi', '-t', 'Dog.bark'], /^Address must be specified\n$/],
    ['no target', ['rmi', '-a', 'x'], /^Target must be specified\n$/],
    ['a target without a method', ['rmi', '-a', 'x', '-t', 'Dog'], /^Target must be: <class>\.<method>\n$/],
    ['bad -i', ['rmi', '-a', 'x', '-t', 'Dog.bark', '-i', '{"a": 1}'], /^Input must be valid json: \[\[\], \{\}\]\n$/],
    ['bad -w', ['rmi', '-a', 'x', '-t', 'Dog.bark', '-w', 'soon'], /^Wait must be a number/],
    ['bad -T', ['rmi', '-a', 'x', '-t', 'Dog.bark', '-T', '-5'], /^TTL must be a number/],
    ['bad -d', ['rmi', '-a', 'x', '-t', 'Dog.bark', '-d', '{nope'], /^data must be valid json\n$/],
    ['a bad URL', ['rmi', '-u', 'http://h', '-a', 'x', '-t', 'Dog.bark'], /^invalid broker URL "http:\/\/h": scheme "http"/],
    ['an unknown adapter', ['rmi', '-u', 'nosuch+amqp://127.0.0.1', '-a', 'x', '-t', 'Dog.bark'], /^messaging adapter "nosuch" not found/],
  ]
  for (const [what, args, message] of usage) {
    it(`${what}: a message naming the problem, exit 1`, async () => {
      const r = await run(args)
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, message)
    })
  }

  it('an unreachable broker: a connection error, exit 1, within seconds', async () => {
    const started = Date.now()
    const r = await run(['rmi', '-u', 'amqp://127.0.0.1:1', '-a', 'x', '-t', 'Dog.bark', 'x'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /127\.0\.0\.1:1/)
    assert.ok(Date.now() - started < 15_000)
  })

  it('SIGTERM lets the call in flight finish and reply, then goferd exits 0', async () => {
    const call = run([...base, '-t', 'Dog.sleep', '2'])
    // The CLI needs a few hundred ms to start and send; the call then runs for 2 s.
    await new Promise(r => setTimeout(r, 1000))
    goferd.child.kill('SIGTERM')
    const r = await call
    assert.deepEqual([r.code, r.stdout], [0, '2\n'])
    assert.equal(await goferd.exited, 0)
    assert.match(goferd.log(), /goferd stopped/)
  })
})
