// The throwaway TLS node of scripts/tls-broker.sh and its certificates, for the TLS tests.
// The script is the one place that generates the certificates (openssl, into $GOFER_TLS_DIR/certs):
// the broker needs them before it boots, and the tests must trust the CA the broker presents.
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Daemon } from '../../src/agent/daemon.js'
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


