// The 0-9-1 adapter's socket writer (src/messaging/amqp091/socket-writer.ts), on a fake socket
// that records each write the kernel would see: how many writes a call costs, and that nothing
// overtakes frames already queued on a channel.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, it } from 'node:test'
import type { Channel, ChannelModel } from 'amqplib'
import { LATER_MS } from '../../src/messaging/coalescing-socket.js'
import { coalesceWrites, writeDirect } from '../../src/messaging/amqp091/socket-writer.js'
import { flushAfterSend } from '../../src/messaging/amqp10/socket-writer.js'
import type { Connection as RheaConnection } from 'rhea'

/** A corkable stream: `writes` holds one entry per write that would reach the kernel. */
class FakeSocket extends EventEmitter {
  corked = 0
  pending: string[] = []
  writes: string[][] = []
  write(bytes: Buffer): boolean {
    this.pending.push(bytes.toString())
    if (this.corked === 0) this.flush()
    return true
  }
  cork(): void {
    this.corked++
  }
  uncork(): void {
    if (this.corked > 0) this.corked--
    if (this.corked === 0 && this.pending.length > 0) this.flush()
  }
  private flush(): void {
    this.writes.push(this.pending)
    this.pending = []
  }
}

function setup() {
  const socket = new FakeSocket()
  const queued: string[] = []
  const connection = { stream: socket, channels: [null, { buffer: { readableLength: 0, write: (b: Buffer) => (queued.push(b.toString()), true) } }] }
  coalesceWrites({ connection } as unknown as ChannelModel)
  const ch = { ch: 1, connection } as unknown as Channel
  /** What amqplib's sendMessage does: write the encoded frames to the channel's slot. */
  const publish = (text: string, batch: boolean | 'later') => writeDirect(ch, batch === 'later' ? 'later' : batch ? 'turn' : 'now', () => void connection.channels[1]!.buffer.write(Buffer.from(text)))
  return { socket, queued, connection, publish }
}

const endOfTurn = () => new Promise(resolve => setImmediate(resolve))

describe('socket writer', () => {
  it('writes an urgent message at once, together with the batched ones before it', async () => {
    const { socket, publish } = setup()
    publish('accepted', true)
    publish('started', true)
    assert.deepEqual(socket.writes, [], 'status replies wait')
    publish('result', false)
    assert.deepEqual(socket.writes, [['accepted', 'started', 'result']], 'one write for the three replies')
    await endOfTurn()
    assert.equal(socket.writes.length, 1)
  })

  it('flushes batched messages at the end of the loop turn when nothing urgent follows', async () => {
    const { socket, publish } = setup()
    publish('accepted', true)
    await Promise.resolve()
    assert.deepEqual(socket.writes, [])
    await endOfTurn()
    assert.deepEqual(socket.writes, [['accepted']])
  })

  it('sends the first urgent message of a turn at once and the rest of a burst in one write', async () => {
    const { socket, publish } = setup()
    for (let i = 1; i <= 5; i++) publish(`request ${i}`, false)
    assert.deepEqual(socket.writes, [['request 1']])
    await endOfTurn()
    assert.deepEqual(socket.writes, [['request 1'], ['request 2', 'request 3', 'request 4', 'request 5']])
    publish('next turn', false)
    assert.deepEqual(socket.writes.at(-1), ['next turn'], 'a new turn writes at once again')
  })

  it('holds an ack for the next write that leaves anyway, or a few ms', async () => {
    const { socket, publish } = setup()
    publish('ack 1', 'later')
    await endOfTurn()
    assert.deepEqual(socket.writes, [], 'an ack alone does not cost a write at the end of the turn')
    publish('request', false)
    assert.deepEqual(socket.writes, [['ack 1', 'request']], 'it rides with the next request')
    publish('ack 2', 'later')
    await new Promise(resolve => setTimeout(resolve, LATER_MS + 20))
    assert.deepEqual(socket.writes.at(-1), ['ack 2'], 'and leaves on its own when nothing follows')
  })

  it('does not overtake frames already queued on the channel', () => {
    const { socket, connection, queued, publish } = setup()
    connection.channels[1]!.buffer.readableLength = 1
    assert.equal(publish('result', false), null)
    assert.deepEqual(socket.writes, [])
    assert.deepEqual(queued, [], 'nothing was sent: the caller takes the normal path')
  })

  it('coalesces amqplib\'s own writes made in one callback', async () => {
    const { socket } = setup()
    socket.write(Buffer.from('ack 1'))
    socket.write(Buffer.from('ack 2'))
    assert.deepEqual(socket.writes, [])
    await new Promise(resolve => process.nextTick(resolve))
    assert.deepEqual(socket.writes, [['ack 1', 'ack 2']])
  })
})

/** rhea's way of writing: a send registers one processing pass (nextTick) that writes each frame. */
function fakeRhea() {
  const socket = new FakeSocket()
  let pending: string[] = []
  let registered = false
  const conn = { socket } as unknown as RheaConnection
  const send = (frame: string, batch: boolean | 'later') => {
    pending.push(frame)
    if (!registered) {
      registered = true
      process.nextTick(() => {
        registered = false
        for (const f of pending.splice(0)) socket.write(Buffer.from(f))
      })
    }
    flushAfterSend(conn, batch === 'later' ? 'later' : batch ? 'turn' : 'now')
  }
  return { socket, send }
}

const ticks = () => new Promise(resolve => setImmediate(resolve))

describe('socket writer (AMQP 1.0, rhea)', () => {
  it('holds status replies and sends them with the result in one write, right after rhea\'s pass', async () => {
    const { socket, send } = fakeRhea()
    send('accepted', true)
    await Promise.resolve()
    send('started', true)
    await Promise.resolve()
    send('result', false)
    await new Promise(resolve => process.nextTick(resolve))
    await new Promise(resolve => process.nextTick(resolve))
    assert.deepEqual(socket.writes, [['accepted', 'started', 'result']])
    await ticks()
    assert.equal(socket.writes.length, 1)
  })

  it('flushes held replies at the end of the turn, and coalesces rhea\'s own frames of one pass', async () => {
    const { socket, send } = fakeRhea()
    send('accepted', true)
    await new Promise(resolve => process.nextTick(resolve))
    assert.deepEqual(socket.writes, [], 'held until the end of the turn')
    await ticks()
    assert.deepEqual(socket.writes, [['accepted']])
    socket.write(Buffer.from('disposition 1'))
    socket.write(Buffer.from('disposition 2'))
    await new Promise(resolve => process.nextTick(resolve))
    assert.deepEqual(socket.writes.at(-1), ['disposition 1', 'disposition 2'])
  })

  it('holds a settlement for the next send that leaves anyway', async () => {
    const { socket, send } = fakeRhea()
    send('disposition', 'later')
    await ticks()
    assert.deepEqual(socket.writes, [], 'not alone at the end of the turn')
    send('request', false)
    await new Promise(resolve => process.nextTick(resolve))
    await new Promise(resolve => process.nextTick(resolve))
    assert.deepEqual(socket.writes, [['disposition', 'request']])
    send('disposition 2', 'later')
    await new Promise(resolve => setTimeout(resolve, LATER_MS + 20))
    assert.deepEqual(socket.writes.at(-1), ['disposition 2'], 'and on its own when nothing follows')
  })
})
