// Channel helpers and the classification of amqplib errors.
//
// amqplib reports two different kinds of failure and we must tell them apart:
// * a broker channel error (channel.close from the broker, e.g. 404 NOT_FOUND, 406
//   PRECONDITION_FAILED): an Error with a numeric `code` = the AMQP reply code. The operation
//   failed for a reason that retrying on a new connection will not fix.
// * the connection went away under the operation ("Channel ended, no reply will be
//   forthcoming", IllegalOperationError "Channel closed"/"Connection closed"): no numeric code.
//   The operation may be retried once a new connection is up.
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib'
import { GoferError } from '../../errors.js'
import { logger } from '../../log.js'

const log = logger('gofer.messaging')

/** AMQP reply codes we act on. */
export const NOT_FOUND = 404
export const RESOURCE_LOCKED = 405
export const PRECONDITION_FAILED = 406

/** The AMQP reply code of a broker channel/connection error, or null for anything else. */
export function replyCode(err: unknown): number | null {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : null
}

/** True for a broker 404 (missing queue or exchange). */
export function isNotFound(err: unknown): boolean {
  return replyCode(err) === NOT_FOUND
}

/** True when the failure is the connection (or channel) going away rather than a broker verdict. */
export function isConnectionLoss(err: unknown): boolean {
  // Our own errors (NotFound, ...) are verdicts already; their `code` is a string.
  if (err instanceof GoferError) return false
  return replyCode(err) === null
}

/** The broker's reply text without amqplib's framing, for error messages. */
export function brokerReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  const m = /"([^"]*)"/.exec(text)
  return m ? m[1]! : text
}

/**
 * Attach the listeners every channel needs. Without an 'error' listener amqplib re-emits the
 * channel error on the connection, and without one there the process dies. The error is kept
 * on `holder.error` so the 'close' handler (which gets no argument) can tell why it closed.
 */
export function guard<T extends Channel>(ch: T, what: string, holder?: { error: Error | null }): T {
  ch.on('error', (err: Error) => {
    if (holder) holder.error = err
    // 404s are expected (missing queues, unroutable exchanges) and reported to the caller.
    if (isNotFound(err)) log.debug({ channel: what, err: err.message }, 'channel closed by broker')
    else log.warn({ channel: what, err: err.message }, 'channel closed by broker')
  })
  ch.on('handler-error', (err: Error, event: string) => {
    log.error({ channel: what, event, err: err.message }, 'channel listener threw')
  })
  return ch
}

export async function openChannel(model: ChannelModel, what: string): Promise<Channel> {
  return guard(await model.createChannel(), what)
}

export async function openConfirmChannel(model: ChannelModel, what: string, holder?: { error: Error | null }): Promise<ConfirmChannel> {
  return guard(await model.createConfirmChannel(), what, holder)
}

/** Close without waiting and without caring whether it is already closed. */
export function closeQuietly(ch: Channel | null | undefined): void {
  if (!ch) return
  try {
    ch.close().catch(() => undefined)
  } catch {
    // Already closed: amqplib throws IllegalOperationError synchronously in some states.
  }
}

/**
 * Run one operation on a throwaway channel. Used for topology operations because a 404 closes
 * the channel it happens on: a private channel keeps that from hurting anything else.
 */
export async function withChannel<T>(model: ChannelModel, what: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
  const ch = await openChannel(model, what)
  try {
    return await fn(ch)
  } finally {
    // Not awaited: the close-ok round trip would only add latency to the caller.
    closeQuietly(ch)
  }
}
