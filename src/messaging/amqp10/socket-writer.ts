// rhea's frames through a CoalescingSocket (../coalescing-socket.ts). rhea writes every frame
// (transfer, disposition, flow) with its own socket.write: an agent's accepted, started and
// result plus the request's disposition were four writes per call (bench/README.md). It writes
// them from a processing pass scheduled with nextTick after each send, so a `now` flush waits
// for that pass.
import type { Connection as RheaConnection } from 'rhea'
import { CoalescingSocket, isCorkable, type Flush } from '../coalescing-socket.js'

const writers = new WeakMap<object, CoalescingSocket>()

/** The writer of a rhea connection's current socket, installed on first use; null without a corkable socket. */
function writerOf(conn: RheaConnection): CoalescingSocket | null {
  const socket = (conn as unknown as { socket?: unknown }).socket
  if (!isCorkable(socket) || (socket as { destroyed?: boolean }).destroyed) return null
  let writer = writers.get(socket)
  if (!writer) {
    // rhea writes our frames in a processing pass it schedules with nextTick after each send.
    writer = new CoalescingSocket(socket, 'nextTick')
    writers.set(socket, writer)
  }
  return writer
}

/** Call right after handing a message (sender.send) or a settlement to rhea: see Flush. */
export function flushAfterSend(conn: RheaConnection, when: Flush): void {
  writerOf(conn)?.flush(when)
}

/** Coalesce the writes of a connection's socket from now on (dispositions, flow frames). */
export function coalesceWrites(conn: RheaConnection): void {
  writerOf(conn)
}
