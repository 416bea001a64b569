// Sends in call order. An agent sends `accepted`, `started`, progress and the result without
// waiting between them, and callers rely on that order (the Agent ignores a late `accepted`, a
// ReplyConsumer sees a result before its progress otherwise). Before a message can be written to
// an address there may be awaits (the queue existence check, the sender attach, credit, a
// reconnect), so the sends to one address pass through a gate: each is *written* only after the
// previous one to the same address was written or failed. Their confirmations still overlap.
// When nothing needs waiting for, a send is written synchronously (no await), as the 0-9-1
// adapter does.
import type { Connection as RheaConnection, Message } from 'rhea'
import { ConnectionError, GoferError } from '../../errors.js'
import { delay } from '../backoff.js'
import type { ReconnectingLink } from '../reconnecting-link.js'
import { LinkLost } from './attach.js'
import type { Dialect } from './dialect.js'
import { NotTaken, type SenderPool } from './sender.js'

export interface OutboxHost {
  readonly link: ReconnectingLink<RheaConnection>
  readonly sendTimeoutMs: number
  /** The broker dialect (known once connected). */
  dialect(): Dialect | null
  /** Queues known to exist on the current connection. */
  known(queue: string): boolean
  /** Check (once per connection) that a queue exists; rejects NotFound. */
  mustExist(queue: string, address: string): Promise<void>
  /** Throws ConnectionClosed after close(). */
  checkOpen(): void
  /** After close(): rejects ConnectionClosed once close() has finished; else null. */
  closedUnder(): Promise<never> | null
}

/** A written message's outcome, boxed so that promise chains do not adopt it early. */
interface Written {
  outcome: Promise<void>
}

export class Outbox {
  /** address → settles when the latest queued send to it was written (or failed). */
  private readonly gates = new Map<string, Promise<void>>()

  constructor(private readonly host: OutboxHost, private readonly senders: SenderPool) {}

  /** `batch`: may share a socket write with the sends right after it (SendOptions.batch). */
  async send(address: string, message: Message, deadline: number, batch = false): Promise<void> {
    try {
      const written = this.writeNow(address, message, batch) ?? (await this.writeInTurn(address, message, deadline))
      return await written.outcome
    } catch (err) {
      // Interrupted by close(): reject ConnectionClosed once close() has finished.
      const closed = this.host.closedUnder()
      if (closed) return closed
      if (err instanceof NotTaken) {
        // The broker released it: send it again (it may now follow later sends; rare).
        await delay(50)
        return this.send(address, message, deadline)
      }
      throw err
    }
  }

  /** The fast path: connected, nothing queued for this address, queue known, sender open with credit. */
  private writeNow(address: string, message: Message, batch: boolean): Written | null {
    if (this.gates.has(address)) return null
    const conn = this.host.link.current()
    const dialect = this.host.dialect()
    if (!conn || !dialect) return null
    const target = dialect.target(address)
    if (target.queue !== null && !this.host.known(target.queue)) return null
    const sender = this.senders.cached(conn, target.node)
    if (!sender?.alive) return null
    try {
      const outcome = sender.write(message, batch)
      return outcome ? { outcome } : null
    } catch {
      return null // the socket is gone: the slow path waits for the next connection
    }
  }

  /** The slow path, behind the previous send to the same address. */
  private writeInTurn(address: string, message: Message, deadline: number): Promise<Written> {
    const previous = this.gates.get(address) ?? Promise.resolve()
    const written = previous.then(() => this.writeWhenReady(address, message, deadline))
    const gate = written.then(() => undefined, () => undefined)
    this.gates.set(address, gate)
    void gate.then(() => {
      if (this.gates.get(address) === gate) this.gates.delete(address)
    })
    return written
  }

  /** Wait for a connection, the queue check, the sender and credit; then write. */
  private async writeWhenReady(address: string, message: Message, deadline: number): Promise<Written> {
    let stale: RheaConnection | null = null
    for (;;) {
      this.host.checkOpen()
      const left = deadline - Date.now()
      if (left <= 0) throw new ConnectionError(`cannot send to "${address}": no usable connection within ${this.host.sendTimeoutMs} ms`)
      let conn: RheaConnection
      try {
        conn = await this.host.link.whenUp(left, stale)
      } catch (err) {
        const closed = this.host.closedUnder()
        if (closed) return closed
        throw err
      }
      const target = this.host.dialect()!.target(address)
      try {
        if (target.queue !== null) await this.host.mustExist(target.queue, address)
        const sender = await this.senders.senderFor(conn, target.node, address)
        this.host.checkOpen()
        const outcome = sender.write(message)
        if (outcome) return { outcome }
        await sender.whenSendable(Math.min(left, 1000))
      } catch (err) {
        const closed = this.host.closedUnder()
        if (closed) return closed
        if (err instanceof GoferError) throw err
        if (err instanceof LinkLost) {
          stale = conn
          continue
        }
        throw new ConnectionError(`cannot send to "${address}": ${(err as Error).message}`, { cause: err })
      }
    }
  }
}
