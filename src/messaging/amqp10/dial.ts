// Open one AMQP 1.0 connection (rhea) to a parsed gofer broker URL. Reconnecting is not done
// here (see connection.ts): this is a single attempt with a deadline, on a private rhea container
// so that rhea's process-wide default container (and its 'error' event) is never involved.
import { isIP } from 'node:net'
import rhea, { type Connection as RheaConnection, type ConnectionOptions, type Container } from 'rhea'
import { ConnectionError } from '../../errors.js'
import type { ConnectOptions } from '../adapter.js'
import { tlsSocketOptions } from '../amqp091/dial.js'
import { tlsProblem } from '../tls-problem.js'
import { displayUrl, type BrokerUrl } from '../url.js'

export const DEFAULT_HEARTBEAT_S = 10
export const DEFAULT_SEND_TIMEOUT_MS = 10_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** The rhea connect options for a URL (exported for tests). */
export function connectOptions(url: BrokerUrl, options: ConnectOptions = {}): ConnectionOptions {
  const out: Record<string, unknown> = {
    host: url.host,
    port: url.port,
    // Our own reconnect loop re-attaches every link with our bookkeeping; rhea's would re-open
    // links behind our back (and keep retrying after we gave up).
    reconnect: false,
    // rhea sets TCP_NODELAY by itself only for connection.open_receiver; our links live on
    // explicit sessions, so without this Nagle stalls round trips (brokers.md §7).
    tcp_no_delay: true,
    // ms; rhea answers the peer's idle timeout with empty frames and drops a silent peer.
    idle_time_out: (options.heartbeat ?? DEFAULT_HEARTBEAT_S) * 1000,
    // RabbitMQ's 1.0 plugin picks the virtual host from `vhost:<name>` in the open frame.
    hostname: url.vhost ? `vhost:${url.vhost}` : url.host,
    container_id: `gofer-node-${process.pid}-${rhea.generate_uuid().slice(0, 8)}`,
  }
  // SASL PLAIN with a user and password; ANONYMOUS (with the user name as trace) otherwise.
  // Without any username rhea would skip SASL entirely, which some brokers refuse.
  out.username = url.user ?? 'anonymous'
  if (url.user && url.password !== null) out.password = url.password
  if (url.ssl) {
    // SNI only for a host name: Node warns (DEP0123, RFC 6066) when servername is an IP address.
    // null rather than absent, because rhea fills an absent servername with the host. Host
    // validation is unchanged: without servername Node checks the certificate against the host
    // itself (its IP SANs for an address); with host_validation off tlsSocketOptions skips it.
    Object.assign(out, { transport: 'tls', servername: isIP(url.host) ? null : url.host }, tlsSocketOptions(options.tls ?? {}))
  }
  return out as unknown as ConnectionOptions
}

/**
 * One connection attempt: resolves with the open rhea connection, rejects ConnectionError.
 * The container's 'error' listener is what keeps an unhandled rhea error from crashing Node.
 */
export function dial(url: BrokerUrl, options: ConnectOptions = {}): Promise<{ container: Container; connection: RheaConnection }> {
  const where = displayUrl(url)
  let rheaOptions: ConnectionOptions
  try {
    rheaOptions = connectOptions(url, options)
  } catch (err) {
    return Promise.reject(err)
  }
  const container = rhea.create_container({ id: (rheaOptions as { container_id: string }).container_id })
  container.on('error', () => undefined)
  return new Promise((resolve, reject) => {
    const connection = container.connect(rheaOptions)
    let done = false
    const fail = (why: string, cause?: unknown): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      try {
        connection.close()
      } catch {
        // not open yet
      }
      ;(connection as unknown as { socket?: { destroy(): void } }).socket?.destroy()
      stopTimers(connection)
      // A TLS failure is said as the 0-9-1 adapter says it; the raw error stays the cause.
      reject(new ConnectionError(`cannot connect to ${where}: ${tlsProblem(cause, url.host) ?? why}`, { cause }))
    }
    const timer = setTimeout(() => fail(`no AMQP 1.0 open within ${options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`), options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS)
    connection.once('connection_open', () => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ container, connection })
    })
    connection.on('connection_error', ctx => {
      const error: unknown = ctx.error ?? ctx.connection.error
      fail(errorText(error) ?? 'refused by the broker', error)
    })
    connection.on('disconnected', ctx => fail(ctx.error?.message ?? 'disconnected', ctx.error))
  })
}

/** `condition: description` of a rhea error or AMQP error record. */
export function errorText(err: unknown): string | undefined {
  if (!err) return undefined
  const e = err as { condition?: unknown; description?: unknown; message?: unknown }
  const condition = typeof e.condition === 'string' ? e.condition : undefined
  const description = typeof e.description === 'string' ? e.description : typeof e.message === 'string' ? e.message : undefined
  if (condition && description) return `${condition}: ${description}`
  return condition ?? description ?? String(err)
}

/** The AMQP error condition (`amqp:not-found`, ...) of a rhea error, if any. */
export function conditionOf(err: unknown): string | undefined {
  const c = (err as { condition?: unknown } | null | undefined)?.condition
  return typeof c === 'string' ? c : undefined
}

/**
 * rhea clears its heartbeat timers only when the socket emits 'end' or 'error', not when we
 * destroy it, and it re-arms the idle timer after dispatching the frames it just read (so a
 * clear inside a listener is undone). A leftover 2 × idle-timeout timer keeps the process alive
 * for 20 s after close(). Clear now, after the current read, and at the disconnect.
 * (rhea internals: heartbeat_in, heartbeat_out, abort_idle.)
 */
export function stopTimers(conn: RheaConnection): void {
  const clear = (): void => {
    const c = conn as unknown as Record<string, NodeJS.Timeout | undefined>
    for (const name of ['heartbeat_in', 'heartbeat_out', 'abort_idle']) {
      if (c[name]) clearTimeout(c[name])
      c[name] = undefined
    }
  }
  clear()
  setImmediate(clear)
  conn.once('disconnected', clear)
}
