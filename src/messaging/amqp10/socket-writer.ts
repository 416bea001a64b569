// Fewer socket writes for rhea. rhea writes every frame (transfer, disposition, flow) with its own
// socket.write, i.e. its own syscall and TCP segment with tcp_no_delay: an agent's accepted,
// started and result plus the request's disposition were four writes per call (bench/README.md).
// Frames are written from rhea's processing pass, which it schedules with process.nextTick after
// each send. So:
// * every write corks the socket, which is uncorked on the next tick, after the pass: the frames
//   of one pass leave in one write;
// * a send marked `batch` (an agent's accepted/started replies) keeps the socket corked until the
//   check phase of this loop turn, so those replies share one write with the result that usually
//   follows within microseconds; a settlement (a disposition nobody waits for) is held for the
//   next write that leaves anyway, at the latest a few milliseconds;
// * the first other send of a turn (a result, a request) is flushed right after rhea's pass has
//   written it, together with everything held before it; later ones in the same turn (a burst of
//   pipelined calls) wait for the end of the turn, so a burst costs two writes, not one per frame.
import type { Connection as RheaConnection } from 'rhea'
import { LATER_MS, type Flush } from '../amqp091/socket-writer.js'

interface Corkable {
  write(...args: unknown[]): boolean
  cork(): void
  uncork(): void
}

class SocketWriter {
  private corked = false
  /** A batch send holds the socket corked until the end of this loop turn. */
  private held = false
  private endScheduled = false
  private flushedThisTurn = false

  constructor(private readonly socket: Corkable) {
    const write = socket.write.bind(socket)
    socket.write = (...args: unknown[]): boolean => {
      if (!this.corked) {
        this.cork()
        if (!this.held) process.nextTick(this.uncork)
      }
      return write(...args)
    }
  }

  /** After a send or settlement was handed to rhea: see Flush (0-9-1's socket-writer.ts). */
  flush(when: Flush): void {
    if (when === 'later') {
      this.held = true
      this.cork()
      if (!this.laterTimer) {
        this.laterTimer = setTimeout(this.flushLater, LATER_MS)
        this.laterTimer.unref()
      }
      return
    }
    if (when === 'turn') {
      this.held = true
      this.cork()
    } else if (!this.flushedThisTurn) {
      this.flushedThisTurn = true
      this.held = false
      // Queued after rhea's processing pass (registered by the send), so it runs once the frames are written.
      process.nextTick(this.uncork)
    }
    this.scheduleEndOfTurn()
  }

  private laterTimer: NodeJS.Timeout | null = null
  private readonly flushLater = (): void => {
    this.laterTimer = null
    this.held = false
    this.uncork()
  }

  private cork(): void {
    if (this.corked) return
    this.corked = true
    this.socket.cork()
  }

  private readonly uncork = (): void => {
    if (!this.corked) return
    this.corked = false
    this.socket.uncork()
  }

  private scheduleEndOfTurn(): void {
    if (this.endScheduled) return
    this.endScheduled = true
    setImmediate(this.endOfTurn)
  }

  private readonly endOfTurn = (): void => {
    this.endScheduled = false
    this.flushedThisTurn = false
    this.held = false
    this.uncork()
  }
}

const writers = new WeakMap<object, SocketWriter>()

/** The writer of a rhea connection's current socket, installed on first use; null without a corkable socket. */
function writerOf(conn: RheaConnection): SocketWriter | null {
  const socket = (conn as unknown as { socket?: Partial<Corkable> & { destroyed?: boolean } }).socket
  if (!socket || socket.destroyed || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function' || typeof socket.write !== 'function') return null
  let writer = writers.get(socket)
  if (!writer) {
    writer = new SocketWriter(socket as Corkable)
    writers.set(socket, writer)
  }
  return writer
}

/** Call right after handing a message (sender.send) or a settlement to rhea: see the header. */
export function flushAfterSend(conn: RheaConnection, when: Flush): void {
  writerOf(conn)?.flush(when)
}

/** Coalesce the writes of a connection's socket from now on (dispositions, flow frames). */
export function coalesceWrites(conn: RheaConnection): void {
  writerOf(conn)
}
