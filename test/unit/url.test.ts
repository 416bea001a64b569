// Broker URL parsing (reference/gofer.md §3.1) and adapter selection by prefix (§3.2).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AdapterNotFound, InvalidUrl } from '../../src/errors.js'
import { adapterFor } from '../../src/messaging/registry.js'
import { displayUrl, parseUrl } from '../../src/messaging/url.js'

describe('parseUrl', () => {
  it('parses every part of a full URL', () => {
    const u = parseUrl('qpid+amqp://elmer:fudd@blue:5000/all')
    assert.equal(u.adapter, 'qpid')
    assert.equal(u.scheme, 'amqp')
    assert.equal(u.host, 'blue')
    assert.equal(u.port, 5000)
    assert.equal(u.user, 'elmer')
    assert.equal(u.password, 'fudd')
    assert.equal(u.vhost, 'all')
    assert.equal(u.ssl, false)
  })

  it('applies gofer defaults: amqp scheme, port 5672, 5671 for TLS', () => {
    assert.deepEqual([parseUrl('orange:6545').scheme, parseUrl('orange:6545').port], ['amqp', 6545])
    assert.equal(parseUrl('localhost').port, 5672)
    assert.equal(parseUrl('amqps://h').port, 5671)
    assert.equal(parseUrl('ssl://h').ssl, true)
    assert.equal(parseUrl('amqps://h').ssl, true)
    assert.equal(parseUrl('tcp://h').ssl, false)
    assert.equal(parseUrl('').host, 'localhost')
  })

  it('keeps the adapter optional and the vhost path as given', () => {
    assert.equal(parseUrl('amqp://localhost').adapter, null)
    assert.equal(parseUrl('amqp://h/').vhost, null)
    assert.equal(parseUrl('amqp://h//').vhost, '/')
    assert.equal(parseUrl('amqp://h/%2F').vhost, '/')
    assert.equal(parseUrl('amqp://h/a/b').vhost, 'a/b')
  })

  it('lets a password contain ":" and percent-escapes', () => {
    const u = parseUrl('amqp://u:p:w%40x@h')
    assert.equal(u.user, 'u')
    assert.equal(u.password, 'p:w@x')
    assert.equal(parseUrl('amqp://justuser@h').password, null)
  })

  it('accepts bracketed IPv6 hosts', () => {
    const u = parseUrl('amqp://[::1]:5673')
    assert.equal(u.host, '::1')
    assert.equal(u.port, 5673)
  })

  it('refuses bad schemes and ports with a message naming them', () => {
    assert.throws(() => parseUrl('http://h'), (e: unknown) => e instanceof InvalidUrl && /scheme "http"/.test(e.message))
    assert.throws(() => parseUrl('amqp://h:99999'), /port "99999"/)
    assert.throws(() => parseUrl('amqp://h:abc'), /port "abc"/)
    assert.throws(() => parseUrl('+amqp://h'), /empty adapter/)
  })

  it('hides the password when displayed', () => {
    assert.equal(displayUrl(parseUrl('amqp://guest:secret@127.0.0.1:5672')), 'amqp://guest@127.0.0.1:5672')
  })

  it('gives one identity per broker, adapter and credentials', () => {
    assert.equal(parseUrl('amqp://h').key, parseUrl('amqp://h:5672').key)
    assert.notEqual(parseUrl('amqp://a@h').key, parseUrl('amqp://b@h').key)
  })
})

describe('adapterFor', () => {
  it('maps a bare amqp:// to AMQP 0-9-1 and resolves gofer prefixes', () => {
    assert.equal(adapterFor(parseUrl('amqp://h')).name, 'amqp-0-9-1')
    for (const prefix of ['amqp-0-9-1', 'rabbitmq', 'rabbit', 'amqp']) {
      assert.equal(adapterFor(parseUrl(`${prefix}+amqp://h`)).name, 'amqp-0-9-1')
    }
    assert.equal(adapterFor(parseUrl('memory://x')).name, 'memory', 'memory:// is shorthand for memory+amqp://')
    assert.equal(adapterFor(parseUrl('memory+amqp://x')).name, 'memory')
  })

  it('names the unknown adapter and the known ones', () => {
    assert.throws(() => adapterFor(parseUrl('nosuch+amqp://h')), (e: unknown) => e instanceof AdapterNotFound && /"nosuch"/.test(e.message) && /rabbitmq/.test(e.message))
  })
})
