// The throwaway TLS node of scripts/tls-broker.sh and its certificates, for the TLS tests.
// The script is the one place that generates the certificates (openssl, into $GOFER_TLS_DIR/certs):
// the broker needs them before it boots, and the tests must trust the CA the broker presents.
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Daemon } from '../../src/agent/daemon.js'
import type { TlsOptions } from '../../src/messaging/adapter.js'
import { runNode } from './cli.js'
import { TEST_PLUGIN } from './daemon.js'

export { gofer, type CliRun } from './cli.js'

export const TLS_DIR = process.env.GOFER_TLS_DIR ?? '/var/tmp/gofer-tls'
const CERTS = join(TLS_DIR, 'certs')

/** A file of the generated set: ca.pem, server.pem, wronghost.pem, client.pem/.key, client-bundle.pem, other-ca.pem, other-client.pem/.key. */
export const certFile = (name: string): string => join(CERTS, name)

/** The node's listeners, all on 127.0.0.1 (see scripts/tls-broker.sh). */
export const TLS_PORT = {
  /** server.pem, no client certificate asked for */
  open: Number(process.env.GOFER_TLS_PORT ?? 5681),
  /** server.pem, a client certificate signed by the CA is required */
  verify: Number(process.env.GOFER_TLS_VERIFY_PORT ?? 5682),
  /** wronghost.pem (issued to wrong-host.invalid), no client certificate asked for */
  wronghost: Number(process.env.GOFER_TLS_WRONGHOST_PORT ?? 5683),
}

/** The adapters the TLS tests run on, by URL prefix. */
export const TLS_ADAPTERS = [
  { label: 'amqp-0-9-1', prefix: '' },
  { label: 'amqp-1-0', prefix: 'amqp-1-0+' },
] as const

export function tlsUrl(prefix: string, port: number, host = '127.0.0.1'): string {
  return `${prefix}amqps://guest:guest@${host}:${port}`
}

function portOpen(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 2000 })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
  })
}

/** Fail (never skip) with the command to run when the TLS node or its certificates are missing. */
export async function requireTlsNode(): Promise<void> {
  const hint = 'start it with `bash scripts/tls-broker.sh start` (as root; after scripts/brokers.sh start)'
  if (!['ca.pem', 'client-bundle.pem', 'other-client.pem'].every(f => existsSync(certFile(f)))) {
    throw new Error(`no test certificates in ${CERTS}: ${hint}`)
  }
  for (const port of Object.values(TLS_PORT)) {
    if (!(await portOpen(port))) throw new Error(`the TLS test broker does not listen on 127.0.0.1:${port}: ${hint}`)
  }
}

export interface TlsDaemon {
  daemon: Daemon
  queue: string
  stop(): Promise<void>
}

/** goferd's Daemon in this process, the test plugin's descriptor carrying `[messaging]` TLS lines. */
export async function startTlsDaemon(url: string, messaging: Record<string, string>): Promise<TlsDaemon> {
  const queue = `test.tls.${randomUUID()}`
  const etc = mkdtempSync(join(tmpdir(), 'gofer-tls-etc-'))
  mkdirSync(join(etc, 'plugins'))
  writeFileSync(join(etc, 'plugins', 'testplugin.conf'), [
    '[main]', 'enabled=1', `plugin=${TEST_PLUGIN}`,
    '[messaging]', `url=${url}`, ...Object.entries(messaging).map(([k, v]) => `${k}=${v}`),
    '[model]', `queue=${queue}`, 'managed=2', '',
  ].join('\n'))
  const daemon = new Daemon({ etc })
  const plugins = await daemon.start()
  if (plugins.length !== 1) throw new Error('test plugin did not load')
  await plugins[0]!.attached()
  return {
    daemon, queue,
    stop: async () => {
      await Promise.all(plugins.map(p => p.stop(true)))
      await daemon.stop()
    },
  }
}



/** What tlsConnectWarnings saw in its child process. */
export interface WarningsRun {
  /** The connection came up (else `error` says why). */
  connected: boolean
  error?: string
  /** Codes (or names) of the process warnings emitted while connecting through gofer. */
  warnings: string[]
  /** The same for a bare tls.connect with servername set to the host: shows that a DEP0123 would be seen. */
  control: string[]
  stderr: string
}

/**
 * Connect once through gofer's connection registry to `url` in a fresh Node process and report the
 * process warnings emitted meanwhile. A fresh process, because Node emits DEP0123 (TLS servername
 * set to an IP address) only once per process, and another test in this one may have caused it.
 * Then, as a control, a bare tls.connect with servername = host to the same port.
 */
export async function tlsConnectWarnings(url: string, tls: TlsOptions, timeoutMs = 30_000): Promise<WarningsRun> {
  const registry = new URL('../../src/messaging/registry.js', import.meta.url).href
  const script = `
    import { readFileSync } from 'node:fs'
    import tls from 'node:tls'
    import { acquireConnection } from ${JSON.stringify(registry)}
    const [url, options] = [process.argv[1], JSON.parse(process.argv[2])]
    let seen = []
    process.on('warning', w => seen.push(w.code ?? w.name))
    const out = { connected: false }
    const lease = acquireConnection(url, { retry: false, tls: options, connectTimeout: 10_000 })
    try {
      await lease.connection.ready()
      out.connected = true
    } catch (err) {
      out.error = String(err?.message ?? err)
    } finally {
      await lease.release()
    }
    await new Promise(r => setImmediate(r))
    out.warnings = seen
    seen = []
    const { hostname, port } = new URL(url.replace(/^[a-z0-9-]+\\+/, ''))
    await new Promise(resolve => {
      const socket = tls.connect({ host: hostname, port: Number(port), servername: hostname, ca: options.cacert ? readFileSync(options.cacert) : undefined, rejectUnauthorized: false })
      const done = () => { socket.destroy(); resolve() }
      socket.once('secureConnect', done)
      socket.once('error', done)
    })
    await new Promise(r => setImmediate(r))
    out.control = seen
    console.log(JSON.stringify(out))
  `
  const { code, stdout, stderr } = await runNode(['--input-type=module', '-e', script, url, JSON.stringify(tls)], 'the warnings probe', timeoutMs)
  const line = stdout.trim().split('\n').pop() ?? ''
  try {
    return { ...(JSON.parse(line) as Omit<WarningsRun, 'stderr'>), stderr }
  } catch {
    throw new Error(`the warnings probe exited ${code} without a report; stdout=${stdout} stderr=${stderr}`)
  }
}
