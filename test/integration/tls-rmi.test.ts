// Real RMI calls over amqps, per adapter: goferd's Daemon in this process takes its TLS settings
// from the descriptor's [messaging] cacert/clientcert/clientkey/host_validation and listens on the
// listener that requires client certificates; callers use the Agent's `tls` option or the CLI flags.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ConnectionError } from '../../src/errors.js'
import { Agent, type AgentOptions } from '../../src/rmi/agent.js'
import { certFile, gofer, requireTlsNode, startTlsDaemon, TLS_ADAPTERS, TLS_PORT, tlsUrl, type TlsDaemon } from '../support/tls.js'

const CA = certFile('ca.pem')

for (const { label, prefix } of TLS_ADAPTERS) {
  describe(`RMI over TLS (${label})`, () => {
    let agentd: TlsDaemon
    const agents: Agent[] = []
    const agent = (port: number, tls: AgentOptions['tls']) => {
      const a = new Agent(tlsUrl(prefix, port), agentd.queue, { wait: 10, tls })
      agents.push(a)
      return a
    }

    before(async () => {
      await requireTlsNode()
      agentd = await startTlsDaemon(tlsUrl(prefix, TLS_PORT.verify), {
        cacert: CA, clientcert: certFile('client.pem'), clientkey: certFile('client.key'), host_validation: '1',
      })
    })
    after(async () => {
      await Promise.all(agents.map(a => a.close()))
      await agentd?.stop()
    })

    it('calls through a client-certificate listener: Agent tls option, descriptor [messaging] TLS', async () => {
      const dog = agent(TLS_PORT.verify, { cacert: CA, clientcert: certFile('client-bundle.pem') }).stub<{ bark(w: string): string }>('Dog')
      assert.equal(await dog.bark('howdy'), 'Ruf howdy')
    })

    it('reaches the same agent through the other listeners (progress replies included)', async () => {
      const reports: unknown[] = []
      const a = new Agent(tlsUrl(prefix, TLS_PORT.wronghost), agentd.queue, { wait: 10, tls: { cacert: CA, hostValidation: false }, progress: r => reports.push(r.details) })
      agents.push(a)
      assert.equal(await a.stub<{ wag(n: number): string }>('Dog').wag(2), 'wagged 2 times')
      assert.deepEqual(reports, ['wag 1', 'wag 2'])
    })

    it('fails a call quickly with a ConnectionError naming the certificate problem (wrong CA)', async () => {
      const started = Date.now()
      const dog = agent(TLS_PORT.open, { cacert: certFile('other-ca.pem') }).stub<{ bark(w: string): string }>('Dog')
      await assert.rejects(dog.bark('x'), (error: Error) => error instanceof ConnectionError &&
        /TLS: the broker's certificate is not signed by a trusted CA \(cacert\)/.test(error.message) && !/SSL routines|\.c:\d+/.test(error.message))
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    })

    it('gofer rmi: --cacert, --clientcert/--clientkey and --no-host-validation', async () => {
      const call = (port: number, ...flags: string[]) =>
        gofer(['rmi', '-u', tlsUrl(prefix, port), '-a', agentd.queue, '-t', 'Dog.bark', '-w', '10', '--cacert', CA, ...flags, 'hi'])
      const [verified, lax, strict] = await Promise.all([
        call(TLS_PORT.verify, '--clientcert', certFile('client.pem'), '--clientkey', certFile('client.key')),
        call(TLS_PORT.wronghost, '--no-host-validation'),
        call(TLS_PORT.wronghost),
      ])
      assert.equal(verified.code, 0, verified.stderr)
      assert.equal(verified.stdout.trim(), 'Ruf hi')
      assert.equal(lax.code, 0, lax.stderr)
      assert.equal(lax.stdout.trim(), 'Ruf hi')
      assert.notEqual(strict.code, 0)
      assert.match(strict.stderr, /TLS: the broker's certificate is not issued to 127\.0\.0\.1 \(host_validation\) \(.*altnames/)
    })
  })
}
