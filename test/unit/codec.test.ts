// The envelope codec against real Python gofer captures: same input, byte-identical output.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { decode, encodeProgress, encodeRejected, encodeRequest, encodeResult, encodeStatus, timestamp } from '../../src/rmi/envelope.js'
import { dumps, NotSerializable } from '../../src/rmi/json.js'
import { WIRE } from '../support/paths.js'

interface Captured { body_utf8: string; body_json: Record<string, any>; properties: Record<string, unknown> }
const requests = JSON.parse(readFileSync(join(WIRE, 'amqp091', 'requests.json'), 'utf8')).requests as Array<{ scenario: string; messages: Captured[] }>
const replies = JSON.parse(readFileSync(join(WIRE, 'amqp091', 'replies.json'), 'utf8')).replies as Array<{ scenario: string; messages: Captured[] }>

describe('python-compatible JSON', () => {
  it('re-serialises every captured body byte for byte', () => {
    let count = 0
    for (const group of [...requests, ...replies]) {
      for (const message of group.messages) {
        assert.equal(dumps(JSON.parse(message.body_utf8)), message.body_utf8, group.scenario)
        count++
      }
    }
    assert.ok(count > 30, `expected many captured messages, got ${count}`)
  })

  it('sorts keys, uses ", " and ": ", escapes non-ASCII like Python', () => {
    assert.equal(dumps({ B: 2, A: 1, C: { b: 1, a: [1, {}, []] } }), '{"A": 1, "B": 2, "C": {"a": [1, {}, []], "b": 1}}')
    assert.equal(dumps('héllo \u2603 \ud83d\ude00 \u007f'), '"h\\u00e9llo \\u2603 \\ud83d\\ude00 \\u007f"')
    assert.equal(dumps('tab\tnl\n"q"\\'), '"tab\\tnl\\n\\"q\\"\\\\"')
  })

  it('refuses values JSON would silently change', () => {
    for (const bad of [new Map(), new Set([1]), () => 1, 10n, NaN, Infinity, new (class Thing {})()]) {
      assert.throws(() => dumps({ value: bad }), NotSerializable)
    }
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.throws(() => dumps(cyclic), /not JSON serializable/)
    assert.equal(dumps({ when: new Date(0) }), '{"when": "1970-01-01T00:00:00.000Z"}')
  })
})

describe('requests', () => {
  it('encodes each captured request identically (kws mirrored to kwargs only when non-empty)', () => {
    for (const { scenario, messages } of requests) {
      const captured = messages[0]!
      const doc = captured.body_json
      const r = doc.request
      const encoded = encodeRequest({
        sn: doc.sn, address: doc.routing[1], replyto: doc.replyto, data: doc.data,
        classname: r.classname, method: r.method, args: r.args, kws: r.kws, cntr: r.cntr,
      })
      const expected = Object.keys(r.kws).length > 0 ? dumps({ ...doc, request: { ...r, kwargs: r.kws } }) : captured.body_utf8
      assert.equal(encoded, expected, scenario)
    }
  })

  it('writes the same bytes as dumps() of the whole document for any arguments', () => {
    const cases = [
      { data: { task: 7, 'ü': ['ß', null] }, args: [1.5, 'x"y\\z', { b: 2, a: [true, false] }], kws: { zeta: 1, alpha: { y: 2, x: 1 } }, cntr: [['rover'], { age: 3 }] as [unknown[], Record<string, unknown>] },
      { data: null, args: [], kws: {}, cntr: null },
      { data: 'text', args: [[], {}, '\u2603'], kws: { only: undefined, kept: 0 }, cntr: [[], {}] as [unknown[], Record<string, unknown>] },
    ]
    for (const [i, c] of cases.entries()) {
      const input = { sn: `sn-${i}`, address: 'ex/q\u00e9', replyto: i === 1 ? null : 'reply.q', classname: 'Dog', method: 'bark', ...c }
      const request: Record<string, unknown> = { args: c.args, classname: 'Dog', cntr: c.cntr, kws: c.kws, method: 'bark' }
      if (Object.keys(c.kws).length > 0) request.kwargs = c.kws
      const whole = dumps({ data: c.data, replyto: input.replyto, request, routing: [null, input.address], sn: input.sn, version: '2.0' })
      assert.equal(encodeRequest(input), whole, `case ${i}`)
    }
  })
})

describe('replies', () => {
  it('encodes each captured reply identically', () => {
    let count = 0
    for (const { scenario, messages } of replies) {
      for (const { body_json: d, body_utf8 } of messages) {
        const head = { sn: d.sn, data: d.data, replyto: d.routing[1] }
        const at = d.timestamp ? new Date(d.timestamp) : new Date()
        let encoded: string
        if (d.status === 'accepted' || d.status === 'started') encoded = encodeStatus(head, d.status, at)
        else if (d.status === 'rejected') encoded = encodeRejected(head, d.code, d.description, d.details, at)
        else if (d.status === 'progress') encoded = encodeProgress(head, d.total, d.completed, d.details)
        else encoded = encodeResult(head, d.result, at)
        assert.equal(encoded, body_utf8, scenario)
        count++
      }
    }
    assert.ok(count >= 20)
  })

  it('writes timestamps as YYYY-MM-DDTHH:MM:SSZ', () => {
    assert.equal(timestamp(new Date('2024-05-01T12:00:02.789Z')), '2024-05-01T12:00:02Z')
  })
})

describe('decode', () => {
  it('reads a plain document', () => {
    const d = decode(Buffer.from('{"sn": "a", "version": "2.0"}'))
    assert.deepEqual(d.document, { sn: 'a', version: '2.0' })
    assert.equal(d.signature, null)
  })

  it('unwraps a signed {message, signature} document (gofer test vector)', () => {
    const d = decode('{"message": "{\\"A\\":1}", "signature": "S0xBSkRGOTg4Ug=="}')
    assert.deepEqual(d.document, { A: 1 })
    assert.equal(d.original, '{"A":1}')
    assert.equal(d.signature, 'KLAJDF988R')
  })

  it('says why a body is unreadable instead of throwing', () => {
    assert.match(decode(Buffer.from('not json')).problem!, /not JSON/)
    assert.match(decode(Buffer.from('[1,2]')).problem!, /array, not an object/)
    assert.match(decode(Buffer.from('"text"')).problem!, /string, not an object/)
    assert.match(decode(Buffer.from([0xff, 0xfe, 0x00])).problem!, /not JSON/)
  })
})
