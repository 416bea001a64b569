// The pending journal (reference/gofer.md §4.12): gofer's file names, durable writes, oldest-first
// replay, corrupt files set aside (never fatal), and the request pipeline acking only after the
// write and replaying at start (memory adapter).
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { defaultStateDir, Journal, pendingDir } from '../../src/agent/journal.js'
import { logger } from '../../src/log.js'
import { acquireConnection } from '../../src/messaging/registry.js'
import { encodeRequest } from '../../src/rmi/envelope.js'
import { Agent } from '../../src/rmi/agent.js'
import { TEST_PLUGIN } from '../support/daemon.js'

const log = logger('test.journal')

describe('journal', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'gofer-journal-')), 'pending', 'p')

  it('names files like gofer (<seconds>-<microseconds>-<NNNN>.json), sorted by arrival', async () => {
    const journal = new Journal(dir, log)
    const files = await Promise.all(Array.from({ length: 50 }, (_, i) => journal.write({ sn: `sn-${i}`, n: i })))
    for (const f of files) assert.match(f, /\/\d{10}-\d{6}-\d{4}\.json$/)
    assert.deepEqual([...files].sort(), files, 'names sort in write order')
    assert.equal(new Set(files).size, 50)
    assert.deepEqual(JSON.parse(readFileSync(files[3]!, 'utf8')), { n: 3, sn: 'sn-3' })
  })

  it('pending() gives the entries oldest first; remove() forgets one', async () => {
    const journal = new Journal(dir, log)
    const entries = await journal.pending()
    assert.equal(entries.length, 50)
    assert.deepEqual(entries.map(e => e.document.n), Array.from({ length: 50 }, (_, i) => i))
    for (const e of entries) await journal.remove(e.file)
    assert.deepEqual(await new Journal(dir, log).pending(), [])
    await journal.remove(join(dir, 'gone.json'))
  })

  it('does not offer files its own process is still answering', async () => {
    const journal = new Journal(dir, log)
    const file = await journal.write({ sn: 'busy' })
    assert.deepEqual(await journal.pending(), [])
    assert.equal((await new Journal(dir, log).pending()).length, 1, 'another process (a restart) sees it')
    await journal.remove(file)
  })

  it('sets a corrupt file aside, reports it and replays the rest', async () => {
    const journal = new Journal(dir, log)
    writeFileSync(join(dir, '1700000000-000001-0000.json'), '{"sn": "trunc')
    writeFileSync(join(dir, '1700000000-000002-0000.json'), '[1, 2]')
    writeFileSync(join(dir, '1700000000-000003-0000.json'), '{"sn": "ok"}')
    writeFileSync(join(dir, 'notes.txt'), 'not a journal entry')
    const entries = await new Journal(dir, log).pending()
    assert.deepEqual(entries.map(e => e.document), [{ sn: 'ok' }])
    const names = readdirSync(dir).sort()
    assert.deepEqual(names, ['1700000000-000001-0000.json.corrupt', '1700000000-000002-0000.json.corrupt', '1700000000-000003-0000.json', 'notes.txt'])
    await journal.destroy()
    assert.equal(existsSync(dir), false)
  })

  it('markCancelled leaves a marker that a restart reads; remove() takes both away', async () => {
    const journal = new Journal(dir, log)
    const file = await journal.write({ sn: 'to-cancel' })
    await journal.markCancelled(file)
    assert.equal(existsSync(`${file}.cancelled`), true)
    const [entry] = await new Journal(dir, log).pending()
    assert.equal(entry!.cancelled, true)
    await journal.remove(file)
    assert.deepEqual(readdirSync(dir), [])
  })

  it('a write the disk refuses rejects (the pipeline then acks after the reply)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gofer-journal-')), 'file')
    writeFileSync(file, 'x')
    await assert.rejects(new Journal(join(file, 'sub'), log).write({ sn: 'x' }))
  })

  it('state directory: GOFER_STATE_DIR, /var/lib/gofer for /etc/gofer, else <etc>/state', () => {
    const saved = process.env.GOFER_STATE_DIR
    try {
      delete process.env.GOFER_STATE_DIR
      assert.equal(defaultStateDir('/etc/gofer'), '/var/lib/gofer')
      assert.equal(defaultStateDir('/home/u/etc'), '/home/u/etc/state')
      process.env.GOFER_STATE_DIR = '/tmp/st'
      assert.equal(defaultStateDir('/etc/gofer'), '/tmp/st')
      assert.equal(pendingDir('/tmp/st', 'demo'), '/tmp/st/messaging/pending/demo')
    } finally {
      if (saved === undefined) delete process.env.GOFER_STATE_DIR
      else process.env.GOFER_STATE_DIR = saved
    }
  })
})

describe('journal in the request pipeline (memory adapter)', () => {
  const url = 'memory://journal-unit'
  const etc = mkdtempSync(join(tmpdir(), 'gofer-journal-etc-'))
  const state = join(etc, 'state')
  const agents: Agent[] = []
  after(async () => {
    for (const a of agents) await a.close()
  })

  function configure(queue: string): void {
    mkdirSync(join(etc, 'plugins'), { recursive: true })
    writeFileSync(join(etc, 'plugins', 'testplugin.conf'), `[main]\nenabled=1\nplugin=${TEST_PLUGIN}\nthreads=2\n[messaging]\nurl=${url}\n[model]\nqueue=${queue}\nmanaged=2\n`)
  }

  it('replays journaled requests at start: started and result again, not accepted; bad files set aside', async () => {
    const queue = 'journal.replay'
    configure(queue)
    const pending = pendingDir(state, 'testplugin')
    mkdirSync(pending, { recursive: true })
    const lease = acquireConnection(url)
    const replies: Array<Record<string, unknown>> = []
    await lease.connection.declareQueue({ name: 'journal.replies', durable: false, autoDelete: false })
    await lease.connection.consume('journal.replies', d => {
      d.ack()
      replies.push(JSON.parse(d.body.toString('utf8')))
    })
    // As a goferd killed after the ack would have left them (and one a disk error mangled).
    const request = (sn: string, method: string, args: unknown[]) =>
      encodeRequest({ sn, address: queue, replyto: 'journal.replies', classname: 'Dog', method, args })
    writeFileSync(join(pending, '1700000000-000001-0000.json'), request('r1', 'bark', ['one']))
    writeFileSync(join(pending, '1700000000-000002-0000.json'), request('r2', 'echo', [2]))
    writeFileSync(join(pending, '1700000000-000003-0000.json'), '{"sn": ')
    writeFileSync(join(pending, '1700000000-000004-0000.json'), JSON.stringify({ sn: 'r4', version: '2.0', request: 'nonsense' }))
    // Cancelled before the restart: answered Cancelled, never run.
    writeFileSync(join(pending, '1700000000-000005-0000.json'), request('r5', 'sleep', [30]))
    writeFileSync(join(pending, '1700000000-000005-0000.json.cancelled'), '')
    const daemon = new Daemon({ etc })
    const [plugin] = await daemon.start()
    await plugin!.attached()
    const deadline = Date.now() + 5000
    while (replies.filter(r => r.result).length < 3 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
    assert.deepEqual(replies.filter(r => r.sn === 'r1').map(r => r.status ?? 'result'), ['started', 'result'])
    assert.deepEqual(replies.find(r => r.sn === 'r1' && r.result)!.result, { retval: 'Ruf one' })
    assert.deepEqual(replies.find(r => r.sn === 'r2' && r.result)!.result, { retval: 2 })
    assert.deepEqual(replies.filter(r => r.sn === 'r5').map(r => r.status ?? (r.result as { xclass: string }).xclass), ['Cancelled'])
    // Answered requests leave the journal; the unreadable ones stay aside for a human.
    for (let i = 0; i < 50 && readdirSync(pending).some(n => n.endsWith('.json')); i++) await new Promise(r => setTimeout(r, 20))
    assert.deepEqual(readdirSync(pending).sort(), ['1700000000-000003-0000.json.corrupt', '1700000000-000004-0000.json.corrupt'])
    // New calls are journaled and answered; nothing is left behind.
    const agent = new Agent(url, queue, { wait: 10 })
    agents.push(agent)
    assert.equal(await agent.stub('Dog').bark('live'), 'Ruf live')
    assert.equal(readdirSync(pending).filter(n => n.endsWith('.json')).length, 0)
    await plugin!.stop(true)
    await daemon.stop()
    await lease.release()
  })

  const files = (path: string) => (existsSync(path) ? readdirSync(path).filter(n => n.endsWith('.json')) : [])
  // The file goes after the reply is out, so the caller may see the result a moment before.
  async function emptied(path: string): Promise<void> {
    for (let i = 0; i < 100 && files(path).length > 0; i++) await new Promise(r => setTimeout(r, 20))
    assert.deepEqual(files(path), [])
  }

  async function withDaemon(queue: string, journalAfterMs: number, body: (agent: Agent, pending: string) => Promise<void>): Promise<void> {
    configure(queue)
    const daemon = new Daemon({ etc, journalAfterMs })
    try {
      const [plugin] = await daemon.start()
      await plugin!.attached()
      const agent = new Agent(url, queue, { wait: 10 })
      agents.push(agent)
      await body(agent, pendingDir(state, 'testplugin'))
      await plugin!.stop(true)
    } finally {
      await daemon.stop()
    }
  }

  it('a quick call is acked after its reply and never written; a slow one is journaled while it runs', async () => {
    await withDaemon('journal.threshold', 300, async (agent, pending) => {
      assert.equal(await agent.stub('Dog').bark('quick'), 'Ruf quick')
      assert.deepEqual(files(pending), [])
      const slow = agent.stub('Dog').sleep(1)
      await new Promise(r => setTimeout(r, 700))
      assert.equal(files(pending).length, 1, 'journaled while it runs')
      assert.equal(await slow, 1)
      await emptied(pending)
    })
    assert.equal(existsSync(pendingDir(state, 'testplugin')), false, 'unload deletes the pending directory')
  })

  it('journalAfterMs=0 journals every request before it runs', async () => {
    await withDaemon('journal.always', 0, async (agent, pending) => {
      const call = agent.stub('Dog').sleep(0.4)
      await new Promise(r => setTimeout(r, 200))
      assert.equal(files(pending).length, 1)
      assert.equal(await call, 0.4)
      await emptied(pending)
    })
  })
})
