// The reconnecting AMQP 1.0 connection: one open rhea connection at a time, replaced with
// jittered backoff whenever it is lost. It knows nothing about links; the owner passes a
// `restore` hook that runs on every fresh connection *before* it is announced as up, so that
// consumers are re-attached before anybody sends again. Same shape as ../amqp091/connection.ts.
import { EventEmitter } from 'node:events'
import type { Connection as RheaConnection, Container } from 'rhea'
import { ConnectionClosed, ConnectionError } from '../../errors.js'
import { logger } from '../../log.js'
import type { ConnectOptions } from '../adapter.js'
import { Backoff } from '../amqp091/backoff.js'
import { displayUrl, type BrokerUrl } from '../url.js'
import { dial, errorText, stopTimers } from './dial.js'
import { coalesceWrites } from './socket-writer.js'

const log = logger('gofer.messaging')

/** A connection that stayed up this long counts as healthy: the next outage starts the backoff over. */
const STABLE_MS = 5000
/** How long close() waits for the broker's close before dropping the socket. */
const CLOSE_GRACE_MS = 2000

type State = 'connecting' | 'up' | 'down' | 'failed' | 'closed'

interface Waiter {
  resolve(c: RheaConnection): void
  reject(error: Error): void
  stale: RheaConnection | null
  timer: NodeJS.Timeout | null
}

/** Events: 'up' (connection) after a (re)connect and its restore; 'down' (error) when one that was up is lost. */
export class Link10 extends EventEmitter {
  private state: State = 'connecting'
  private conn: RheaConnection | null = null
  private container: Container | null = null
  private everUp = false
  private upSince = 0
  private lastError: Error | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly waiters = new Set<Waiter>()
  private readonly backoff = new Backoff()
  private readonly where: string

  constructor(
    readonly url: BrokerUrl,
    private readonly options: ConnectOptions,
    private readonly restore: (c: RheaConnection) => Promise<void>,
  ) {
    super()
    this.where = displayUrl(url)
  }

  start(): void {
    void this.attempt()
  }

  /** The live connection, or null while (re)connecting. */
  current(): RheaConnection | null {
    return this.state === 'up' ? this.conn : null
  }

  get isClosed(): boolean {
    return this.state === 'closed'
  }

  /** The live connection, waiting up to `timeoutMs`; `stale` is one the caller just saw fail. */
  whenUp(timeoutMs: number, stale: RheaConnection | null = null): Promise<RheaConnection> {
    if (this.state === 'closed') return Promise.reject(new ConnectionClosed())
    if (this.state === 'failed') return Promise.reject(this.failure())
    if (this.state === 'up' && this.conn && this.conn !== stale) return Promise.resolve(this.conn)
    return new Promise<RheaConnection>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, stale, timer: null }
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter)
        const why = this.lastError ? `: ${this.lastError.message}` : ''
        reject(new ConnectionError(`not connected to ${this.where} within ${Math.round(timeoutMs)} ms${why}`, { cause: this.lastError ?? undefined }))
      }, Math.max(0, timeoutMs))
      this.waiters.add(waiter)
    })
  }

  async ready(timeoutMs: number): Promise<void> {
    if (this.everUp && this.state !== 'closed' && this.state !== 'failed') return
    await this.whenUp(timeoutMs)
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return
    const wasUp = this.state === 'up'
    this.state = 'closed'
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.settleWaiters(null, new ConnectionClosed())
    const conn = this.conn
    this.conn = null
    if (conn) await closeConnection(conn)
    if (wasUp) log.info({ url: this.where }, 'connection closed')
  }

  /** Test hook: break the socket as a network failure would. */
  dropForTest(): void {
    socketOf(this.conn)?.destroy(new Error('connection dropped for test'))
  }

  private async attempt(): Promise<void> {
    this.timer = null
    if (this.state === 'closed' || this.state === 'failed') return
    this.state = 'connecting'
    let conn: RheaConnection
    try {
      const opened = await dial(this.url, this.options)
      conn = opened.connection
      this.container = opened.container
    } catch (err) {
      this.lastError = err as Error
      if (this.isClosed) return
      if (!this.everUp && this.options.retry === false) {
        this.state = 'failed'
        log.error({ url: this.where, err: (err as Error).message }, 'connect failed; not retrying')
        this.settleWaiters(null, this.failure())
        return
      }
      const wait = this.backoff.next()
      log.warn({ url: this.where, err: (err as Error).message, retryInMs: wait }, 'connect failed; retrying')
      this.schedule(wait)
      return
    }
    if (this.isClosed) {
      await closeConnection(conn)
      return
    }
    this.watch(conn)
    this.conn = conn
    // Frames written in one rhea pass leave in one socket write (socket-writer.ts).
    coalesceWrites(conn)
    try {
      await this.restore(conn)
    } catch (err) {
      if (this.conn !== conn || this.isClosed) return
      this.lastError = err as Error
      log.warn({ url: this.where, err: (err as Error).message }, 'restoring links failed; reconnecting')
      this.conn = null
      this.state = 'down'
      void closeConnection(conn)
      this.schedule(this.backoff.next())
      return
    }
    if (this.conn !== conn || this.isClosed) return
    this.state = 'up'
    this.upSince = Date.now()
    this.lastError = null
    log.info({ url: this.where, reconnect: this.everUp }, 'connected (AMQP 1.0)')
    this.everUp = true
    this.settleWaiters(conn, null)
    this.announce('up', conn)
  }

  /** Every way a connection ends leads to lost(); dial's listeners stay but are inert by then. */
  private watch(conn: RheaConnection): void {
    conn.on('disconnected', ctx => this.lost(conn, ctx.error ?? new Error('disconnected')))
    conn.on('connection_error', ctx => log.debug({ url: this.where, err: errorText(ctx.connection.error) }, 'connection error'))
    conn.on('connection_close', ctx => {
      // The broker closed the connection (forced close, or a crashed session process on
      // RabbitMQ 3.10); close our side so the socket ends and the reconnect starts.
      if (this.conn === conn) {
        const err = new Error(errorText(ctx.connection.error) ?? 'connection closed by the broker')
        try {
          conn.close()
        } catch {
          // already closing
        }
        socketOf(conn)?.destroy()
        this.lost(conn, err)
      }
    })
    // Unhandled link/session events bubble up to the connection, then the container: catch the
    // stragglers here (every link we open has its own handlers; this is the safety net).
    for (const event of ['session_error', 'receiver_error', 'sender_error', 'error', 'protocol_error']) {
      conn.on(event as 'error', (ctx: unknown) => log.debug({ url: this.where, event, err: errorText((ctx as { error?: unknown })?.error ?? ctx) }, 'unhandled AMQP 1.0 event'))
    }
  }

  private lost(conn: RheaConnection, err: Error): void {
    if (this.conn !== conn) return
    this.conn = null
    const wasUp = this.state === 'up'
    this.state = 'down'
    if (wasUp && Date.now() - this.upSince >= STABLE_MS) this.backoff.reset()
    this.lastError = err
    log.warn({ url: this.where, err: err.message }, 'connection lost; reconnecting')
    this.schedule(this.backoff.next())
    if (wasUp) this.announce('down', err)
  }

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
    if (this.lastError instanceof ConnectionError) return this.lastError
    const why = this.lastError ? `: ${this.lastError.message}` : ''
    return new ConnectionError(`cannot connect to ${this.where}${why}`, { cause: this.lastError ?? undefined })
  }

  private settleWaiters(conn: RheaConnection | null, error: Error | null): void {
    for (const w of [...this.waiters]) {
      if (conn && w.stale === conn) continue
      this.waiters.delete(w)
      if (w.timer) clearTimeout(w.timer)
      if (conn) w.resolve(conn)
      else w.reject(error ?? new ConnectionClosed())
    }
  }
}

/** The socket under a rhea connection (not in rhea's typings). */
export function socketOf(conn: RheaConnection | null): { destroy(error?: Error): void } | null {
  const socket = (conn as unknown as { socket?: { destroy(error?: Error): void } } | null)?.socket
  return socket && typeof socket.destroy === 'function' ? socket : null
}

/** Close politely, but never hang: after the grace period drop the socket. */
export async function closeConnection(conn: RheaConnection): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, CLOSE_GRACE_MS)
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    conn.once('connection_close', done)
    conn.once('disconnected', done)
    try {
      if (conn.is_open()) conn.close()
      else done()
    } catch {
      done()
    }
  })
  socketOf(conn)?.destroy()
  stopTimers(conn)
}
