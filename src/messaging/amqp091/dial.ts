// Open one amqplib connection (a ChannelModel) to a parsed gofer broker URL.
// Reconnecting is not done here (see connection.ts); this is a single attempt with a deadline.
import { readFileSync } from 'node:fs'
import amqp, { type ChannelModel, type Options, type SocketOptions } from 'amqplib'
import { ConnectionError } from '../../errors.js'
import type { ConnectOptions, TlsOptions } from '../adapter.js'
import { tlsProblem } from '../tls-problem.js'
import { displayUrl, type BrokerUrl } from '../url.js'
import { coalesceWrites } from './socket-writer.js'

/** Defaults of ConnectOptions that this adapter applies. */
export const DEFAULT_HEARTBEAT_S = 10
export const DEFAULT_SEND_TIMEOUT_MS = 10_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** The amqplib connect arguments for a URL (exported for tests and diagnostics). */
export function connectArguments(url: BrokerUrl, options: ConnectOptions = {}): { target: Options.Connect; socket: SocketOptions } {
  const target: Options.Connect = {
    protocol: url.ssl ? 'amqps' : 'amqp',
    hostname: url.host,
    port: url.port,
    // gofer's amqp adapter defaults both to guest (reference/gofer.md §2.3).
    username: url.user ?? 'guest',
    password: url.password ?? 'guest',
    // amqplib percent-decodes the vhost of the object form once more; url.vhost is already
    // decoded, so encode it again to keep a vhost containing '%' intact. Empty path = '/'.
    vhost: encodeURIComponent(url.vhost ?? '/'),
    // Unlike python-amqp (which sends none) we always heartbeat: it is how a half-open TCP
    // connection (a broker host that vanished) is noticed at all.
    heartbeat: options.heartbeat ?? DEFAULT_HEARTBEAT_S,
  }
  const socket: SocketOptions = {
    // amqplib leaves Nagle on unless told; a publish is three small writes, so Nagle plus the
    // peer's delayed ACK stalls request/reply round trips by up to 40 ms (brokers.md §3).
    noDelay: true,
    // Bounds TCP connect + AMQP handshake; amqplib clears it once the connection is open.
    timeout: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // Lets an operator tell gofer connections apart in `rabbitmqctl list_connections`.
    clientProperties: { connection_name: `gofer-node pid ${process.pid}` },
  }
  if (url.ssl) Object.assign(socket, tlsSocketOptions(options.tls ?? {}))
  return { target, socket }
}

/**
 * TLS settings from gofer's `[messaging]` cacert/clientcert/clientkey/host_validation.
 * Files are read here (not lazily by tls) so that a bad path fails the connect with a clear
 * message. Without a cacert Node verifies against its default CA store; gofer's python-amqp
 * adapter skipped verification then, which we do not copy: pass a cacert for a private CA.
 */
export function tlsSocketOptions(tls: TlsOptions): Partial<SocketOptions> {
  const out: Partial<SocketOptions> = {}
  if (tls.cacert) out.ca = readTlsFile(tls.cacert, 'cacert')
  if (tls.clientcert) out.cert = readTlsFile(tls.clientcert, 'clientcert')
  // gofer (proton) accepts a PEM holding both certificate and key when clientkey is absent.
  if (tls.clientkey) out.key = readTlsFile(tls.clientkey, 'clientkey')
  else if (tls.clientcert) out.key = out.cert
  if (tls.hostValidation === false) {
    // Still verify the chain, but accept a certificate issued to another name.
    out.checkServerIdentity = () => undefined
  }
  return out
}

function readTlsFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new ConnectionError(`cannot read TLS ${what} "${path}": ${(err as Error).message}`, { cause: err })
  }
}

/** One connection attempt; rejects ConnectionError (the cause is amqplib's / the socket's error). */
export async function dial(url: BrokerUrl, options: ConnectOptions = {}): Promise<ChannelModel> {
  const { target, socket } = connectArguments(url, options)
  try {
    const model = await amqp.connect(target, socket)
    coalesceWrites(model)
    return model
  } catch (err) {
    if (err instanceof ConnectionError) throw err
    const why = tlsProblem(err, url.host) ?? (err instanceof Error ? err.message : String(err))
    throw new ConnectionError(`cannot connect to ${displayUrl(url)}: ${why}`, { cause: err })
  }
}

/** The socket under a ChannelModel (amqplib internals: connection.stream); null when absent. */
export function socketOf(model: ChannelModel): { destroy(error?: Error): void } | null {
  const stream = (model.connection as unknown as { stream?: { destroy(error?: Error): void } }).stream
  return stream && typeof stream.destroy === 'function' ? stream : null
}
