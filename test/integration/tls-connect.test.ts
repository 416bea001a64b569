// TLS connection checks against the throwaway RabbitMQ node of scripts/tls-broker.sh, per adapter:
// the right CA connects; a wrong CA, a missing client certificate and a host-name mismatch (with
// host validation on) are refused quickly with a ConnectionError that names the certificate problem.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { ConnectionError } from '../../src/errors.js'
import type { TlsOptions } from '../../src/messaging/adapter.js'
import { acquireConnection } from '../../src/messaging/registry.js'
import { certFile, requireTlsNode, TLS_ADAPTERS, TLS_PORT, tlsUrl } from '../support/tls.js'

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

async function refused(url: string, tls: TlsOptions, why: RegExp): Promise<void> {
  const { error, ms } = await attempt(url, tls)
  assert.ok(error, `expected ${url} to be refused`)
  assert.ok(error instanceof ConnectionError, `not a ConnectionError: ${error.name}: ${error.message}`)
  assert.match(error.message, why)
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
      await refused(tlsUrl(prefix, TLS_PORT.open), { cacert: certFile('other-ca.pem') }, /certificate/i)
    })

    it('refuses a private-CA broker when no cacert is given (default CA store)', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.open), {}, /certificate/i)
    })

    it('is refused by a verifying listener without a client certificate', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA }, /certificate required|client certificate/i)
    })

    it('is refused by a verifying listener with a client certificate from another CA', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA, clientcert: certFile('other-client.pem'), clientkey: certFile('other-client.key') },
        /client certificate|unknown ca/i)
    })

    it('passes a verifying listener with a client certificate (separate key, or one PEM with both)', async () => {
      await accepted(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA, ...CLIENT })
      await accepted(tlsUrl(prefix, TLS_PORT.verify), { cacert: CA, clientcert: certFile('client-bundle.pem') })
    })

    it('refuses a certificate issued to another host with host validation on (the default)', async () => {
      await refused(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: CA }, /altnames|host/i)
      await refused(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: CA, hostValidation: true }, /altnames|host/i)
    })

    it('accepts a certificate issued to another host with host validation off, still checking the CA', async () => {
      await accepted(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: CA, hostValidation: false })
      await refused(tlsUrl(prefix, TLS_PORT.wronghost), { cacert: certFile('other-ca.pem'), hostValidation: false }, /certificate/i)
    })
  })
}
