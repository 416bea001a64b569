// Fewer socket writes, for both adapters. On a small VM's loopback one write costs 20–60 µs of
// system time and wakes the broker; gofer sends three replies per call, so how frames reach the
// socket matters as much as gofer's own code (bench/README.md). The socket is corked while
// frames are written and uncorked at the moment they must leave:
// * the library's own writes (amqplib's multiplexer, rhea's processing pass, heartbeats) leave
//   together right after the current callback (nextTick);
// * after a send, see Flush: `now` for what somebody waits for (a result, a request): the first
//   such send of a loop turn leaves at once with everything before it, later ones in the same
//   turn (a burst of pipelined calls) at the end of the turn, so a burst costs two writes, not one
//   per message; `turn` (an accepted/started reply) waits for the end of the turn, sharing the
//   write of the result that usually follows within microseconds; `later` (an ack, nobody waits
//   for it) waits for the next write that leaves anyway, at most LATER_MS.

/** When what was just sent must leave the socket (see the header). */
export type Flush = 'now' | 'turn' | 'later'

/** How long an ack may wait for company. A crash within it means a redelivery, as before the ack. */
export const LATER_MS = 5

/** A net/tls socket as seen here: writable, corkable, and its 'drain' event. */
export interface Corkable extends Pick<NodeJS.EventEmitter, 'on' | 'removeListener'> {
  write(...args: unknown[]): boolean
  cork(): void
  uncork(): void
}

export class CoalescingSocket {
  private corked = false
  /** A `turn` or `later` send keeps the socket corked past the library's next tick. */
  private held = false
  private endScheduled = false
  /** A `now` send already left in this loop turn: the rest of a burst waits for its end. */
  private flushedThisTurn = false
  private laterTimer: NodeJS.Timeout | null = null
  private readonly rawWrite: (...args: unknown[]) => boolean

  /**
   * `written`: `sync` when our sends reach the socket inside the send call (0-9-1, written by
   * us), `nextTick` when the library writes them in a pass it schedules with nextTick (rhea):
   * a `now` flush must wait for that pass.
   */
  constructor(readonly socket: Corkable, private readonly written: 'sync' | 'nextTick') {
    const rawWrite = socket.write.bind(socket)
    this.rawWrite = rawWrite
    socket.write = (...args: unknown[]): boolean => {
      if (!this.corked) {
        this.cork()
        if (!this.held) process.nextTick(this.uncork)
      }
      return rawWrite(...args)
    }
  }

  /** Write `bytes` to the corked socket, bypassing the library; false: the socket's buffer is full. */
  write(bytes: Buffer): boolean {
    this.cork()
    return this.rawWrite(bytes)
  }

  /** After a send was written (or handed to the library): when it must leave, see Flush. */
  flush(when: Flush): void {
    if (when !== 'now') {
      this.held = true
      this.cork()
      if (when === 'later') {
        if (!this.laterTimer) {
          this.laterTimer = setTimeout(this.flushLater, LATER_MS)
          this.laterTimer.unref()
        }
        return
      }
    } else if (!this.flushedThisTurn) {
      this.flushedThisTurn = true
      this.held = false
      if (this.written === 'sync') this.uncork()
      // Queued after the library's processing pass (registered by the send): runs once it wrote.
      else process.nextTick(this.uncork)
    }
    this.scheduleEndOfTurn()
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

  private readonly flushLater = (): void => {
    this.laterTimer = null
    this.held = false
    this.uncork()
  }
}

/** Whether `socket` can be corked (a net/tls socket can; a test double might not). */
export function isCorkable(socket: unknown): socket is Corkable {
  const s = socket as Partial<Corkable> | null | undefined
  return !!s && typeof s.cork === 'function' && typeof s.uncork === 'function' && typeof s.write === 'function' && typeof s.on === 'function'
}
