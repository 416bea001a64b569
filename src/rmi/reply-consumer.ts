// Asynchronous replies (reference/gofer.md §7.6): `new ReplyConsumer(url, queue).start(listener)`
// reads the queue callers named as `reply` and hands each reply to a listener: a function (called
// with the reply) or an object with any of accepted/rejected/started/progress/succeeded/failed.
// Replies to an sn after its final reply are ignored, as gofer's blacklist does.
import { logger } from '../log.js'
import type { Subscription, TlsOptions } from '../messaging/adapter.js'
import { acquireConnection, type ConnectionLease } from '../messaging/registry.js'
import { decode } from './envelope.js'
import { readReply, type Reply } from './replies.js'

const log = logger('gofer.rmi')

type Handler<K extends Reply['kind']> = (reply: Extract<Reply, { kind: K }>) => unknown

export interface ReplyListener {
  accepted?: Handler<'accepted'>
  rejected?: Handler<'rejected'>
  started?: Handler<'started'>
  progress?: Handler<'progress'>
  succeeded?: Handler<'succeeded'>
  failed?: Handler<'failed'>
}

/** How many finished sns are remembered to ignore late duplicates. */
const FINISHED_MEMORY = 10_000

export class ReplyConsumer {
  private lease: ConnectionLease | null = null
  private subscription: Subscription | null = null
  private readonly finished = new Set<string>()

  /**
   * @param options.temporary declare a missing queue non-durable and auto-deleted when this
   * consumer stops (default: durable, so replies wait for a restarted consumer).
   * @param options.tls TLS for an `amqps://` URL, as the Agent's `tls` option.
   */
  constructor(readonly url: string, readonly queue: string, private readonly options: { temporary?: boolean; tls?: TlsOptions } = {}) {}

  /** Start consuming (declaring the queue if it does not exist yet). */
  async start(listener: ReplyListener | ((reply: Reply) => unknown)): Promise<void> {
    if (this.subscription) throw new Error('ReplyConsumer already started')
    this.lease = acquireConnection(this.url, { tls: this.options.tls })
    const connection = this.lease.connection
    try {
      if (!(await connection.queueExists(this.queue))) {
        const temporary = this.options.temporary === true
        await connection.declareQueue({ name: this.queue, durable: !temporary, autoDelete: temporary })
      }
      this.subscription = await connection.consume(this.queue, delivery => {
        try {
          this.deliver(delivery.body, listener)
        } finally {
          delivery.ack()
        }
      })
    } catch (error) {
      await this.stop()
      throw error
    }
  }

  private deliver(body: Buffer, listener: ReplyListener | ((reply: Reply) => unknown)): void {
    const decoded = decode(body)
    const reply = decoded.document ? readReply(decoded.document) : decoded.problem ?? 'unreadable'
    if (typeof reply === 'string') {
      log.warn({ queue: this.queue, problem: reply }, 'invalid reply ignored')
      return
    }
    if (this.finished.has(reply.sn)) return
    if (reply.kind === 'succeeded' || reply.kind === 'failed') {
      this.finished.add(reply.sn)
      if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.values().next().value!)
    }
    try {
      const outcome = typeof listener === 'function' ? listener(reply) : (listener[reply.kind] as ((r: Reply) => unknown) | undefined)?.call(listener, reply)
      if (outcome instanceof Promise) outcome.catch(error => log.warn({ err: error, sn: reply.sn }, 'reply listener failed'))
    } catch (error) {
      log.warn({ err: error, sn: reply.sn }, 'reply listener failed')
    }
  }

  async stop(): Promise<void> {
    await this.subscription?.cancel().catch(() => undefined)
    this.subscription = null
    await this.lease?.release()
    this.lease = null
  }
}
