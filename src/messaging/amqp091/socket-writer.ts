// How frames reach the socket: fewer writes, and the latency-critical ones without detours.
//
// amqplib queues every channel's frames in a per-channel stream and a multiplexer copies them to
// the socket in a later setImmediate, one write (syscall, TCP segment with noDelay) per frame
// group. Two changes, measured on the path from a request's delivery to its reply's write
// (bench/README.md):
// * The socket is corked on the first write and uncorked right after the current callback
//   (nextTick): whatever the multiplexer writes in one pass (a burst of acks) leaves as one write.
// * Publishes go straight to the socket when their channel has nothing queued (order is kept),
//   skipping the multiplexer's streams and its extra event-loop turn. A publish marked `batch`
//   (an agent's accepted/started replies) stays corked until the check phase of this loop turn,
//   so it shares one write with the result that usually follows within microseconds. The first
//   other publish of a turn (a result, a request) uncorks at once and leaves with everything
//   before it; later ones in the same turn (a burst of pipelined calls) wait for its end, so a
//   burst costs two writes, not one per message.
// * Acks take the same direct path; the ack of a lone delivery (one call at a time) waits for
//   the next write that leaves anyway, at most LATER_MS, instead of costing a write of its own.
import type { Channel, ChannelModel } from 'amqplib'

/**
 * When what was just written must leave: `now` (a result, a request), at the end of this loop
 * `turn` (an accepted/started reply), or `later`: with the next write that leaves anyway, at the
 * latest LATER_MS from now (an ack, which nobody waits for; sent alone it would cost a syscall
 * and a broker wakeup per call).
 */
export type Flush = 'now' | 'turn' | 'later'

/** How long an ack may wait for company. A crash within it means a redelivery, as before the ack. */
export const LATER_MS = 5

/** The socket side of one amqplib connection. */
export interface SocketWriter {
  /** Write `bytes` to the corked socket; false: the socket's buffer is full. */
  write(bytes: Buffer): boolean
  /** End of a message: see Flush. */
  flush(when: Flush): void
  /** The socket, for its 'drain' event. */
  readonly socket: NodeJS.EventEmitter
}

type Stream = NodeJS.WritableStream & NodeJS.EventEmitter & { cork(): void; uncork(): void }

const writers = new WeakMap<object, SocketWriter>()

/** Install the coalescing writer on a fresh connection's socket (amqplib internals: connection.stream). */
export function coalesceWrites(model: ChannelModel): void {
  const connection = model.connection as unknown as { stream?: Partial<Stream> }
  const stream = connection.stream
  if (!stream || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function' || typeof stream.write !== 'function') return
  const socket = stream as Stream
  const write = socket.write.bind(socket) as (bytes: Buffer) => boolean
  let corked = false
  let endScheduled = false
  /** A message was already flushed at once in this loop turn: the rest of a burst waits for its end. */
  let flushedThisTurn = false
  const uncork = (): void => {
    if (!corked) return
    corked = false
    socket.uncork()
  }
  const endOfTurn = (): void => {
    endScheduled = false
    flushedThisTurn = false
    uncork()
  }
  const scheduleEndOfTurn = (): void => {
    if (endScheduled) return
    endScheduled = true
    setImmediate(endOfTurn)
  }
  let laterTimer: NodeJS.Timeout | null = null
  const flushLater = (): void => {
    laterTimer = null
    uncork()
  }
  const cork = (): void => {
    if (corked) return
    corked = true
    socket.cork()
  }
  // amqplib's own writes (multiplexer, channel 0, heartbeats).
  socket.write = ((...args: unknown[]) => {
    if (!corked) {
      cork()
      process.nextTick(uncork)
    }
    return (write as (...a: unknown[]) => boolean)(...args)
  }) as typeof socket.write
  writers.set(model.connection, {
    socket,
    write(bytes) {
      cork()
      return write(bytes)
    },
    flush(when) {
      if (when === 'later') {
        if (!laterTimer) {
          laterTimer = setTimeout(flushLater, LATER_MS)
          laterTimer.unref()
        }
        return
      }
      // The first urgent message of a turn leaves at once (a lone call's latency); in a burst
      // (pipelined calls) the others share one write at the end of the turn (throughput).
      if (when === 'now' && !flushedThisTurn) {
        flushedThisTurn = true
        uncork()
      }
      scheduleEndOfTurn()
    },
  })
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
export function writerOf(ch: Channel): SocketWriter | null {
  const connection = (ch as unknown as Partial<ChannelInternals>).connection
  return connection ? writers.get(connection) ?? null : null
}
