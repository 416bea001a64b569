// TLS options without a broker: unreadable files named in a descriptor's [messaging] are refused
// before any dialling, with the path in the message; the connection pool never shares a connection
// between different TLS settings; TLS failures are named in gofer's terms; the AMQP 1.0 adapter
// sends SNI only for host names.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { readDescriptor } from '../../src/agent/descriptor.js'
import { ConnectionError } from '../../src/errors.js'
import type { TlsOptions } from '../../src/messaging/adapter.js'
import { connectOptions } from '../../src/messaging/amqp10/dial.js'
import { acquireConnection } from '../../src/messaging/registry.js'
import { tlsProblem } from '../../src/messaging/tls-problem.js'
import { parseUrl } from '../../src/messaging/url.js'

const dir = mkdtempSync(join(tmpdir(), 'gofer-tls-unit-'))

/** A descriptor file with the given [messaging] lines, read as goferd reads it. */
function descriptor(messaging: Record<string, string>) {
  const path = join(dir, `p${Math.random().toString(36).slice(2)}.conf`)
  writeFileSync(path, ['[main]', 'enabled=1', '[messaging]', ...Object.entries(messaging).map(([k, v]) => `${k}=${v}`), ''].join('\n'))
  return readDescriptor(path)
}

/** The connection the plugin would open (as Plugin.start maps [messaging]), tried once. */
async function connectFailure(url: string, tls: TlsOptions): Promise<Error> {
  const lease = acquireConnection(url, { retry: false, tls })
  try {
    await lease.connection.ready()
  } catch (error) {
    return error as Error
  } finally {
    await lease.release()
  }
  assert.fail(`${url} connected`)
}

// Port 1 on loopback: nothing listens, and the file check must fail before a socket is opened.
for (const prefix of ['', 'amqp-1-0+']) {
  describe(`unreadable TLS files (${prefix ? 'amqp-1-0' : 'amqp-0-9-1'})`, () => {
    for (const [key, path] of [['cacert', join(dir, 'missing-ca.pem')], ['cacert', dir], ['clientcert', join(dir, 'missing-client.pem')], ['clientkey', join(dir, 'missing.key')]] as const) {
      it(`refuses [messaging] ${key}=${path === dir ? '<a directory>' : path}, naming it`, async () => {
        const d = descriptor({ url: `${prefix}amqps://127.0.0.1:1`, [key]: path, host_validation: '1' })
        assert.equal(d.messaging[key], path)
        const tls = { cacert: d.messaging.cacert ?? undefined, clientcert: d.messaging.clientcert ?? undefined, clientkey: d.messaging.clientkey ?? undefined }
        const error = await connectFailure(d.url!, tls)
        assert.ok(error instanceof ConnectionError, `${error.name}: ${error.message}`)
        assert.ok(error.message.includes(`TLS ${key} "${path}"`), error.message)
        assert.doesNotMatch(error.message, /ECONNREFUSED/)
      })
    }
  })
}

describe('connection pool and TLS options', () => {
  const conn = (url: string, tls?: TlsOptions) => acquireConnection(url, { tls })

  it('does not share a TLS connection between different CAs, client certificates or host checks', async () => {
    const url = 'memory+amqps://tls-pool'
    const leases = [conn(url, { cacert: 'a.pem' }), conn(url, { cacert: 'b.pem' }), conn(url, { cacert: 'a.pem', clientcert: 'c.pem' }),
      conn(url, { cacert: 'a.pem', hostValidation: false })]
    assert.equal(new Set(leases.map(l => l.connection)).size, leases.length)
    // hostValidation defaults to on, so leaving it out is the same setting.
    const same = [conn(url, { cacert: 'a.pem' }), conn(url, { cacert: 'a.pem', hostValidation: true })]
    assert.equal(same[0]!.connection, leases[0]!.connection)
    assert.equal(same[1]!.connection, leases[0]!.connection)
    await Promise.all([...leases, ...same].map(l => l.release()))
  })

  it('ignores TLS options for a plain URL', async () => {
    const a = conn('memory://tls-pool-plain', { cacert: 'a.pem' })
    const b = conn('memory://tls-pool-plain')
    assert.equal(a.connection, b.connection)
    await Promise.all([a.release(), b.release()])
  })
})

describe('tlsProblem', () => {
  const err = (code: string, message: string, reason?: string) => Object.assign(new Error(message), { code, reason })

  it('names the setting involved and keeps the reason, without OpenSSL source locations', () => {
    const required = err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', '8000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:rec_layer_s3.c:1601:\n', 'tlsv13 alert certificate required')
    assert.equal(tlsProblem(required, 'h'), 'TLS: the broker requires a client certificate (clientcert, clientkey) (tlsv13 alert certificate required)')
    assert.match(tlsProblem(err('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), 'h')!, /not signed by a trusted CA \(cacert\) \(self-signed/)
    assert.match(tlsProblem(err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: x", 'x'), '127.0.0.1')!,
      /not issued to 127\.0\.0\.1 \(host_validation\) \(Hostname\/IP does not match certificate's altnames/)
    assert.match(tlsProblem(err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'm', 'tlsv1 alert unknown ca'), 'h')!, /does not trust the client certificate/)
  })

  it('leaves other errors alone', () => {
    assert.equal(tlsProblem(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'h'), null)
    assert.equal(tlsProblem('text', 'h'), null)
    assert.equal(tlsProblem(undefined, 'h'), null)
  })
})

describe('AMQP 1.0 TLS server name (SNI)', () => {
  const servername = (url: string) => (connectOptions(parseUrl(url)) as unknown as { servername?: unknown }).servername

  it('is the host for a host name', () => {
    assert.equal(servername('amqp-1-0+amqps://localhost:5671'), 'localhost')
    assert.equal(servername('amqp-1-0+amqps://broker.example.com'), 'broker.example.com')
  })

  it('is null (not absent, which rhea would fill with the host) for an IP address: no DEP0123', () => {
    assert.equal(servername('amqp-1-0+amqps://127.0.0.1:5671'), null)
    assert.equal(servername('amqp-1-0+amqps://[::1]:5671'), null)
  })

  it('is not set without TLS', () => {
    assert.equal(servername('amqp-1-0+amqp://localhost'), undefined)
  })
})
