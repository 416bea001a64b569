// The reconnecting connection: one amqplib ChannelModel at a time, replaced with jittered backoff
// whenever it is lost. It knows nothing about queues or consumers; the owner passes a `restore`
// hook that runs on every fresh connection *before* it is announced as up, so that nobody can
// publish to a queue that has not been re-declared yet.
import { EventEmitter } from 'node:events'
import type { ChannelModel } from 'amqplib'
import { ConnectionClosed, ConnectionError } from '../../errors.js'
import { logger } from '../../log.js'
import type { ConnectOptions } from '../adapter.js'
import { displayUrl, type BrokerUrl } from '../url.js'
import { Backoff } from './backoff.js'
import { dial, socketOf } from './dial.js'

const log = logger('gofer.messaging')

/** A connection that stayed up this long counts as healthy: the next outage starts the backoff over. */
const STABLE_MS = 5000

/** How long close() waits for the broker's close-ok before dropping the socket. */
const CLOSE_GRACE_MS = 2000

type State = 'connecting' | 'up' | 'down' | 'failed' | 'closed'

interface Waiter {
  resolve(model: ChannelModel): void
  reject(error: Error): void
  stale: ChannelModel | null
  timer: NodeJS.Timeout | null
}

/**
 * Events: 'up' (model) after a (re)connect and its restore; 'down' (error) when a connection
 * that was up is lost. Never emits 'error': every failure is logged and retried here.
 */
export class Link extends EventEmitter {
  private state: State = 'connecting'
  private model: ChannelModel | null = null
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
    private readonly restore: (model: ChannelModel) => Promise<void>,
  ) {
    super()
    this.where = displayUrl(url)
  }

  /** Begin connecting (separate from the constructor so listeners can be attached first). */
  start(): void {
    void this.attempt()
  }

  /** The live connection, or null while (re)connecting. */
  current(): ChannelModel | null {
    return this.state === 'up' ? this.model : null
  }

  get isClosed(): boolean {
    return this.state === 'closed'
  }

  /**
   * The live connection, waiting up to `timeoutMs` for one. `stale` is a connection the caller
   * just saw fail: wait for a different one even if the loss has not been noticed yet, so a
   * caller retrying an operation does not spin on a dead connection.
   */
  whenUp(timeoutMs: number, stale: ChannelModel | null = null): Promise<ChannelModel> {
    if (this.state === 'closed') return Promise.reject(new ConnectionClosed())
    if (this.state === 'failed') return Promise.reject(this.failure())
    if (this.state === 'up' && this.model && this.model !== stale) return Promise.resolve(this.model)
    return new Promise<ChannelModel>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, stale, timer: null }
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter)
        const why = this.lastError ? `: ${this.lastError.message}` : ''
        reject(new ConnectionError(`not connected to ${this.where} within ${Math.round(timeoutMs)} ms${why}`, { cause: this.lastError ?? undefined }))
      }, Math.max(0, timeoutMs))
      this.waiters.add(waiter)
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
    this.settleWaiters(null, new ConnectionClosed())
    const model = this.model
    this.model = null
    if (model) await closeModel(model)
    if (wasUp) log.info({ url: this.where }, 'connection closed')
  }

  /** Test hook: break the socket as a network failure would (amqplib sees a socket error). */
  dropForTest(): void {
    const model = this.model
    if (model) socketOf(model)?.destroy(new Error('connection dropped for test'))
  }

  private async attempt(): Promise<void> {
    this.timer = null
    if (this.state === 'closed' || this.state === 'failed') return
    this.state = 'connecting'
    let model: ChannelModel
    try {
      model = await dial(this.url, this.options)
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
      await closeModel(model)
      return
    }
    this.watch(model)
    this.model = model
    try {
      await this.restore(model)
    } catch (err) {
      // restore() only throws when the connection itself failed under it. If the close event
      // already replaced `model`, the reconnect is scheduled; otherwise drop it and retry.
      if (this.model !== model || this.isClosed) return
      this.lastError = err as Error
      log.warn({ url: this.where, err: (err as Error).message }, 'restoring queues and consumers failed; reconnecting')
      this.model = null
      this.state = 'down'
      void closeModel(model)
      this.schedule(this.backoff.next())
      return
    }
    if (this.model !== model || this.isClosed) return
    this.state = 'up'
    this.upSince = Date.now()
    this.lastError = null
    log.info({ url: this.where, reconnect: this.everUp }, 'connected')
    this.everUp = true
    this.settleWaiters(model, null)
    this.announce('up', model)
  }

  /** Listeners on the ChannelModel: without an 'error' listener a broker error kills the process. */
  private watch(model: ChannelModel): void {
    model.on('error', (err: Error) => {
      // Always followed by 'close', which logs the loss (with the same error) and reconnects.
      log.debug({ url: this.where, err: err.message }, 'connection error')
    })
    model.on('close', (err?: Error) => this.lost(model, err))
    model.on('blocked', (reason: string) => log.warn({ url: this.where, reason }, 'broker blocked publishing (resource alarm)'))
    model.on('unblocked', () => log.info({ url: this.where }, 'broker unblocked publishing'))
    model.on('handler-error', (err: Error, event: string) => log.error({ err: err.message, event }, 'listener threw'))
  }

  private lost(model: ChannelModel, err?: Error): void {
    if (this.model !== model) return // one we already gave up on, or closed on purpose
    this.model = null
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

  private settleWaiters(model: ChannelModel | null, error: Error | null): void {
    for (const w of [...this.waiters]) {
      if (model && w.stale === model) continue
      this.waiters.delete(w)
      if (w.timer) clearTimeout(w.timer)
      if (model) w.resolve(model)
      else w.reject(error ?? new ConnectionClosed())
    }
  }
}

/** Close politely, but never hang: after the grace period (or on error) drop the socket. */
export async function closeModel(model: ChannelModel): Promise<void> {
  const grace = { timer: undefined as NodeJS.Timeout | undefined }
  try {
    await Promise.race([
      model.close(),
      new Promise<void>(resolve => {
        grace.timer = setTimeout(resolve, CLOSE_GRACE_MS)
      }),
    ])
  } catch {
    // Already closed (IllegalOperationError) or the socket failed: nothing left to do politely.
  } finally {
    clearTimeout(grace.timer)
    // With an error, so that amqplib (which listens for 'error', not 'close') tears down its
    // heartbeat timer too when the polite close timed out; a no-op after a clean close.
    socketOf(model)?.destroy(new Error('connection closed'))
  }
}
