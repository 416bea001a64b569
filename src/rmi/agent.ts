// The caller side (reference/gofer.md §7): `new Agent(url, address, options)` and typed stubs.
//   const dog = new Agent('amqp://localhost', 'demo', { wait: '30s' }).stub<Dog>('Dog', ['rover'])
//   await dog.bark('howdy')
// Call modes follow gofer: synchronous (wait > 0), fire-and-forget (wait 0: resolves with the sn),
// asynchronous replies to `reply` (resolves with the sn), manual `trigger` (resolves with a
// function carrying `sn` that sends the request once when called).
import { randomUUID } from 'node:crypto'
import { ConnectionClosed, ConnectionError, InvalidArgument } from '../errors.js'
import type { Connection, TlsOptions } from '../messaging/adapter.js'
import { acquireConnection, type ConnectionLease } from '../messaging/registry.js'
import { seconds } from './duration.js'
import { encodeRequest } from './envelope.js'
import { ReplyQueue, type ProgressReport } from './reply-queue.js'

/** How long an asynchronous call keeps retrying a send across a lost connection. */
const ASYNC_SEND_DEADLINE_MS = 10_000

/**
 * Send, and send again when the connection was lost before the broker confirmed (the adapter
 * waits for the reconnection). At least once: if the broker had the first copy, the agent may
 * run the call twice; the caller keeps the first final reply for the sn and ignores the other.
 * The first try is a plain call: the retry loop is entered only after a failure.
 */
function sendSurvivingReconnects(connection: Connection, send: () => Promise<void>, deadline: number): Promise<void> {
  return send().catch(error => resend(connection, send, deadline, error))
}

async function resend(connection: Connection, send: () => Promise<void>, deadline: number, error: unknown): Promise<void> {
  for (;;) {
    if (!(error instanceof ConnectionError) || Date.now() >= deadline) throw error
    // A broker that never answered (the first connect failed) is not a lost connection.
    const failed = error
    await connection.ready().catch(() => {
      throw failed
    })
    await new Promise(resolve => setTimeout(resolve, 50))
    try {
      return await send()
    } catch (next) {
      error = next
    }
  }
}

export interface AgentOptions {
  /** How long a synchronous call waits for its result: seconds or "30s", "5m", "1h", "1d"; 0 = fire-and-forget. @default 90 */
  wait?: number | string
  /** Request time-to-live (AMQP message TTL), same units; unset or 0 = none. */
  ttl?: number | string
  /** Address for asynchronous replies (read them with ReplyConsumer); makes every call asynchronous. */
  reply?: string
  /** 1 (or true, or 'manual'): calls return a trigger that sends the request when called. @default 0 */
  trigger?: 0 | 1 | boolean | 'manual' | 'auto'
  /** User data, round-tripped unchanged in every reply. */
  data?: unknown
  /** Called for each progress report during a synchronous call. */
  progress?: (report: ProgressReport) => void
  /** Bind the reply queue to this existing exchange and reply through it (`exchange/queue`). */
  exchange?: string
  /**
   * TLS for `amqps://` URLs: CA file, client certificate and key files, host-name check (on
   * unless false). Per Agent only: a stub's options cannot change its Agent's connection.
   */
  tls?: TlsOptions
}

/** A manual trigger: `sn` is known before sending; calling it sends the request (once). */
export interface Trigger {
  (): Promise<unknown>
  readonly sn: string
}

/** A remote class's methods, each returning a promise of its (awaited) result. */
export type Stub<T> = {
  [K in keyof T as T[K] extends (...args: any[]) => any ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never
}

export interface CallInput {
  classname: string
  method: string
  args?: unknown[]
  kws?: Record<string, unknown>
  cntr?: [unknown[], Record<string, unknown>] | null
}

export class Agent {
  readonly url: string
  readonly address: string
  readonly options: AgentOptions
  private lease: ConnectionLease | null = null
  private replies: ReplyQueue | null = null
  private closed = false

  constructor(url: string, address: string, options: AgentOptions = {}) {
    if (typeof address !== 'string' || address.length === 0) throw new InvalidArgument('address must be specified')
    this.url = url
    this.address = address
    this.options = { ...options }
    // Validate eagerly so a bad option fails at construction, not at the first call.
    seconds('wait', options.wait ?? 90)
    if (options.ttl !== undefined) seconds('ttl', options.ttl)
  }

  /**
   * A stub for the remote class `classname`, constructed remotely with `cntrArgs`/`cntrKws`
   * (gofer's `cntr`) on every call. Per-stub options override the Agent's.
   */
  stub<T = Record<string, (...args: any[]) => any>>(
    classname: string,
    cntrArgs?: unknown[],
    cntrKws: Record<string, unknown> = {},
    options: AgentOptions = {},
  ): Stub<T> {
    const cntr: [unknown[], Record<string, unknown>] | null = cntrArgs ? [cntrArgs, cntrKws] : null
    return new Proxy(Object.create(null) as Stub<T>, {
      get: (_target, property) => {
        // Not a thenable: `await agent.stub('Dog')` must not call a remote `then`.
        if (typeof property !== 'string' || property === 'then') return undefined
        return (...args: unknown[]) => this.call({ classname, method: property, args, cntr }, options)
      },
    })
  }

  /** Call `classname.method`; resolves with the result (sync), the sn (async) or a Trigger. */
  call(input: CallInput, overrides: AgentOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionClosed('agent closed'))
    const options = { ...this.options, ...overrides }
    const sn = randomUUID()
    const manual = options.trigger === 1 || options.trigger === true || options.trigger === 'manual'
    if (!manual) return this.send(sn, input, options)
    let pulled = false
    const trigger = (() => {
      if (pulled) return Promise.reject(new InvalidArgument('trigger already executed'))
      pulled = true
      return this.send(sn, input, options)
    }) as Trigger
    Object.defineProperty(trigger, 'sn', { value: sn, enumerable: true })
    return Promise.resolve(trigger)
  }

  private connection() {
    this.lease ??= acquireConnection(this.url, { retry: false, tls: this.options.tls })
    return this.lease.connection
  }

  /** Send the request; every failure (bad option, unserialisable argument) is a rejection. */
  private send(sn: string, input: CallInput, options: AgentOptions): Promise<unknown> {
    try {
      return this.sendNow(sn, input, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private sendNow(sn: string, input: CallInput, options: AgentOptions): Promise<unknown> {
    const wait = seconds('wait', options.wait ?? 90)
    const ttl = options.ttl !== undefined ? seconds('ttl', options.ttl) : 0
    const connection = this.connection()
    const sendOptions = ttl > 0 ? { ttl: Math.round(ttl * 1000) } : {}
    const request = (replyto: string | null) => Buffer.from(encodeRequest({
      sn, address: this.address, replyto, data: options.data ?? null,
      classname: input.classname, method: input.method, args: input.args ?? [], kws: input.kws ?? {}, cntr: input.cntr ?? null,
    }), 'utf8')
    if (options.reply || wait === 0) {
      const body = request(options.reply ?? null)
      return sendSurvivingReconnects(connection, () => connection.send(this.address, body, sendOptions), Date.now() + ASYNC_SEND_DEADLINE_MS)
        .then(() => sn)
    }
    this.replies ??= ReplyQueue.acquire(this.url, this.options.tls)
    const replies = this.replies
    const call = (replyto: string): Promise<unknown> => {
      // Encoded first: an argument JSON cannot carry fails the call before anything waits for it.
      const body = request(replyto)
      const result = replies.expect(sn, wait, options.progress ?? null, this)
      // Not awaited before waiting: the confirm and the reply race, and a failed send ends the wait.
      sendSurvivingReconnects(connection, () => connection.send(this.address, body, sendOptions), Date.now() + wait * 1000)
        .catch(error => replies.fail(sn, error))
      return result
    }
    // Once the reply queue is up, its address is known without waiting (every call after the first).
    const known = options.exchange ? null : replies.knownAddress()
    return known !== null ? call(known) : replies.address(options.exchange).then(call)
  }

  /** Release the connection and reply queue; calls still waiting reject with ConnectionClosed. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.replies?.failOwned(this, sn => new ConnectionClosed(`agent closed while waiting for ${sn}`))
    await this.replies?.release()
    await this.lease?.release()
  }
}
