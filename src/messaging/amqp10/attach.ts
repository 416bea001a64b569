// Attaching one link on its own session, and turning the ways it can fail into our errors.
//
// Why a session per link: RabbitMQ 3.10 answers a refused attach (missing queue or exchange,
// durability mismatch, unsupported feature) by ending the whole *session* (brokers.md §4.1), so
// links that share a session die together. One session per link confines a refusal to the link
// that caused it. Every session and link gets error/close handlers here: an unhandled rhea error
// event bubbles to the container and would crash the process.
import type { Connection as RheaConnection, Receiver, Sender, Session } from 'rhea'
import { ConnectionError, GoferError, NotFound } from '../../errors.js'
import { conditionOf, errorText } from './dial.js'

/** How long an attach may take before we give up on it (the broker is alive but silent). */
const ATTACH_TIMEOUT_MS = 10_000

/** The connection went away under an attach or a link: retry on the next connection. */
export class LinkLost extends Error {
  constructor(message = 'AMQP 1.0 connection lost') {
    super(message)
    this.name = 'LinkLost'
  }
}

/** True when the failure is the connection going away (retry on the next one), as 0-9-1's isConnectionLoss. */
export function isLinkLost(err: unknown): boolean {
  return err instanceof LinkLost
}

/** A broker refusal as one of our errors: not-found → NotFound, anything else → ConnectionError. */
export function refusal(err: unknown, address: string, what: string): GoferError {
  const condition = conditionOf(err)
  if (condition === 'amqp:not-found') return new NotFound(address, errorText(err))
  return new ConnectionError(`${what} "${address}" refused by the broker: ${errorText(err) ?? 'link closed'}`, { cause: err })
}

export interface AttachedLink<L extends Sender | Receiver> {
  readonly session: Session
  readonly link: L
  /** Detach and end the session; resolves when the broker confirmed the end (bounded). */
  close(): Promise<void>
}

/**
 * Begin a session, attach the link that `make` opens on it, and resolve once the broker has
 * attached it. `make` must register message listeners synchronously (deliveries may arrive in
 * the same read as the attach). `onEnded` runs once if the broker ends the session or link
 * later, while the connection stays up (not after our own close()).
 */
export function attachLink<L extends Sender | Receiver>(
  conn: RheaConnection,
  kind: 'sender' | 'receiver',
  address: string,
  make: (session: Session) => L,
  onEnded: (error: GoferError) => void = () => undefined,
): Promise<AttachedLink<L>> {
  const session = conn.create_session()
  let closing = false
  let opened = false
  let ended = false
  return new Promise<AttachedLink<L>>((resolve, reject) => {
    const what = kind === 'sender' ? 'sending to' : 'consuming'
    const cleanup = (): void => {
      clearTimeout(timer)
      conn.removeListener('disconnected', onDisconnected)
      conn.removeListener('connection_close', onDisconnected)
    }
    const finish = (error: unknown): void => {
      if (closing || ended) return
      ended = true
      const mapped = refusal(error, address, what)
      if (!opened) {
        cleanup()
        reject(mapped)
        endQuietly(session)
        return
      }
      endQuietly(session)
      onEnded(mapped)
    }
    const onDisconnected = (): void => {
      if (opened || ended) return
      ended = true
      cleanup()
      reject(new LinkLost())
    }
    const timer = setTimeout(() => {
      if (opened || ended) return
      ended = true
      cleanup()
      endQuietly(session)
      reject(new LinkLost(`no attach for ${address} within ${ATTACH_TIMEOUT_MS} ms`))
    }, ATTACH_TIMEOUT_MS)
    conn.setMaxListeners(0)
    // A clean close (ours or the broker's) emits connection_close and no 'disconnected'.
    conn.on('disconnected', onDisconnected)
    conn.on('connection_close', onDisconnected)
    session.on('session_error', ctx => finish(ctx.session.error))
    session.on('session_close', ctx => finish(ctx.session.error))
    session.begin()
    const link = make(session)
    link.on(`${kind}_error` as 'sender_error', ctx => finish((ctx.sender ?? ctx.receiver)?.error))
    link.on(`${kind}_close` as 'sender_close', ctx => finish((ctx.sender ?? ctx.receiver)?.error))
    link.once(`${kind}_open` as 'sender_open', () => {
      if (ended) return
      // RabbitMQ refuses some attaches by answering with a null terminus, then detaching.
      opened = true
      cleanup()
      resolve({
        session,
        link,
        close: () => {
          closing = true
          return closeSession(session, link)
        },
      })
    })
  })
}

/** End a session without caring about its state (it may already be ended or the socket gone). */
function endQuietly(session: Session): void {
  try {
    if (session.is_open()) session.close()
  } catch {
    // connection already gone
  }
}

/** Detach the link and end its session; wait (at most 2 s) for the broker's end. */
async function closeSession(session: Session, link: Sender | Receiver): Promise<void> {
  if (!session.is_open() || session.is_closed()) return
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, 2000)
    session.once('session_close', () => {
      clearTimeout(timer)
      resolve()
    })
    try {
      link.close()
      session.close()
    } catch {
      clearTimeout(timer)
      resolve()
    }
  })
}
