// Subscriptions over AMQP 1.0: one receiver link per consumer, on its own session, with manual
// settlement and credit that works like 0-9-1 prefetch.
//
// * `autoaccept: false` and the message listener attached in the same tick as open_receiver:
//   RabbitMQ pushes queued messages right after the attach, and rhea auto-accepts (and so loses)
//   a delivery nobody listens for (brokers.md §4.4).
// * Credit: rhea's credit_window refills on *receipt*, so unacked deliveries would be unbounded.
//   We grant `prefetch` once and one more credit per settled delivery (batched per loop turn).
// * Settlement: ack → accepted; reject(true) → released (RabbitMQ requeues at the head and clears
//   first_acquirer); reject(false) → rejected (dropped or dead-lettered). Never `modified`:
//   RabbitMQ 3.10 ends the session for it.
// * Cancel detaches the link and ends the session: RabbitMQ requeues unsettled deliveries only
//   when the session ends (brokers.md §4.4), which is why the session is not shared.
import type { Connection as RheaConnection, EventContext, Receiver } from 'rhea'
import { GoferError, NotFound } from '../../errors.js'
import { logger } from '../../log.js'
import type { Delivery, MessageHandler, Subscription } from '../adapter.js'
import { Backoff } from '../backoff.js'
import { flushAfterSend } from './socket-writer.js'
import { attachLink, LinkLost, type AttachedLink } from './attach.js'
import { bodyBytes, isRedelivered } from './codec.js'

const log = logger('gofer.messaging')

/**
 * rhea reports a transfer beyond the link credit with a bare console.error (it still delivers
 * the message). On RabbitMQ 3.x that is the broker's credit race described at grant(), not a
 * fault of ours, and goferd must not print it on every busy second: this one rhea message goes
 * to our debug log instead. Everything else on console.error passes through unchanged.
 */
const RHEA_CREDIT_MESSAGE = 'Received transfer when credit was %d'
const consoleError = console.error
console.error = function (...args: unknown[]): void {
  if (args[0] === RHEA_CREDIT_MESSAGE) {
    log.debug({ credit: args[1] }, 'broker sent beyond the link credit (RabbitMQ 3.x credit race)')
    return
  }
  consoleError.apply(console, args)
}

export const DEFAULT_PREFETCH = 100

export interface ConsumerHost10 {
  /** The live rhea connection, or null while reconnecting. */
  current(): RheaConnection | null
  /** The receiver source address for a queue (the broker dialect). */
  source(queue: string): string
  report(error: Error): void
  ended(consumer: Consumer10): void
}

export class Consumer10 implements Subscription {
  private attached: AttachedLink<Receiver> | null = null
  private starting = false
  private cancelled = false
  /** pause(): credit withdrawn, link kept so settlements of delivered messages still count. */
  private paused = false
  private restartTimer: NodeJS.Timeout | null = null
  private credit = 0
  private creditScheduled = false
  /** Deliveries handed to the handler and not yet settled (a lone one may delay its disposition). */
  private unsettled = 0
  private readonly backoff = new Backoff()
  /** The node address the broker assigned to a dynamic receiver (changes on every attach). */
  private assigned: string | null = null

  /** `dynamic`: a broker-named temporary node (`queue` is then only a label). */
  constructor(
    readonly queue: string,
    private readonly handler: MessageHandler,
    readonly prefetch: number,
    private readonly host: ConsumerHost10,
    readonly dynamic = false,
  ) {}

  /** The address replies must be sent to (dynamic) or the queue. */
  get address(): string {
    return this.dynamic ? this.assigned ?? '' : this.queue
  }

  get active(): boolean {
    return !this.cancelled
  }

  /** Attach the receiver on `conn`. Rejects NotFound (missing queue), LinkLost (connection gone). */
  async start(conn: RheaConnection): Promise<void> {
    // After a reconnect the old link died with the old connection: forget it even if this
    // attach fails, or restart() would take it for a live one and never retry.
    this.attached = null
    // Paused: a reconnect must not attach again (the drained calls' messages were requeued
    // with the old connection anyway).
    if (this.cancelled || this.paused) return
    this.starting = true
    try {
      // A dynamic node lives as long as its link (expiry link-detach): nothing to clean up.
      const source = this.dynamic ? { dynamic: true, expiry_policy: 'link-detach' } : { address: this.host.source(this.queue) }
      const attached = await attachLink(conn, 'receiver', this.queue, session => {
        const receiver = session.open_receiver({ source, autoaccept: false, credit_window: 0 })
        receiver.on('message', ctx => this.onMessage(receiver, ctx))
        return receiver
      }, error => this.brokerEnded(conn, error))
      if (this.cancelled) {
        await attached.close()
        return
      }
      if (this.dynamic) {
        const remote = (attached.link as unknown as { remote?: { attach?: { source?: { address?: unknown } } } }).remote
        const address = remote?.attach?.source?.address
        if (typeof address !== 'string' || address === '') {
          await attached.close()
          throw new NotFound(this.queue, 'the broker attached a dynamic receiver without naming its node')
        }
        this.assigned = address
      }
      this.attached = attached
      this.credit = 0 // credit owed to a previous link died with it
      attached.link.add_credit(this.prefetch)
    } finally {
      this.starting = false
    }
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return
    this.end()
    const attached = this.attached
    this.attached = null
    await attached?.close()
  }

  /**
   * Stop deliveries but keep the link, so that the calls in flight are settled `accepted` when
   * answered instead of being requeued and run again (Plugin.stop drains before cancel()).
   * AMQP 1.0 has no basic.cancel: we withdraw the credit with a flow of link-credit 0 (not a
   * drain, which would make the broker send what it has to use the credit up) and release
   * whatever was already on its way.
   */
  async pause(): Promise<void> {
    if (this.cancelled || this.paused) return
    this.paused = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
    const receiver = this.attached?.link
    if (!receiver || !receiver.is_open()) return
    // rhea's flow() only adds credit; set it to zero and have rhea send the flow frame.
    const internals = receiver as unknown as { credit: number; issue_flow: boolean; connection: { _register(): void } }
    internals.credit = 0
    internals.issue_flow = true
    internals.connection._register()
  }

  /** End without reporting (the queue is being deleted through this connection). */
  async endQuietly(): Promise<void> {
    await this.cancel()
  }

  private end(): void {
    this.cancelled = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
    this.host.ended(this)
  }

  private onMessage(receiver: Receiver, ctx: EventContext): void {
    const rheaDelivery = ctx.delivery
    const message = ctx.message
    if (!rheaDelivery || !message) return
    // In flight when cancel() ran: ending the session gives it back.
    if (this.cancelled) return
    if (this.paused) {
      // Sent before the broker saw our zero credit: give it straight back, unstarted.
      try {
        rheaDelivery.release()
      } catch {
        // link already gone: the broker requeues it anyway
      }
      return
    }
    let settled = false
    this.unsettled++
    const settle = (op: () => void): void => {
      if (settled) return
      settled = true
      this.unsettled--
      // After cancel or a reconnect the delivery belongs to a dead link: the broker has
      // requeued it already (or will when the session ends), so settling is a no-op.
      if (this.attached?.link !== receiver || !receiver.is_open()) return
      try {
        op()
        // A lone delivery's disposition need not leave alone: it rides with the next write that
        // leaves anyway (a caller's next request, an agent's next replies), at the latest a few
        // ms later. Under load they leave at the end of the turn.
        flushAfterSend(receiver.connection, this.unsettled === 0 ? 'later' : 'turn')
      } catch (err) {
        log.debug({ queue: this.queue, err: (err as Error).message }, 'settle on a closed link ignored')
      }
      this.grant(receiver)
    }
    const delivery: Delivery = {
      body: bodyBytes(message),
      redelivered: isRedelivered(message),
      ack: () => settle(() => rheaDelivery.accept()),
      reject: (requeue: boolean) => settle(() => (requeue ? rheaDelivery.release() : rheaDelivery.reject())),
    }
    try {
      const result: unknown = this.handler(delivery)
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        ;(result as Promise<unknown>).then(undefined, (err: unknown) => this.handlerFailed(err))
      }
    } catch (err) {
      this.handlerFailed(err)
    }
  }

  /**
   * One credit back per settled delivery, flowed once per loop turn, and only once the link's
   * credit has fallen to half the prefetch. Why batch: RabbitMQ 3.x applies a flow's link-credit
   * as the new absolute credit without subtracting deliveries already on their way (its credit
   * API v1), so every flow may overshoot by the messages in flight at that moment (rhea then logs
   * "Received transfer when credit was 0"). Fewer flows, fewer overshoots; unacked deliveries stay
   * bounded by the prefetch plus what was in flight.
   */
  private grant(receiver: Receiver): void {
    this.credit++
    if (this.creditScheduled) return
    this.creditScheduled = true
    setImmediate(() => {
      this.creditScheduled = false
      if (this.attached?.link !== receiver || !receiver.is_open() || this.paused) {
        this.credit = 0
        return
      }
      if (this.credit === 0 || (receiver as unknown as { credit: number }).credit > this.prefetch / 2) return
      const n = this.credit
      this.credit = 0
      receiver.add_credit(n)
      // Credit must not wait behind a held disposition: the broker is waiting for it.
      flushAfterSend(receiver.connection, 'turn')
    })
  }

  private handlerFailed(err: unknown): void {
    // Unsettled: the message comes back when this link's session or the connection ends.
    log.error({ queue: this.queue, err: err instanceof Error ? err.message : String(err) }, 'message handler threw')
  }

  /** The broker ended our session while the connection stayed up (queue deleted, ...). */
  private brokerEnded(conn: RheaConnection, error: GoferError): void {
    if (this.cancelled || this.host.current() !== conn) return
    this.attached = null
    log.warn({ queue: this.queue, err: error.message }, 'consumer link ended by the broker; resubscribing')
    this.retryLater()
  }

  retryLater(): void {
    if (this.restartTimer || this.cancelled) return
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null
      void this.restart()
    }, this.backoff.next())
  }

  private async restart(): Promise<void> {
    const conn = this.host.current()
    if (!conn || this.cancelled || this.attached || this.starting) return
    try {
      await this.start(conn)
      this.backoff.reset()
    } catch (err) {
      if (err instanceof NotFound) {
        this.end()
        this.host.report(err)
      } else if (!(err instanceof LinkLost)) {
        this.host.report(err as Error)
        this.retryLater()
      }
    }
  }
}
