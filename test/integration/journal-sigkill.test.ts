// The journal's promise, end to end (reference/gofer.md §4.12): goferd (a real process on
// RabbitMQ) accepts N calls, has them running or queued, and is killed with SIGKILL. The broker
// no longer holds them (they were acked once journaled), yet every caller gets its result after
// goferd is started again with the same state directory: the journal is replayed.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { acquireConnection } from '../../src/messaging/registry.js'
import { encodeRequest } from '../../src/rmi/envelope.js'
import { TEST_PLUGIN } from '../support/daemon.js'
import { AMQP_URL, ROOT } from '../support/paths.js'

const GOFERD = join(ROOT, 'bin', 'goferd')

interface Goferd {
  child: ChildProcess
  log: () => string
  exited: Promise<unknown>
}

function startGoferd(etc: string, state: string): Goferd {
  const child = spawn(process.execPath, [GOFERD, '-c', etc, '--state-dir', state], { env: { ...process.env, GOFER_LOG_LEVEL: 'info' } })
  let log = ''
  child.stdout!.on('data', c => (log += c))
  child.stderr!.on('data', c => (log += c))
  const exited = new Promise(resolve => child.on('exit', resolve))
  return { child, log: () => log, exited }
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 20))
  }
}

describe('journal across SIGKILL', () => {
  const queue = `test.journal.${randomUUID()}`
  const etc = mkdtempSync(join(tmpdir(), 'gofer-sigkill-'))
  const state = join(etc, 'var')
  const pending = join(state, 'messaging', 'pending', 'testplugin')
  const daemons: Goferd[] = []
  const leases: Array<ReturnType<typeof acquireConnection>> = []

  after(async () => {
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGTERM')
        await d.exited
      }
    }
    const lease = acquireConnection(AMQP_URL)
    await lease.connection.deleteQueue(queue).catch(() => undefined)
    await lease.release()
    for (const l of leases) await l.release()
  })

  it('every accepted call is answered after goferd is killed and restarted', async () => {
    mkdirSync(join(etc, 'plugins'))
    writeFileSync(join(etc, 'plugins', 'testplugin.conf'), [
      '[main]', 'enabled=1', `plugin=${TEST_PLUGIN}`, 'threads=3',
      '[messaging]', `url=${AMQP_URL}`, '[model]', `queue=${queue}`, 'managed=2', '',
    ].join('\n'))
    const first = startGoferd(etc, state)
    daemons.push(first)
    await until(() => first.log().includes('"consuming"'), 'goferd to consume')

    const N = 8
    // Raw requests and a raw reply queue: every reply document is seen, not only the first result.
    const lease = acquireConnection(AMQP_URL)
    leases.push(lease)
    const replies = `test.journal.replies.${randomUUID()}`
    await lease.connection.declareQueue({ name: replies, durable: false, autoDelete: true })
    const docs: Array<Record<string, any>> = []
    let phase = 'first'
    await lease.connection.consume(replies, d => {
      d.ack()
      docs.push({ ...JSON.parse(d.body.toString('utf8')), phase })
    })
    const sns = Array.from({ length: N }, () => randomUUID())
    // 3 run at once (threads=3), 5 wait in line: both kinds must survive the kill.
    for (const [i, sn] of sns.entries()) {
      await lease.connection.send(queue, Buffer.from(encodeRequest({ sn, address: queue, replyto: replies, classname: 'Dog', method: 'sleep', args: [1 + i / 100] })))
    }
    await until(() => existsSync(pending) && readdirSync(pending).filter(n => n.endsWith('.json')).length === N, `${N} journal files`)
    // A file appears when it is created, before its fsync and the ack that follows; give those
    // a moment (this test checks there is no redelivery, so the acks must have gone out).
    await new Promise(r => setTimeout(r, 500))

    first.child.kill('SIGKILL')
    await first.exited
    assert.equal(readdirSync(pending).filter(n => n.endsWith('.json')).length, N, 'the journal survived the kill')
    assert.equal(docs.filter(d => d.result).length, 0, 'no result before the restart')
    assert.equal(docs.filter(d => d.status === 'accepted').length, N)
    phase = 'second'

    const second = startGoferd(etc, state)
    daemons.push(second)
    await until(() => docs.filter(d => d.result).length >= N, `${N} results`, 30_000)
    await new Promise(r => setTimeout(r, 500))
    for (const [i, sn] of sns.entries()) {
      const after = docs.filter(d => d.sn === sn && d.phase === 'second')
      // Replayed from the journal: started and the result again, no accepted. A redelivery (an
      // ack given too late) would show a second accepted and a second result.
      assert.deepEqual(after.map(d => d.status ?? 'result'), ['started', 'result'], `replies to ${sn} after the restart`)
      assert.deepEqual(after[1]!.result, { retval: 1 + i / 100 })
    }
    assert.match(second.log(), /"replayed":8/)
    await until(() => readdirSync(pending).filter(n => n.endsWith('.json')).length === 0, 'the journal to empty')
  })
})
