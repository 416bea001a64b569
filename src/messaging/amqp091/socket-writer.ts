// amqplib's frames, reaching the socket without detours (the socket itself is a
// CoalescingSocket: ../coalescing-socket.ts says when frames leave).
//
// amqplib queues every channel's frames in a per-channel stream that a multiplexer copies to the
// socket in a later setImmediate, one write (syscall, TCP segment with noDelay) per frame group.
// Publishes and acks go straight to the socket instead when their channel has nothing queued
// (so the channel's frame order is kept), skipping those streams and the multiplexer's extra
// event-loop turn: an agent's accepted, started and result leave in one write as soon as the
// result is encoded, and a lone call's ack rides with the next write.
import type { Channel, ChannelModel } from 'amqplib'
import { CoalescingSocket, isCorkable, type Flush } from '../coalescing-socket.js'

const writers = new WeakMap<object, CoalescingSocket>()

/** Install the coalescing writer on a fresh connection's socket (amqplib internals: connection.stream). */
export function coalesceWrites(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: unknown }).stream
  if (isCorkable(stream)) writers.set(model.connection, new CoalescingSocket(stream, 'sync'))
}

/** amqplib internals of a channel: its number, connection, and that connection's per-channel streams. */
interface ChannelInternals {
  ch: number
  connection: { channels: Array<{ buffer: { readableLength?: number; write(b: Buffer): boolean } } | null> }
  sendMessage(fields: Record<string, unknown>, properties: Record<string, unknown>, content: Buffer): boolean
}

/**
 * Run `send` (an amqplib call that writes frames of channel `ch`: a publish, an ack) with those
 * frames going straight to the socket writer instead of the channel's stream. Returns send's
 * verdict on the socket buffer (false: full), or null when that is not possible (frames already
 * queued on the channel, whose order must be kept, or amqplib internals not as expected) and
 * nothing was sent: the caller then uses the normal path.
 */
export function writeDirect(ch: Channel, when: Flush, send: () => void): boolean | null {
  const internals = ch as unknown as Partial<ChannelInternals>
  const connection = internals.connection
  const writer = connection ? writers.get(connection) : undefined
  const slot = writer && typeof internals.ch === 'number' ? connection!.channels?.[internals.ch] : undefined
  if (!writer || !slot || slot.buffer.readableLength !== 0) return null
  const queued = slot.buffer
  let ok = true
  slot.buffer = { write: bytes => (ok = writer.write(bytes)) }
  try {
    send()
  } finally {
    slot.buffer = queued
    writer.flush(when)
  }
  return ok
}

/** Publish on `ch` straight to the socket (amqplib encodes the frames: sendMessage); null: not possible. */
export function publishDirect(ch: Channel, fields: Record<string, unknown>, properties: Record<string, unknown>, body: Buffer, batch: boolean): boolean | null {
  const sendMessage = (ch as unknown as Partial<ChannelInternals>).sendMessage
  if (typeof sendMessage !== 'function') return null
  return writeDirect(ch, batch ? 'turn' : 'now', () => void sendMessage.call(ch, fields, properties, body))
}

/** The socket writer of a channel's connection, when installed. */
export function writerOf(ch: Channel): CoalescingSocket | null {
  const connection = (ch as unknown as Partial<ChannelInternals>).connection
  return connection ? writers.get(connection) ?? null : null
}
