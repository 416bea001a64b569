// Sending over AMQP 1.0: one cached sender link (on its own session) per node address, because
// RabbitMQ 3.10 has no anonymous relay (an anonymous sender gets the whole connection closed,
// brokers.md §4.1). A send resolves when the broker settles the delivery `accepted`.
//
// Outcomes: accepted → resolve; rejected → ConnectionError naming the broker's reason;
// released/modified (the broker did not take it) → sent again until the deadline. A delivery
// that was handed to rhea when the connection was lost has an unknown outcome → ConnectionError
// (the Agent resends those within its deadline), as the 0-9-1 adapter does for lost confirms.
import type { Connection as RheaConnection, Delivery as RheaDelivery, EventContext, Message, Sender } from 'rhea'
import { ConnectionError, GoferError } from '../../errors.js'
import { logger } from '../../log.js'
import { attachLink, LinkLost, type AttachedLink } from './attach.js'
import { flushAfterSend } from './socket-writer.js'

const log = logger('gofer.messaging')

/** Above this many cached senders, idle ones are detached (least recently used first). */
const MAX_SENDERS = 64

interface Pending {
  resolve(): void
  reject(error: Error): void
}

/** Resend: the broker released the message, or it never left us. */
export class NotTaken extends Error {}

class CachedSender {
  readonly pending = new Map<RheaDelivery, Pending>()
  dead: Error | null = null

  constructor(readonly attached: AttachedLink<Sender>) {
    const sender = attached.link
    sender.on('accepted', ctx => this.settle(ctx, null))
    sender.on('rejected', ctx => this.settle(ctx, new ConnectionError(`message rejected by the broker: ${describe(ctx.delivery?.remote_state)}`)))
    sender.on('released', ctx => this.settle(ctx, new NotTaken('released by the broker')))
    sender.on('modified', ctx => this.settle(ctx, new NotTaken('modified by the broker')))
  }

  get alive(): boolean {
    return this.dead === null && this.attached.link.is_open()
  }

  private settle(ctx: EventContext, error: Error | null): void {
    const delivery = ctx.delivery
    const waiter = delivery ? this.pending.get(delivery) : undefined
    if (!waiter || !delivery) return
    this.pending.delete(delivery)
    if (error) waiter.reject(error)
    else waiter.resolve()
  }

  /**
   * Send now if there is credit; null when the link has none (caller waits for 'sendable').
   * `batch`: the frame may share a socket write with the sends right after it (socket-writer.ts).
   */
  write(message: Message, batch = false): Promise<void> | null {
    const sender = this.attached.link
    // A socket already destroyed (a connection loss not yet processed) takes nothing: this
    // message is certainly not sent, so wait for the next connection instead of failing it.
    const socket = (sender.connection as unknown as { socket?: { destroyed?: boolean } }).socket
    if (socket?.destroyed) throw new LinkLost('connection lost before the message was written')
    if (!sender.sendable()) return null
    const delivery = sender.send(message)
    flushAfterSend(sender.connection, batch ? 'turn' : 'now')
    return new Promise<void>((resolve, reject) => this.pending.set(delivery, { resolve, reject }))
  }

  /** Wait until the link has credit, the link dies, or the deadline passes. */
  whenSendable(ms: number): Promise<void> {
    const sender = this.attached.link
    if (sender.sendable() || this.dead) return Promise.resolve()
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        sender.removeListener('sendable', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, ms))
      sender.on('sendable', done)
    })
  }

  fail(error: Error): void {
    this.dead ??= error
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }
}

function describe(state: unknown): string {
  const error = (state as { error?: { condition?: string; description?: string } } | undefined)?.error
  return error ? `${error.condition ?? ''} ${error.description ?? ''}`.trim() : 'no reason given'
}

export class SenderPool {
  private conn: RheaConnection | null = null
  /** node address → sender, in least-recently-used order. */
  private readonly senders = new Map<string, CachedSender>()
  private readonly opening = new Map<string, Promise<CachedSender>>()

  /** The cached sender for `node` on `conn`, if any (no attach; the synchronous fast path). */
  cached(conn: RheaConnection, node: string): CachedSender | undefined {
    return this.conn === conn ? this.senders.get(node) : undefined
  }

  /** The open sender for `node` on `conn`, attaching one (shared by concurrent callers) if needed. */
  async senderFor(conn: RheaConnection, node: string, address: string): Promise<CachedSender> {
    if (this.conn !== conn) this.reset(conn)
    const current = this.senders.get(node)
    if (current?.alive) {
      this.senders.delete(node)
      this.senders.set(node, current)
      return current
    }
    let opening = this.opening.get(node)
    if (!opening) {
      const holder: { sender: CachedSender | null } = { sender: null }
      const p = attachLink(conn, 'sender', address, session => session.open_sender({ target: { address: node } }), error => {
        // The broker ended the sender (RabbitMQ ends the session on errors): fail what waits.
        holder.sender?.fail(error)
        if (this.senders.get(node) === holder.sender) this.senders.delete(node)
      }).then(attached => {
        holder.sender = new CachedSender(attached)
        return holder.sender
      }).finally(() => {
        if (this.opening.get(node) === p) this.opening.delete(node)
      })
      this.opening.set(node, p)
      opening = p
    }
    const sender = await opening
    if (this.conn === conn) {
      this.senders.delete(node)
      this.senders.set(node, sender)
      this.trim()
    }
    return sender
  }

  /** A new connection: every old sender died with the old one; their pending sends fail. */
  reset(conn: RheaConnection | null): void {
    this.conn = conn
    const lost = new ConnectionError('connection lost before the broker confirmed the message')
    for (const sender of this.senders.values()) sender.fail(lost)
    this.senders.clear()
    this.opening.clear()
  }

  /** Fail every pending send with `error` (close()). */
  close(error: GoferError): void {
    for (const sender of this.senders.values()) {
      sender.fail(error)
      void sender.attached.close()
    }
    this.senders.clear()
    this.opening.clear()
    this.conn = null
  }

  /** Detach senders beyond MAX_SENDERS that have nothing in flight (many distinct reply addresses). */
  private trim(): void {
    if (this.senders.size <= MAX_SENDERS) return
    for (const [node, sender] of this.senders) {
      if (this.senders.size <= MAX_SENDERS) break
      if (sender.pending.size > 0) continue
      this.senders.delete(node)
      sender.fail(new LinkLost('sender detached as unused'))
      void sender.attached.close().catch(err => log.debug({ node, err: (err as Error).message }, 'detach failed'))
    }
  }
}
