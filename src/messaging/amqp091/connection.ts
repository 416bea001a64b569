// The reconnecting AMQP 0-9-1 connection: ReconnectingLink (../reconnecting-link.ts) over one
// amqplib ChannelModel at a time. What is 0-9-1 here: dialing, the ChannelModel's events, and
// closing it without hanging on a broker that does not answer.
import type { ChannelModel } from 'amqplib'
import { logger } from '../../log.js'
import type { ConnectOptions } from '../adapter.js'
import { CLOSE_GRACE_MS, ReconnectingLink } from '../reconnecting-link.js'
import type { BrokerUrl } from '../url.js'
import { dial, socketOf } from './dial.js'

const log = logger('gofer.messaging')

export class Link extends ReconnectingLink<ChannelModel> {
  constructor(url: BrokerUrl, options: ConnectOptions, restore: (model: ChannelModel) => Promise<void>) {
    super(url, options, restore, { connected: 'connected', restoring: 'queues and consumers' })
  }

  protected dial(): Promise<ChannelModel> {
    return dial(this.url, this.options)
  }

  /** Listeners on the ChannelModel: without an 'error' listener a broker error kills the process. */
  protected watch(model: ChannelModel): void {
    model.on('error', (err: Error) => {
      // Always followed by 'close', which logs the loss (with the same error) and reconnects.
      log.debug({ url: this.where, err: err.message }, 'connection error')
    })
    model.on('close', (err?: Error) => this.lost(model, err))
    model.on('blocked', (reason: string) => log.warn({ url: this.where, reason }, 'broker blocked publishing (resource alarm)'))
    model.on('unblocked', () => log.info({ url: this.where }, 'broker unblocked publishing'))
    model.on('handler-error', (err: Error, event: string) => log.error({ err: err.message, event }, 'listener threw'))
  }

  protected closeConnection(model: ChannelModel): Promise<void> {
    return closeModel(model)
  }

  /** amqplib sees a socket error, as after a network failure. */
  protected destroySocket(model: ChannelModel, error: Error): void {
    socketOf(model)?.destroy(error)
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
