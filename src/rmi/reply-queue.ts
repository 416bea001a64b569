// One reply queue per caller process and broker URL (not per call, as Python gofer does): every
// synchronous call's replies come back here and are routed to the waiting call by `sn`.
// The queue is named, non-exclusive and expires a while after it is unused, so it survives a
// dropped connection (the adapter re-declares and resubscribes it) and cannot leak for long
// when a caller dies.
// Over AMQP 1.0, where the broker offers it, a dynamic reply node (Connection.replyEndpoint) is
// used instead: the broker names it and removes it with its link, so nothing can leak. Its
// address changes when the connection is re-established, so it is read for every call.
import { randomUUID } from 'node:crypto'
import { ConnectionClosed, Rejected, RequestTimeout } from '../errors.js'
import { logger } from '../log.js'
import type { MessageHandler, ReplyEndpoint, Subscription, TlsOptions } from '../messaging/adapter.js'
import { acquireConnection, tlsKey, type ConnectionLease } from '../messaging/registry.js'
import { parseUrl } from '../messaging/url.js'
import { decode } from './envelope.js'
import { readReply } from './replies.js'

const log = logger('gofer.rmi')

/** Unused reply queues disappear after this long (x-expires). */
const REPLY_QUEUE_EXPIRES_MS = 5 * 60_000

export interface ProgressReport {
  sn: string
  data: unknown
  total: number
  completed: number
  details: unknown
}

interface Waiting {
  resolve(value: unknown): void
  reject(error: Error): void
  progress: ((report: ProgressReport) => void) | null
  timer: NodeJS.Timeout
  /** Whose call it is (an Agent), so that closing it fails only its own calls. */
  owner: object | null
}

/**
 * True for an accepted/started reply in gofer's sorted-key form. Sound because the test reads
 * the document's last members: `"status"`, `"timestamp"`, `"version"` right before the closing
 * brace can only be top-level members (a nested object would end with a second brace).
 */
const PLAIN_STATUS_TAIL = /"status": "(accepted|started)", "timestamp": "[0-9TZ:-]{20}", "version": "2\.0"\}$/
function isPlainStatus(body: Buffer): boolean {
  if (body.length < 80) return false
  return PLAIN_STATUS_TAIL.test(body.toString('latin1', body.length - 80))
}

export class ReplyQueue {
  private static readonly byUrl = new Map<string, ReplyQueue>()

  /** The shared reply queue for `url` (and TLS options: one per pooled connection); release() it when done. */
  static acquire(url: string, tls?: TlsOptions): ReplyQueue {
    const parsed = parseUrl(url)
    const key = parsed.key + tlsKey(parsed, tls)
    let queue = ReplyQueue.byUrl.get(key)
    if (!queue) {
      queue = new ReplyQueue(url, key, tls)
      ReplyQueue.byUrl.set(key, queue)
    }
    queue.refs++
    return queue
  }

  readonly name = `gofer.reply.${randomUUID()}`
  private refs = 0
  private readonly lease: ConnectionLease
  private readonly waiting = new Map<string, Waiting>()
  private readonly exchanges = new Map<string, Promise<void>>()
  private subscribed: Promise<Subscription> | null = null
  /** The dynamic reply node, when the connection gave us one. */
  private endpoint: ReplyEndpoint | null = null
  /** The named queue, consumed besides a dynamic node only for replies through an exchange. */
  private named: Promise<Subscription> | null = null
  private closed = false
  /** ready() has resolved (then the queue or node stays ours until release()). */
  private isReady = false

  private constructor(url: string, private readonly key: string, tls: TlsOptions | undefined) {
    this.lease = acquireConnection(url, { retry: false, tls })
  }

  private readonly onReply: MessageHandler = delivery => {
    delivery.ack()
    this.route(delivery.body)
  }

  /** Declare and consume the named queue (once). */
  private consumeNamed(): Promise<Subscription> {
    if (!this.named) {
      const connection = this.lease.connection
      this.named = connection
        .declareQueue({ name: this.name, durable: false, autoDelete: false, expires: REPLY_QUEUE_EXPIRES_MS })
        .then(() => connection.consume(this.name, this.onReply, { prefetch: 1000 }))
      this.named.catch(() => {
        this.named = null
      })
    }
    return this.named
  }

  /** A dynamic reply node where the adapter and broker have one, else the named queue (once). */
  ready(): Promise<unknown> {
    if (!this.subscribed) {
      const connection = this.lease.connection
      // Adapters without dynamic nodes (0-9-1, memory) take exactly the named-queue path.
      this.subscribed = connection.replyEndpoint
        ? connection.replyEndpoint(this.onReply, { prefetch: 1000 }).then(endpoint => {
          this.endpoint = endpoint
          return endpoint ?? this.consumeNamed()
        })
        : this.consumeNamed()
      this.subscribed.then(() => {
        this.isReady = true
      }, () => {
        this.subscribed = null
      })
    }
    return this.subscribed
  }

  /** The plain reply address (no exchange) once the queue or node is ready; null before. */
  knownAddress(): string | null {
    if (!this.isReady) return null
    return this.endpoint?.address ?? this.name
  }

  /** The reply address for callers using `exchange` (bound once per exchange). */
  async address(exchange: string | undefined): Promise<string> {
    await this.ready()
    if (!exchange) return this.endpoint?.address ?? this.name
    // A dynamic node cannot be bound to an exchange: those replies use the named queue.
    if (this.endpoint) await this.consumeNamed()
    let bound = this.exchanges.get(exchange)
    if (!bound) {
      bound = this.lease.connection.declareQueue({
        name: this.name, durable: false, autoDelete: false, expires: REPLY_QUEUE_EXPIRES_MS, exchange,
      })
      this.exchanges.set(exchange, bound)
      bound.catch(() => this.exchanges.delete(exchange))
    }
    await bound
    return `${exchange}/${this.name}`
  }

  /** Wait for the final reply to `sn`, at most `waitSeconds`, on behalf of `owner`. */
  expect(sn: string, waitSeconds: number, progress: ((report: ProgressReport) => void) | null, owner: object | null = null): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionClosed('reply queue closed'))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(sn)
        reject(new RequestTimeout(sn, waitSeconds))
      }, waitSeconds * 1000)
      this.waiting.set(sn, { resolve, reject, progress, timer, owner })
    })
  }

  /** End every wait of `owner` with the error `why(sn)` (its Agent was closed). */
  failOwned(owner: object, why: (sn: string) => Error): void {
    for (const [sn, waiting] of this.waiting) {
      if (waiting.owner === owner) this.fail(sn, why(sn))
    }
  }

  /** End the wait for `sn` with an error (e.g. the request could not be sent). */
  fail(sn: string, error: Error): void {
    const waiting = this.waiting.get(sn)
    if (!waiting) return
    this.waiting.delete(sn)
    clearTimeout(waiting.timer)
    waiting.reject(error)
  }

  private route(body: Buffer): void {
    // Synchronous calls ignore accepted/started; skip parsing them (a third of all replies).
    if (isPlainStatus(body)) return
    const decoded = decode(body)
    if (!decoded.document) {
      log.warn({ problem: decoded.problem }, 'unreadable reply dropped')
      return
    }
    const reply = readReply(decoded.document)
    if (typeof reply === 'string') {
      log.warn({ problem: reply }, 'invalid reply dropped')
      return
    }
    const waiting = this.waiting.get(reply.sn)
    if (!waiting) return // a reply to a call that already timed out, or to someone else
    switch (reply.kind) {
      case 'accepted':
      case 'started':
        return
      case 'progress':
        try {
          waiting.progress?.({ sn: reply.sn, data: reply.data, total: reply.total, completed: reply.completed, details: reply.details })
        } catch (error) {
          log.warn({ err: error, sn: reply.sn }, 'progress callback failed')
        }
        return
    }
    this.waiting.delete(reply.sn)
    clearTimeout(waiting.timer)
    if (reply.kind === 'succeeded') waiting.resolve(reply.retval)
    else if (reply.kind === 'failed') waiting.reject(reply.error)
    else waiting.reject(new Rejected(reply.code, reply.description, reply.details, reply.sn))
  }

  /** Drop one reference; the last one deletes the queue and fails calls still waiting. */
  async release(): Promise<void> {
    if (--this.refs > 0) return
    this.closed = true
    ReplyQueue.byUrl.delete(this.key)
    for (const [sn, waiting] of this.waiting) {
      clearTimeout(waiting.timer)
      waiting.reject(new ConnectionClosed(`caller closed while waiting for ${sn}`))
    }
    this.waiting.clear()
    await this.subscribed?.catch(() => null)
    await this.endpoint?.cancel().catch(() => undefined)
    const named = await this.named?.catch(() => null)
    if (named) {
      await named.cancel().catch(() => undefined)
      await this.lease.connection.deleteQueue(this.name).catch(() => undefined)
    }
    await this.lease.release()
  }
}
