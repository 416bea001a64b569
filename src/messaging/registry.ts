// Adapter resolution by URL prefix (reference/gofer.md §3.2) and the process-wide connection
// pool: one long-lived connection per broker URL per process, shared by reference count.
import { AdapterNotFound } from '../errors.js'
import type { Adapter, ConnectOptions, Connection, TlsOptions } from './adapter.js'
import { memoryAdapter } from './memory.js'
import { amqp091Adapter } from './amqp091/adapter.js'
import { amqp10Adapter } from './amqp10/adapter.js'
import { parseUrl, type BrokerUrl } from './url.js'

const adapters = new Map<string, Adapter>()

/** Make an adapter selectable by its name and every prefix it provides. */
export function registerAdapter(adapter: Adapter): void {
  adapters.set(adapter.name, adapter)
  for (const name of adapter.provides) adapters.set(name, adapter)
}

registerAdapter(memoryAdapter)
registerAdapter(amqp091Adapter)
registerAdapter(amqp10Adapter)

/** The adapter a URL selects: its prefix, or AMQP 0-9-1 when it has none. */
export function adapterFor(url: BrokerUrl): Adapter {
  const name = url.adapter ?? 'amqp-0-9-1'
  const adapter = adapters.get(name)
  if (!adapter) throw new AdapterNotFound(name, [...adapters.keys()].sort())
  return adapter
}

interface Pooled {
  connection: Connection
  refs: number
}

const pool = new Map<string, Pooled>()

/** A handle on the shared connection for a URL; release() it when done. */
export interface ConnectionLease {
  readonly connection: Connection
  release(): Promise<void>
}

/**
 * The TLS part of a pool key: connections that trust other CAs, present other client
 * certificates or check host names differently must not be shared. Empty for plain URLs, which
 * ignore TLS options. hostValidation is on unless false (as the adapters treat it).
 */
export function tlsKey(url: BrokerUrl, tls: TlsOptions | undefined): string {
  if (!url.ssl) return ''
  return `|tls:${JSON.stringify([tls?.cacert ?? '', tls?.clientcert ?? '', tls?.clientkey ?? '', tls?.hostValidation !== false])}`
}

/** Borrow the process-wide connection for `url` (created on first use). */
export function acquireConnection(url: string | BrokerUrl, options?: ConnectOptions): ConnectionLease {
  const parsed = typeof url === 'string' ? parseUrl(url) : url
  const adapter = adapterFor(parsed)
  const key = `${adapter.name}|${parsed.key}${tlsKey(parsed, options?.tls)}`
  let entry = pool.get(key)
  if (!entry) {
    entry = { connection: adapter.connect(parsed, options), refs: 0 }
    pool.set(key, entry)
  }
  entry.refs++
  const held = entry
  let released = false
  return {
    connection: held.connection,
    release: async () => {
      if (released) return
      released = true
      held.refs--
      if (held.refs === 0 && pool.get(key) === held) {
        pool.delete(key)
        await held.connection.close()
      }
    },
  }
}

/** Close every pooled connection (process shutdown). */
export async function closeAllConnections(): Promise<void> {
  const all = [...pool.values()]
  pool.clear()
  await Promise.allSettled(all.map(e => e.connection.close()))
}
