// What the broker adapters do alike around their ReconnectingLink (the Connection contract's
// lifecycle): ready() within the connect deadline; close() once, rejecting what is pending
// before the polite broker round trips; the 'connected'/'disconnected'/'error' events; and one
// broker operation retried across reconnects until the send deadline.
import { EventEmitter } from 'node:events'
import { ConnectionClosed, ConnectionError, GoferError } from '../errors.js'
import { logger } from '../log.js'
import type { ReconnectingLink } from './reconnecting-link.js'
import { displayUrl, type BrokerUrl } from './url.js'

const log = logger('gofer.messaging')

export interface LinkedTimeouts {
  /** How long an operation waits for a (re)connection, ms. */
  sendTimeoutMs: number
  /** How long ready() waits for the first connection, ms. */
  connectTimeoutMs: number
}

export abstract class LinkedConnection<T> extends EventEmitter {
  protected readonly link: ReconnectingLink<T>
  protected readonly sendTimeoutMs: number
  private readonly connectTimeoutMs: number
  /** Set by close(): from then on everything rejects ConnectionClosed. */
  protected closing: Promise<void> | null = null

  /**
   * `openLink` makes the protocol's link around our restore(). The subclass starts it last in
   * its own constructor: restore() may run as soon as it connects and needs the subclass's fields.
   */
  protected constructor(
    readonly url: BrokerUrl,
    timeouts: LinkedTimeouts,
    openLink: (restore: (conn: T) => Promise<void>) => ReconnectingLink<T>,
  ) {
    super()
    this.sendTimeoutMs = timeouts.sendTimeoutMs
    this.connectTimeoutMs = timeouts.connectTimeoutMs
    this.link = openLink(conn => this.restore(conn))
    this.link.on('up', () => this.announce('connected'))
    this.link.on('down', () => this.announce('disconnected'))
  }

  /** Runs on every new connection before it is announced: queues, then consumers. */
  protected abstract restore(conn: T): Promise<void>

  /** close(), before the link closes: reject pending sends, cancel subscriptions. */
  protected abstract release(): Promise<void>

  /** close(), after the link closed: anything else the adapter holds open. */
  protected async releaseAfterLink(): Promise<void> {}

  ready(): Promise<void> {
    if (this.closing) return Promise.reject(new ConnectionClosed())
    return this.link.ready(this.connectTimeoutMs)
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  /** Test hook (not part of the contract): destroy the socket as a network failure would. */
  _dropForTest(): void {
    this.link.dropForTest()
  }

  /**
   * Run a broker operation on the live connection, waiting for a (re)connect up to the send
   * deadline and retrying when `isLoss` says the connection failed under it. Broker verdicts
   * (our typed errors) are final; anything else unexpected becomes a ConnectionError.
   */
  protected async onLiveConnection<R>(what: string, isLoss: (err: unknown) => boolean, op: (conn: T) => Promise<R>): Promise<R> {
    const deadline = Date.now() + this.sendTimeoutMs
    let stale: T | null = null
    for (;;) {
      this.checkOpen()
      const left = deadline - Date.now()
      if (left <= 0) throw new ConnectionError(`cannot ${what}: no usable connection to ${displayUrl(this.url)} within ${this.sendTimeoutMs} ms`)
      let conn: T
      try {
        conn = await this.link.whenUp(left, stale)
      } catch (err) {
        throw this.closing ? new ConnectionClosed() : err
      }
      try {
        return await op(conn)
      } catch (err) {
        if (this.closing) throw new ConnectionClosed()
        if (err instanceof GoferError) throw err
        if (!isLoss(err)) throw new ConnectionError(`cannot ${what}: ${(err as Error).message}`, { cause: err })
        log.debug({ op: what, err: (err as Error).message }, 'connection failed under an operation; retrying')
        // Wait for a different connection, even if the link has not noticed this loss yet.
        stale = conn
      }
    }
  }

  /** The 'error' event, only when someone listens (an unheard 'error' would throw). */
  protected report(err: Error): void {
    if (this.listenerCount('error') === 0) {
      log.warn({ url: displayUrl(this.url), err: err.message }, 'messaging error (no listener)')
      return
    }
    try {
      this.emit('error', err)
    } catch (thrown) {
      log.error({ err: (thrown as Error).message }, "an 'error' listener threw")
    }
  }

  protected checkOpen(): void {
    if (this.closing) throw new ConnectionClosed()
  }

  private async shutdown(): Promise<void> {
    const wasUp = this.link.current() !== null
    // Reject what is pending first, so nobody waits on the polite broker round trips below.
    await this.release()
    await this.link.close()
    await this.releaseAfterLink()
    if (wasUp) this.announce('disconnected')
  }

  /** Our listeners run inside reconnect and client-library callbacks: a throw must not escape there. */
  private announce(event: 'connected' | 'disconnected'): void {
    try {
      this.emit(event)
    } catch (err) {
      log.error({ event, err: (err as Error).message }, 'connection listener threw')
    }
  }
}
