// The reconnecting link, for any protocol: one broker connection at a time, replaced with
// jittered backoff whenever it is lost. It knows nothing about queues, consumers or the wire;
// a subclass says how to dial, watch, close and break one connection of its protocol (T), and
// the owner passes a `restore` hook that runs on every fresh connection *before* it is
// announced as up, so that nobody can use a queue or consumer that is not back yet.
import { EventEmitter } from 'node:events'
import { ConnectionClosed, ConnectionError } from '../errors.js'
import { logger } from '../log.js'
import type { ConnectOptions } from './adapter.js'
import { Backoff } from './backoff.js'
import { LinkWaiters } from './link-waiters.js'
import { displayUrl, type BrokerUrl } from './url.js'

const log = logger('gofer.messaging')

/** A connection that stayed up this long counts as healthy: the next outage starts the backoff over. */
const STABLE_MS = 5000

/** How long a protocol's closeConnection() waits for the broker's close before dropping the socket. */
export const CLOSE_GRACE_MS = 2000

type State = 'connecting' | 'up' | 'down' | 'failed' | 'closed'

/** The protocol's wording in the log lines that differ between the adapters. */
export interface LinkWording {
  /** The info line of a successful (re)connect, e.g. 'connected'. */
  connected: string
  /** What restore() brings back, as in "restoring <what> failed; reconnecting". */
  restoring: string
}

/**
 * Events: 'up' (connection) after a (re)connect and its restore; 'down' (error) when a
 * connection that was up is lost. Never emits 'error': every failure is logged and retried here.
 */
export abstract class ReconnectingLink<T> extends EventEmitter {
  private state: State = 'connecting'
  private conn: T | null = null
  private everUp = false
  private upSince = 0
  private lastError: Error | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly waiters = new LinkWaiters<T>()
  private readonly backoff = new Backoff()
  /** The URL without credentials, for log lines and error messages. */
  protected readonly where: string

  constructor(
    readonly url: BrokerUrl,
    protected readonly options: ConnectOptions,
    private readonly restore: (conn: T) => Promise<void>,
    private readonly wording: LinkWording,
  ) {
    super()
    this.where = displayUrl(url)
  }

  /** One connection attempt; rejects (a ConnectionError names the URL already). */
  protected abstract dial(): Promise<T>

  /**
   * Listen on a fresh connection before restore() uses it: every way it can end must call
   * lost(conn, ...), and an unhandled error event there would crash the process.
   */
  protected abstract watch(conn: T): void

  /** Close politely, but never hang: after CLOSE_GRACE_MS (or on error) drop the socket. */
  protected abstract closeConnection(conn: T): Promise<void>

  /** Break the socket as a network failure would (for dropForTest). */
  protected abstract destroySocket(conn: T, error: Error): void

  /** Begin connecting (separate from the constructor so listeners can be attached first). */
  start(): void {
    void this.attempt()
  }

  /** The live connection, or null while (re)connecting. */
  current(): T | null {
    return this.state === 'up' ? this.conn : null
  }

  get isClosed(): boolean {
    return this.state === 'closed'
  }

  /**
   * The live connection, waiting up to `timeoutMs` for one. `stale` is a connection the caller
   * just saw fail: wait for a different one even if the loss has not been noticed yet, so a
   * caller retrying an operation does not spin on a dead connection.
   */
  whenUp(timeoutMs: number, stale: T | null = null): Promise<T> {
    if (this.state === 'closed') return Promise.reject(new ConnectionClosed())
    if (this.state === 'failed') return Promise.reject(this.failure())
    if (this.state === 'up' && this.conn && this.conn !== stale) return Promise.resolve(this.conn)
    return this.waiters.wait(timeoutMs, stale, () => {
      const why = this.lastError ? `: ${this.lastError.message}` : ''
      return new ConnectionError(`not connected to ${this.where} within ${Math.round(timeoutMs)} ms${why}`, { cause: this.lastError ?? undefined })
    })
  }

  /** Resolves once connected at least once; a later outage does not make ready() wait again. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.everUp && this.state !== 'closed' && this.state !== 'failed') return
    await this.whenUp(timeoutMs)
  }

  /** Stop for good: no more reconnects, waiters reject ConnectionClosed, the connection closes. */
  async close(): Promise<void> {
    if (this.state === 'closed') return
    const wasUp = this.state === 'up'
    this.state = 'closed'
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.waiters.reject(new ConnectionClosed())
    const conn = this.conn
    this.conn = null
    if (conn) await this.closeConnection(conn)
    if (wasUp) log.info({ url: this.where }, 'connection closed')
  }

  /** Test hook: break the socket as a network failure would. */
  dropForTest(): void {
    const conn = this.conn
    if (conn) this.destroySocket(conn, new Error('connection dropped for test'))
  }

  /** True while `conn` is the link's connection (not one it gave up on or closed on purpose). */
  protected owns(conn: T): boolean {
    return this.conn === conn
  }

  /** `conn` ended (for watch()): reconnect, unless it is no longer ours. */
  protected lost(conn: T, err?: Error): void {
    if (this.conn !== conn) return // one we already gave up on, or closed on purpose
    this.conn = null
    const wasUp = this.state === 'up'
    this.state = 'down'
    // Start the backoff over only after a connection that lasted: a broker that accepts and
    // then drops us at once must see growing delays, not a reconnect every 100 ms.
    if (wasUp && Date.now() - this.upSince >= STABLE_MS) this.backoff.reset()
    this.lastError = err ?? new Error('connection closed by the broker')
    log.warn({ url: this.where, err: this.lastError.message }, 'connection lost; reconnecting')
    this.schedule(this.backoff.next())
    if (wasUp) this.announce('down', this.lastError)
  }

  private async attempt(): Promise<void> {
    this.timer = null
    if (this.state === 'closed' || this.state === 'failed') return
    this.state = 'connecting'
    let conn: T
    try {
      conn = await this.dial()
    } catch (err) {
      this.lastError = err as Error
      if (this.isClosed) return
      if (!this.everUp && this.options.retry === false) {
        this.state = 'failed'
        log.error({ url: this.where, err: (err as Error).message }, 'connect failed; not retrying')
        this.waiters.reject(this.failure())
        return
      }
      const wait = this.backoff.next()
      log.warn({ url: this.where, err: (err as Error).message, retryInMs: wait }, 'connect failed; retrying')
      this.schedule(wait)
      return
    }
    if (this.isClosed) {
      await this.closeConnection(conn)
      return
    }
    this.watch(conn)
    this.conn = conn
    try {
      await this.restore(conn)
    } catch (err) {
      // restore() only throws when the connection itself failed under it. If the loss was
      // already noticed (lost() replaced `conn`), the reconnect is scheduled; otherwise drop it
      // and retry.
      if (this.conn !== conn || this.isClosed) return
      this.lastError = err as Error
      log.warn({ url: this.where, err: (err as Error).message }, `restoring ${this.wording.restoring} failed; reconnecting`)
      this.conn = null
      this.state = 'down'
      void this.closeConnection(conn)
      this.schedule(this.backoff.next())
      return
    }
    if (this.conn !== conn || this.isClosed) return
    this.state = 'up'
    this.upSince = Date.now()
    this.lastError = null
    log.info({ url: this.where, reconnect: this.everUp }, this.wording.connected)
    this.everUp = true
    this.waiters.resolve(conn)
    this.announce('up', conn)
  }

  /** Emit without letting a throwing listener break the reconnect machinery. */
  private announce(event: 'up' | 'down', arg: unknown): void {
    try {
      this.emit(event, arg)
    } catch (err) {
      log.error({ event, err: (err as Error).message }, 'connection listener threw')
    }
  }

  private schedule(ms: number): void {
    if (this.isClosed || this.timer) return
    this.timer = setTimeout(() => void this.attempt(), ms)
  }

  private failure(): ConnectionError {
    // A dial error already says "cannot connect to <url>: ..."; do not say it twice.
    if (this.lastError instanceof ConnectionError) return this.lastError
    const why = this.lastError ? `: ${this.lastError.message}` : ''
    return new ConnectionError(`cannot connect to ${this.where}${why}`, { cause: this.lastError ?? undefined })
  }
}
