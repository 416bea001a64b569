// TLS connection checks against the throwaway RabbitMQ node of scripts/tls-broker.sh, per adapter:
// the right CA connects; a wrong CA, a missing client certificate and a host-name mismatch (with
// host validation on) are refused quickly with a ConnectionError that names the certificate problem,
// in the same words on both adapters, keeping Node's TLS error as its cause. Connecting over AMQP
// 1.0 to an IP address sends no SNI, so Node prints no DEP0123 warning.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { ConnectionError } from '../../src/errors.js'
import type { TlsOptions } from '../../src/messaging/adapter.js'
import { acquireConnection } from '../../src/messaging/registry.js'
import { displayUrl, parseUrl } from '../../src/messaging/url.js'
import { certFile, requireTlsNode, TLS_ADAPTERS, TLS_PORT, tlsConnectWarnings, tlsUrl } from '../support/tls.js'

/** Refusals must come from the TLS handshake, well before any connect deadline. */
const QUICK_MS = 3000

/** Connect once (no retry); resolves with the error, or null when the connection came up. */
async function attempt(url: string, tls: TlsOptions): Promise<{ error: Error | null; ms: number }> {
  const started = Date.now()
  const lease = acquireConnection(url, { retry: false, tls, connectTimeout: 10_000 })
  try {
    await lease.connection.ready()
    return { error: null, ms: Date.now() - started }
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started }
  } finally {
    await lease.release()
  }
}

async function accepted(url: string, tls: TlsOptions): Promise<void> {
  const { error } = await attempt(url, tls)
  assert.equal(error, null, `expected ${url} to connect, got: ${error?.message}`)
}

/**
 * The problems as tlsProblem names them (src/messaging/tls-problem.ts), with the Node error codes
 * of the cause: the message is `cannot connect to <url>: TLS: <problem> (<Node's reason>)`.
 */
const PROBLEM = {
  untrustedBroker: { what: /TLS: the broker's certificate is not signed by a trusted CA \(cacert\) \(.+\)$/, code: /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_\w+)$/ },
  noClientCert: { what: /TLS: the broker requires a client certificate \(clientcert, clientkey\) \(tlsv13 alert certificate required\)$/, code: /^ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED$/ },
  untrustedClient: { what: /TLS: the broker does not trust the client certificate \(unknown CA\) \(tlsv1 alert unknown ca\)$/, code: /^ERR_SSL_TLSV1_ALERT_UNKNOWN_CA$/ },
  wrongHost: { what: /TLS: the broker's certificate is not issued to 127\.0\.0\.1 \(host_validation\) \(Hostname\/IP does not match certificate's altnames/, code: /^ERR_TLS_CERT_ALTNAME_INVALID$/ },
} as const

async function refused(url: string, tls: TlsOptions, problem: { what: RegExp; code: RegExp }): Promise<void> {
  const { error, ms } = await attempt(url, tls)
  assert.ok(error, `expected ${url} to be refused`)
  assert.ok(error instanceof ConnectionError, `not a ConnectionError: ${error.name}: ${error.message}`)
  const prefix = `cannot connect to ${displayUrl(parseUrl(url))}: `
  assert.ok(error.message.startsWith(prefix), `${JSON.stringify(error.message)} does not start with ${JSON.stringify(prefix)}`)
  assert.match(error.message, problem.what)
  // OpenSSL's raw text (error queue codes, source locations) stays in the cause only.
  assert.doesNotMatch(error.message, /SSL routines|\.c:\d+|\n/)
  const code = (error.cause as { code?: unknown } | undefined)?.code
  assert.ok(typeof code === 'string' && problem.code.test(code), `cause code ${String(code)} (${String(error.cause)}), expected ${problem.code}`)
  assert.ok(ms < QUICK_MS, `refused after ${ms} ms`)
}

const CA = certFile('ca.pem')
const CLIENT = { clientcert: certFile('client.pem'), clientkey: certFile('client.key') }

for (const { label, prefix } of TLS_ADAPTERS) {
  describe(`TLS connections (${label})`, () => {
    before(requireTlsNode)

    it('connects with the right CA', async () => {
      await accepted(tlsUrl(prefix, TLS_PORT.open), { cacert: CA })
      await accepted(tlsUrl(prefix, TLS_PORT.open, 'localhost'), { cacert: CA, hostValidation: true })
    })

    it('refuses a broker signed by another CA', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.open), { cacert: certFile('other-ca.pem') }, PROBLEM.untrustedBroker)
    })

    it('refuses a private-CA broker when no cacert is given (default CA store)', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.open), {}, PROBLEM.untrustedBroker)
    })

    it('is refused by a verifying listener without a client certificate', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA }, PROBLEM.noClientCert)
    })

    it('is refused by a verifying listener with a client certificate from another CA', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA, clientcert: certFile('other-client.pem'), clientkey: certFile('other-client.key') },
        PROBLEM.untrustedClient)
    })

    it('passes a verifying listener with a client certificate (separate key, or one PEM with both)', async () => {
      await accepted(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA, ...CLIENT })
      await accepted(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA, clientcert: certFile('client-bundle.pem') })
    })

    it('refuses a certificate issued to another host with host validation on (the default)', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: CA }, PROBLEM.wrongHost)
      await refused(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: CA, hostValidation: true }, PROBLEM.wrongHost)
    })

    it('accepts a certificate issued to another host with host validation off, still checking the CA', async () => {
      await accepted(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: CA, hostValidation: false })
      await refused(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: certFile('other-ca.pem'), hostValidation: false }, PROBLEM.untrustedBroker)
    })

    it('emits no DEP0123 warning (TLS servername set to an IP address) when connecting to 127.0.0.1', async () => {
      const run = await tlsConnectWarnings(tlsUrl(prefix, TLS_PORT.open), { cacert: CA })
      assert.ok(run.connected, `did not connect: ${run.error}; stderr: ${run.stderr}`)
      assert.ok(!run.warnings.includes('DEP0123'), `warnings while connecting: ${run.warnings.join(', ')}; stderr: ${run.stderr}`)
      // The probe would have seen it: the same Node warns for a bare tls.connect with an IP servername.
      assert.deepEqual(run.control, ['DEP0123'], `control warnings: ${run.control.join(', ')}`)
      assert.equal(run.stderr.split('RFC 6066').length - 1, 1, `stderr: ${run.stderr}`)
    })
  })
}
