// The reconnecting AMQP 1.0 connection: ReconnectingLink (../reconnecting-link.ts) over one
// open rhea connection at a time. What is 1.0 here: dialing, coalescing rhea's frame writes,
// the connection's events (including a close the broker starts), and closing it without
// hanging on a broker that does not answer.
import type { Connection as RheaConnection } from 'rhea'
import { logger } from '../../log.js'
import type { ConnectOptions } from '../adapter.js'
import { CLOSE_GRACE_MS, ReconnectingLink } from '../reconnecting-link.js'
import type { BrokerUrl } from '../url.js'
import { dial, errorText, stopTimers } from './dial.js'
import { coalesceWrites } from './socket-writer.js'

const log = logger('gofer.messaging')

export class Link10 extends ReconnectingLink<RheaConnection> {
  constructor(url: BrokerUrl, options: ConnectOptions, restore: (c: RheaConnection) => Promise<void>) {
    super(url, options, restore, { connected: 'connected (AMQP 1.0)', restoring: 'links' })
  }

  protected async dial(): Promise<RheaConnection> {
    return (await dial(this.url, this.options)).connection
  }

  /** Every way a connection ends leads to lost(); dial's listeners stay but are inert by then. */
  protected watch(conn: RheaConnection): void {
    conn.on('disconnected', ctx => this.lost(conn, ctx.error ?? new Error('disconnected')))
    conn.on('connection_error', ctx => log.debug({ url: this.where, err: errorText(ctx.connection.error) }, 'connection error'))
    conn.on('connection_close', ctx => {
      // The broker closed the connection (forced close, or a crashed session process on
      // RabbitMQ 3.10); close our side so the socket ends and the reconnect starts.
      if (this.owns(conn)) {
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
    // Frames written in one rhea pass leave in one socket write (socket-writer.ts).
    coalesceWrites(conn)
  }

  protected closeConnection(conn: RheaConnection): Promise<void> {
    return closeConnection(conn)
  }

  protected destroySocket(conn: RheaConnection, error: Error): void {
    socketOf(conn)?.destroy(error)
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
