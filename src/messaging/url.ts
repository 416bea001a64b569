// Broker URL parsing, as gofer does it (reference/gofer.md §3.1):
//   [<adapter>+]<scheme>://[<user>[:<password>]@]<host>[:<port>][/<virtual-host>]
// Differences we keep on purpose: the adapter prefix is optional (bare amqp:// means AMQP 0-9-1),
// user/password/vhost are percent-decoded, and a bracketed IPv6 host is accepted.
import { InvalidUrl } from '../errors.js'

export type Scheme = 'amqp' | 'amqps' | 'tcp' | 'ssl'
const SCHEMES: readonly Scheme[] = ['amqp', 'amqps', 'tcp', 'ssl']

export interface BrokerUrl {
  /** The URL as given. */
  readonly input: string
  /** Adapter prefix (`amqp-0-9-1`, `rabbitmq`, `amqp-1-0`, ...) or null when none was given. */
  readonly adapter: string | null
  readonly scheme: Scheme
  readonly host: string
  readonly port: number
  readonly user: string | null
  readonly password: string | null
  /** Virtual host: the path after the first `/`, or null when there is none. */
  readonly vhost: string | null
  /** TLS is used iff the scheme is `amqps` or `ssl`. */
  readonly ssl: boolean
  /** Identity of the broker (adapter and credentials included): one connection per key. */
  readonly key: string
}

export const DEFAULT_URL = 'amqp://localhost'

/** Parse a broker URL; throws InvalidUrl naming what is wrong. */
export function parseUrl(input: string): BrokerUrl {
  if (typeof input !== 'string') throw new InvalidUrl(String(input), 'not a string')
  const text = input.trim()
  let schemePart = 'amqp'
  let rest = text
  const sep = text.indexOf('://')
  if (sep >= 0) {
    schemePart = text.slice(0, sep)
    rest = text.slice(sep + 3)
  }
  let adapter: string | null = null
  let scheme = schemePart
  const plus = schemePart.indexOf('+')
  if (plus >= 0) {
    adapter = schemePart.slice(0, plus).toLowerCase()
    scheme = schemePart.slice(plus + 1)
    if (!adapter) throw new InvalidUrl(input, 'empty adapter name before "+"')
  }
  // `memory://name` is shorthand for the in-process broker (memory+amqp://name).
  if (scheme === 'memory' && adapter === null) {
    adapter = 'memory'
    scheme = 'amqp'
  }
  if (!SCHEMES.includes(scheme as Scheme)) {
    throw new InvalidUrl(input, `scheme "${scheme}" must be one of ${SCHEMES.join(', ')}`)
  }
  const slash = rest.indexOf('/')
  const location = slash >= 0 ? rest.slice(0, slash) : rest
  const path = slash >= 0 ? rest.slice(slash + 1) : ''
  let hostPort = location
  let user: string | null = null
  let password: string | null = null
  const at = location.lastIndexOf('@')
  if (at >= 0) {
    const credentials = location.slice(0, at)
    hostPort = location.slice(at + 1)
    const colon = credentials.indexOf(':')
    user = decode(input, colon >= 0 ? credentials.slice(0, colon) : credentials)
    password = colon >= 0 ? decode(input, credentials.slice(colon + 1)) : null
  }
  const ssl = scheme === 'amqps' || scheme === 'ssl'
  let host = hostPort
  let portText = ''
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']')
    if (close < 0) throw new InvalidUrl(input, 'unterminated "[" in IPv6 host')
    host = hostPort.slice(1, close)
    const after = hostPort.slice(close + 1)
    if (after && !after.startsWith(':')) throw new InvalidUrl(input, `unexpected "${after}" after IPv6 host`)
    portText = after.slice(1)
  } else {
    const colon = hostPort.indexOf(':')
    if (colon >= 0) {
      host = hostPort.slice(0, colon)
      portText = hostPort.slice(colon + 1)
    }
  }
  let port = ssl ? 5671 : 5672
  if (portText !== '') {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new InvalidUrl(input, `port "${portText}" must be a number from 1 to 65535`)
    }
    port = Number(portText)
  }
  if (!host) host = 'localhost'
  const vhost = path === '' ? null : decode(input, path)
  const key = `${adapter ?? ''}+${scheme}://${user ?? ''}:${password ?? ''}@${host}:${port}/${vhost ?? ''}`
  return { input, adapter, scheme: scheme as Scheme, host, port, user, password, vhost, ssl, key }
}

function decode(input: string, text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw new InvalidUrl(input, `bad percent-encoding in "${text}"`)
  }
}

/** The URL without credentials, for logs and error messages. */
export function displayUrl(url: BrokerUrl): string {
  const prefix = url.adapter ? `${url.adapter}+` : ''
  const who = url.user ? `${url.user}@` : ''
  const host = url.host.includes(':') ? `[${url.host}]` : url.host
  return `${prefix}${url.scheme}://${who}${host}:${url.port}${url.vhost ? `/${url.vhost}` : ''}`
}
