// The RMI behaviour suite: every call mode, progress, each exception kind, cntr, kwargs, TTL,
// missing queue, data round trip, rejected replies and a hostile corpus, against one broker URL.
// test/unit/rmi-memory.test.ts runs it on the memory adapter; test/integration/rmi-rabbitmq.test.ts
// on RabbitMQ (the evidence of broker behaviour).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { ConnectionClosed, NotFound, Rejected, RemoteError, RequestTimeout } from '../../src/errors.js'
import type { Connection } from '../../src/messaging/adapter.js'
import { acquireConnection, type ConnectionLease } from '../../src/messaging/registry.js'
import { Agent } from '../../src/rmi/agent.js'
import { ReplyConsumer } from '../../src/rmi/reply-consumer.js'
import type { Reply } from '../../src/rmi/replies.js'
import { startTestDaemon, type RunningDaemon } from './daemon.js'

type Doc = Record<string, any>

/** A reply queue read raw: every document, by sn, in arrival order. */
class RawReplies {
  readonly name = `test.replies.${randomUUID()}`
  readonly docs: Doc[] = []
  private waiters: Array<() => void> = []
  constructor(private readonly connection: Connection) {}
  async start(): Promise<void> {
    await this.connection.declareQueue({ name: this.name, durable: false, autoDelete: true })
    await this.connection.consume(this.name, d => {
      d.ack()
      this.docs.push(JSON.parse(d.body.toString('utf8')))
      for (const w of this.waiters.splice(0)) w()
    })
  }
  of(sn: string): Doc[] {
    return this.docs.filter(d => d.sn === sn)
  }
  /** Wait until `predicate` holds for the documents received so far (deadline 10 s). */
  async until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>(resolve => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }
  async final(sn: string): Promise<Doc> {
    await this.until(() => this.of(sn).some(d => d.result !== undefined || d.status === 'rejected'), `final reply to ${sn}`)
    return this.of(sn).find(d => d.result !== undefined || d.status === 'rejected')!
  }
}

export function rmiSuite(label: string, url: string): void {
  describe(`RMI over ${label}`, () => {
    let agentd: RunningDaemon
    let lease: ConnectionLease
    let raw: RawReplies
    let agent: Agent
    const agents: Agent[] = []
    const make = (options: ConstructorParameters<typeof Agent>[2] = {}) => {
      const a = new Agent(url, agentd.queue, options)
      agents.push(a)
      return a
    }
    /** Publish a raw body to the agent's queue, as a hostile or foreign caller would. */
    const publish = (body: string | Buffer) => lease.connection.send(agentd.queue, Buffer.isBuffer(body) ? body : Buffer.from(body))
    const request = (patch: Doc = {}, requestPatch: Doc = {}): Doc => ({
      sn: randomUUID(), version: '2.0', routing: [null, agentd.queue], replyto: raw.name, data: null,
      request: { classname: 'Dog', method: 'bark', args: ['raw'], kws: {}, cntr: null, ...requestPatch }, ...patch,
    })

    before(async () => {
      agentd = await startTestDaemon(url)
      lease = acquireConnection(url)
      raw = new RawReplies(lease.connection)
      await raw.start()
      agent = make({ wait: 10 })
    })

    after(async () => {
      await Promise.all(agents.map(a => a.close()))
      await lease.release()
      await agentd.stop()
    })

    describe('synchronous calls', () => {
      it('return the result through a typed stub', async () => {
        const dog = agent.stub<{ bark(words: string): string }>('Dog')
        assert.equal(await dog.bark('howdy'), 'Ruf howdy')
      })

      it('call module functions under the plugin name', async () => {
        assert.deepEqual(await agent.stub('testplugin').echo({ a: [1, 2.5, null, true], u: 'héllo' }), { a: [1, 2.5, null, true], u: 'héllo' })
      })

      it('construct the class with cntr args and kwargs', async () => {
        assert.equal(await agent.stub('Cowboy', ['Tex'], { age: 41 }).hello(), 'Tex (41)')
        assert.equal(await agent.stub('Cowboy', ['Jo']).hello(), 'Jo (30)')
      })

      it('bind keyword arguments by name', async () => {
        assert.deepEqual(await agent.call({ classname: 'Dog', method: 'keywords', args: [1], kws: { c: 9 } }), [1, 2, 9])
      })

      it('report progress to the callback, then the result', async () => {
        const seen: unknown[] = []
        const a = make({ wait: 10, progress: r => seen.push([r.completed, r.total, r.details]) })
        assert.equal(await a.stub('Dog').wag(3), 'wagged 3 times')
        assert.deepEqual(seen, [[1, 3, 'wag 1'], [2, 3, 'wag 2'], [3, 3, 'wag 3']])
      })

      it('round-trip user data in every reply', async () => {
        const data = { task: 7, tags: ['a', 'b'] }
        assert.deepEqual(await make({ wait: 10, data }).stub('Dog').data(), data)
      })

      it('carry large arguments and results', async () => {
        const big = 'x'.repeat(2 * 1024 * 1024)
        assert.equal(await agent.stub('Dog').echo(big), big)
      })

      it('reply through an exchange when the exchange option is set', async () => {
        assert.equal(await make({ wait: 10, exchange: 'amq.direct' }).stub('Dog').bark('via exchange'), 'Ruf via exchange')
      })

      it('closing the Agent ends a waiting call with ConnectionClosed, not a hang', async () => {
        const a = new Agent(url, agentd.queue, { wait: 30 })
        const pending = a.stub('Dog').sleep(1)
        await new Promise(r => setTimeout(r, 100))
        await a.close()
        await assert.rejects(pending, (e: unknown) => e instanceof ConnectionClosed)
        await assert.rejects(a.stub('Dog').bark('x'), ConnectionClosed)
      })

      it('run concurrently and each get its own result', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => agent.stub('Dog').echo(i)))
        assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i))
      })
    })

    describe('exceptions', () => {
      it('a plugin error keeps its class, module, state and remote stack', async () => {
        await assert.rejects(agent.stub('Dog').hurt(), (e: unknown) => {
          assert.ok(e instanceof RemoteError)
          assert.equal(e.xclass, 'Hurt')
          assert.equal(e.xmodule, 'testplugin')
          assert.deepEqual(e.state, { level: 7, where: { paw: 'left' } })
          assert.deepEqual(e.xargs, ['ouch'])
          assert.match(e.remoteStack, /Hurt: ouch/)
          assert.equal(e.message, 'Hurt: ouch')
          return true
        })
      })

      it('a JavaScript TypeError arrives as builtins.TypeError', async () => {
        await assert.rejects(agent.stub('Dog').typeError(), (e: unknown) => e instanceof RemoteError && e.xclass === 'TypeError' && e.xmodule === 'builtins')
      })

      it('unknown class and unknown or non-remote method', async () => {
        await assert.rejects(agent.stub('Cat').meow(), (e: unknown) => e instanceof RemoteError && e.xclass === 'NamespaceNotFound' && e.message === 'NamespaceNotFound: "Cat" not provided by plugin.')
        await assert.rejects(agent.stub('Dog').nosuch(), (e: unknown) => e instanceof RemoteError && e.xclass === 'MemberNotFound')
        await assert.rejects(agent.stub('Dog').notRemote(), (e: unknown) => e instanceof RemoteError && e.xclass === 'MemberNotFound')
      })

      it('a constructor without its required argument', async () => {
        await assert.rejects(agent.stub('Cowboy').hello(), (e: unknown) => e instanceof RemoteError && e.xclass === 'TypeError' && /missing 1 required positional argument: 'name'/.test(e.message))
      })

      it('a return value JSON cannot carry becomes a TypeError reply', async () => {
        await assert.rejects(agent.stub('Dog').returnMap(), (e: unknown) => e instanceof RemoteError && e.xclass === 'TypeError' && /Map is not JSON serializable/.test(e.message))
      })

      it('no reply within wait is a RequestTimeout naming the sn', async () => {
        await assert.rejects(make({ wait: 0.3 }).stub('Dog').sleep(2), (e: unknown) => e instanceof RequestTimeout && e.wait === 0.3 && typeof e.sn === 'string')
      })

      it('a request to a missing queue fails with NotFound at once', async () => {
        const started = Date.now()
        const nobody = new Agent(url, `test.nobody.${randomUUID()}`, { wait: 30 })
        agents.push(nobody)
        await assert.rejects(nobody.stub('Dog').bark('x'), NotFound)
        assert.ok(Date.now() - started < 5000, 'NotFound must not wait for the timeout')
        const async = new Agent(url, `test.nobody.${randomUUID()}`, { wait: 0 })
        agents.push(async)
        await assert.rejects(async.stub('Dog').bark('x'), NotFound)
      })
    })

    describe('asynchronous calls', () => {
      it('fire-and-forget (wait 0) resolves with the sn and the call still runs', async () => {
        const a = make({ wait: 0 })
        const sn = await a.stub('Dog').bark('ff')
        assert.match(String(sn), /^[0-9a-f-]{36}$/)
        // Prove it ran: a later synchronous call on the same queue is answered after it.
        assert.equal(await agent.stub('Dog').bark('after'), 'Ruf after')
      })

      it('reply queue + ReplyConsumer get accepted, started, progress and the result', async () => {
        const queue = `test.async.${randomUUID()}`
        const seen: Reply[] = []
        const consumer = new ReplyConsumer(url, queue, { temporary: true })
        let done!: () => void
        const finished = new Promise<void>(r => (done = r))
        await consumer.start({
          accepted: r => void seen.push(r),
          started: r => void seen.push(r),
          progress: r => void seen.push(r),
          succeeded: r => {
            seen.push(r)
            done()
          },
        })
        try {
          const sn = await make({ reply: queue, data: { n: 1 } }).stub('Dog').wag(2)
          await finished
          assert.deepEqual(seen.map(r => r.kind), ['accepted', 'started', 'progress', 'progress', 'succeeded'])
          assert.ok(seen.every(r => r.sn === sn && (r.data as { n: number }).n === 1))
          const last = seen[4]!
          assert.ok(last.kind === 'succeeded' && last.retval === 'wagged 2 times')
        } finally {
          await consumer.stop()
        }
      })

      it('ReplyConsumer reports failures to a function listener', async () => {
        const queue = `test.async.${randomUUID()}`
        const consumer = new ReplyConsumer(url, queue, { temporary: true })
        const failed = new Promise<Reply>(resolve => {
          void consumer.start(reply => {
            if (reply.kind === 'failed') resolve(reply)
          })
        })
        await new Promise(r => setTimeout(r, 200))
        try {
          await make({ reply: queue }).stub('Dog').hurt()
          const reply = await failed
          assert.ok(reply.kind === 'failed' && reply.error.xclass === 'Hurt')
        } finally {
          await consumer.stop()
        }
      })

      it('a manual trigger knows its sn before sending and sends once when pulled', async () => {
        const a = make({ wait: 10, trigger: 1 })
        const trigger = (await a.stub('Dog').sn()) as unknown as (() => Promise<unknown>) & { sn: string }
        assert.match(trigger.sn, /^[0-9a-f-]{36}$/)
        assert.equal(await trigger(), trigger.sn)
        await assert.rejects(trigger(), /trigger already executed/)
      })
    })

    describe('the wire', () => {
      it('replies in gofer\'s order with gofer\'s fields', async () => {
        const doc = request({ data: { d: 1 } }, { method: 'wag', args: [1] })
        await publish(JSON.stringify(doc))
        const final = await raw.final(doc.sn)
        const replies = raw.of(doc.sn)
        assert.deepEqual(replies.map(d => d.status ?? 'result'), ['accepted', 'started', 'progress', 'result'])
        for (const d of replies) {
          assert.equal(d.version, '2.0')
          assert.deepEqual(d.routing, [null, raw.name])
          assert.deepEqual(d.data, { d: 1 })
          assert.equal('timestamp' in d, d.status !== 'progress', 'progress has no timestamp')
        }
        assert.deepEqual(final.result, { retval: 'wagged 1 times' })
      })

      it('honours keyword arguments sent as kwargs (Python 2.12/3.0 callers\' key)', async () => {
        const doc = request({}, { method: 'keywords', args: [], kws: undefined, kwargs: { a: 5 } })
        await publish(JSON.stringify(doc))
        assert.deepEqual((await raw.final(doc.sn)).result, { retval: [5, 2, 3] })
      })

      it('rejects a wrong version with gofer\'s rejected reply', async () => {
        const doc = request({ version: '1.0', data: 'keep' })
        await publish(JSON.stringify(doc))
        const reply = await raw.final(doc.sn)
        assert.equal(reply.status, 'rejected')
        assert.equal(reply.code, 'model.version')
        assert.equal(reply.description, 'MODEL: document version not matched')
        assert.equal(reply.details, 'expected:2.0, found:1.0')
        assert.equal(reply.data, 'keep')
      })

      it('a synchronous caller gets Rejected for a refused document', async () => {
        // Through the Agent's own reply queue: a request whose cntr is malformed.
        const a = make({ wait: 10 })
        await assert.rejects(a.call({ classname: 'Dog', method: 'bark', args: ['x'], cntr: 'bad' as never }), (e: unknown) => e instanceof Rejected && e.rejection === 'model.request' && /request\.cntr/.test(e.message))
      })

      it('unwraps a signed {message, signature} document', async () => {
        const inner = request()
        await publish(JSON.stringify({ message: JSON.stringify(inner), signature: Buffer.from('sig').toString('base64') }))
        assert.deepEqual((await raw.final(inner.sn)).result, { retval: 'Ruf raw' })
      })

      it('a request whose TTL expires before anyone consumes it is never executed', async () => {
        const queue = `test.ttl.${randomUUID()}`
        await lease.connection.declareQueue({ name: queue, durable: true, autoDelete: false })
        try {
          const expiring = new Agent(url, queue, { wait: 0, ttl: 0.1 })
          agents.push(expiring)
          await expiring.call({ classname: 'Dog', method: 'bark', args: ['late'] })
          await new Promise(r => setTimeout(r, 400))
          const got: Buffer[] = []
          const sub = await lease.connection.consume(queue, d => {
            got.push(d.body)
            d.ack()
          })
          await new Promise(r => setTimeout(r, 300))
          await sub.cancel()
          assert.equal(got.length, 0, 'the expired request must be gone')
        } finally {
          await lease.connection.deleteQueue(queue)
        }
      })
    })

    describe('hostile input', () => {
      it('survives a corpus of bad documents, answering each that names a replyto', async () => {
        const withReply = (patch: Doc, requestPatch: Doc = {}) => request(patch, requestPatch)
        const answered: Doc[] = [
          withReply({ version: 2 }),
          withReply({ version: null }),
          withReply({ request: null }),
          withReply({ request: [] }),
          withReply({ request: 'Dog.bark' }),
          withReply({}, { classname: 42 }),
          withReply({}, { classname: null }),
          withReply({}, { method: ['bark'] }),
          withReply({}, { args: { 0: 'a' } }),
          withReply({}, { args: 'abc' }),
          withReply({}, { kws: [] }),
          withReply({}, { kws: 'k' }),
          withReply({}, { cntr: 'c' }),
          withReply({}, { cntr: [1] }),
          withReply({}, { cntr: [[], 5] }),
          withReply({}, { classname: '__proto__' }),
          withReply({}, { classname: 'constructor' }),
          withReply({}, { method: '__proto__' }),
          withReply({}, { method: 'constructor' }),
          withReply({}, { method: 'toString' }),
          withReply({}, { method: 'notRemote' }),
          withReply({}, { classname: 'Object', method: 'assign' }),
          withReply({}, { classname: 'x'.repeat(100_000) }),
          withReply({}, { args: new Array(100_000).fill(1) }),
        ]
        // Odd but valid: these must simply be answered.
        const valid: Doc[] = [
          withReply({}, { args: ['y'.repeat(1_000_000)] }),
          JSON.parse(JSON.stringify(withReply({})).replace('"data":null', '"data":{"__proto__":{"polluted":true}}')),
          withReply({ extra: 'ignored', routing: 'not-an-array' }, { unknown: 1 }),
        ]
        for (const doc of [...answered, ...valid]) await publish(JSON.stringify(doc))
        // No usable replyto, not JSON, not an object: logged and dropped.
        const dropped: Array<string | Buffer> = [
          'not json at all', '', '[]', '[1,2,3]', '"a string"', '42', 'null', 'true', '{"sn":',
          Buffer.from([0xff, 0xfe, 0xfd, 0x00]), JSON.stringify({ ...request(), replyto: 12 }),
          JSON.stringify({ version: '2.0' }), '{"__proto__": {"polluted": true}}', '{"message": "not json", "signature": "x"}',
        ]
        for (const body of dropped) await publish(body)
        for (const doc of answered) {
          const reply = await raw.final(doc.sn)
          const ok = reply.status === 'rejected' || (reply.result && 'exval' in reply.result)
          assert.ok(ok, `expected a rejection or exception for ${JSON.stringify(doc).slice(0, 120)}, got ${JSON.stringify(reply).slice(0, 200)}`)
        }
        for (const doc of valid) assert.ok('retval' in (await raw.final(doc.sn)).result, 'valid odd request answered')
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
        // Still serving, and the huge-args call was rejected or answered without harm.
        assert.equal(await agent.stub('Dog').bark('still here'), 'Ruf still here')
        assert.equal(await agent.stub('Admin').hello(), 'Hello, I am gofer agent')
      })
    })

    describe('Admin', () => {
      it('hello, echo and help are on every plugin queue', async () => {
        const admin = agent.stub('Admin')
        assert.equal(await admin.hello(), 'Hello, I am gofer agent')
        assert.deepEqual(await admin.echo({ x: 1 }), { x: 1 })
        const help = String(await admin.help())
        assert.match(help, /^Plugins:\n\n {2}<plugin> testplugin\n {4}Classes:\n/)
        assert.match(help, / {6}<class> Dog\n {8}Methods:\n {10}bark\(words\)\n/)
        assert.match(help, / {4}Functions:\n {6}echo\(thing\)\n/)
        assert.doesNotMatch(help, /notRemote/)
      })
    })
  })
}
