// DDL input validation, rule by rule, with go-choria's messages (reference/choria-external.md
// §4.2): each type and each string validation with a passing and a failing value, and the
// request-level rules (required, undeclared, none declared, process_results, defaults).
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { readDdl, type ActionSpec } from '../../src/agent/external/ddl.js'
import { applyInputDefaults, InputInvalid, validateInputs } from '../../src/agent/external/validate.js'
import { ROOT } from '../support/paths.js'

const FIXTURES = join(ROOT, 'test', 'fixtures', 'external')
const parrot = readDdl(join(FIXTURES, 'parrot.json'))
const check = parrot.actions.get('check')!
const echo = parrot.actions.get('echo')!

function refusal(action: ActionSpec, data: Record<string, unknown>): InputInvalid | null {
  try {
    validateInputs(action, data)
    return null
  } catch (error) {
    assert.ok(error instanceof InputInvalid)
    return error
  }
}

// [input, passing value, failing value, Choria's error text, rule reported]
const RULES: Array<[string, unknown, unknown, string, string]> = [
  ['text', 'plain text', 'a;b', "may not contain ';'", 'shellsafe'],
  ['text', 'a && b'.replace('&&', '&'), 'a && b', "may not contain '&&'", 'shellsafe'],
  ['text', 'ok', 'x`y`', "may not contain '`'", 'shellsafe'],
  ['text', 'ok', '$HOME', "may not contain '$'", 'shellsafe'],
  ['text', 'ok', 'a|b', "may not contain '|'", 'shellsafe'],
  ['text', 'ok', 'a>b', "may not contain '>'", 'shellsafe'],
  ['text', 'ok', 'a<b', "may not contain '<'", 'shellsafe'],
  ['text', '0123456789', '01234567890', 'is longer than 10 characters', 'maxlength'],
  // maxlength counts bytes, as Go's len() does: five 2-byte characters fill it.
  ['text', 'ééééé', 'éééééé', 'is longer than 10 characters', 'maxlength'],
  ['text', 'x', 5, 'is not a string', 'string'],
  ['v4', '192.0.2.1', '192.0.2.256', '192.0.2.256 is not an IPv4 address', 'ipv4address'],
  ['v4', '::ffff:192.0.2.1', '2001:db8::1', '2001:db8::1 is not an IPv4 address', 'ipv4address'],
  ['v6', '2001:db8::1', '192.0.2.1', '192.0.2.1 is not an IPv6 address', 'ipv6address'],
  ['v6', '::1', 'fe80::1%eth0', 'fe80::1%eth0 is not an IPv6 address', 'ipv6address'],
  ['ip', '2001:db8::1', 'localhost', 'localhost is not an IP address', 'ipaddress'],
  ['ip', '10.0.0.1', '010.0.0.1', '010.0.0.1 is not an IP address', 'ipaddress'],
  ['word', 'hello', 'Hello', "input does not match '^[a-z]+$'", 'regex'],
  ['count', 3, 3.5, 'is not an integer', 'integer'],
  ['count', -7, '3', 'is not an integer', 'integer'],
  ['ratio', 1, 'x', 'is not a float', 'float'],
  ['amount', 2.5, true, 'is not a number', 'number'],
  ['flag', false, 'true', 'is not a boolean', 'boolean'],
  ['mode', 'quiet', 'loud', 'should be one of quiet, noisy', 'list'],
  ['mode', 'noisy', 1, 'should be a string', 'list'],
  ['opts', { a: 1 }, [1], 'is not a hash map', 'hash'],
  ['items', [1, 'a'], { a: 1 }, 'is not an array', 'array'],
  ['Big', {}, 'x', 'is not a hash map', 'hash'],
  ['count', 1, null, 'is not an integer', 'integer'],
]

describe('external agent input validation (go-choria rules)', () => {
  for (const [input, good, bad, message, rule] of RULES) {
    it(`${input}: ${JSON.stringify(good)} passes, ${JSON.stringify(bad)} fails with "${message}"`, () => {
      assert.equal(refusal(check, { [input]: good }), null)
      const error = refusal(check, { [input]: bad })
      assert.ok(error, 'expected a refusal')
      assert.equal(error.message, `validation failed for input '${input}': ${message}`)
      assert.equal(error.input, input)
      assert.equal(error.rule, rule)
    })
  }

  it('maxlength 0 skips both the length and the validation (Choria quirk)', () => {
    assert.equal(refusal(check, { free: 'a;b'.repeat(100) }), null)
  })

  it('an unknown named validator only warns: the value passes', () => {
    assert.equal(refusal(check, { named: 'not a host name!' }), null)
  })

  it('a missing required input is refused', () => {
    const error = refusal(echo, {})
    assert.equal(error?.message, "input 'message' is required")
    assert.deepEqual([error?.input, error?.rule], ['message', 'required'])
  })

  it('an undeclared input is refused, listing the valid ones', () => {
    assert.equal(refusal(echo, { message: 'hi', loud: true })?.message,
      "request contains an input 'loud' that is not declared in the DDL. Valid inputs are: message")
  })

  it('inputs for an action that declares none are refused', () => {
    assert.equal(refusal(parrot.actions.get('env')!, { x: 1 })?.message, 'request contains inputs while none are declared in the DDL')
  })

  it('process_results (added by the old mco CLI) is removed first', () => {
    const data: Record<string, unknown> = { process_results: true }
    assert.equal(refusal(parrot.actions.get('env')!, data), null)
    assert.deepEqual(data, {})
  })

  it('input defaults fill absent inputs only', () => {
    const sleep = parrot.actions.get('sleep')!
    const data: Record<string, unknown> = {}
    applyInputDefaults(sleep, data)
    assert.deepEqual(data, { seconds: 1 })
    const given: Record<string, unknown> = { seconds: 5 }
    applyInputDefaults(sleep, given)
    assert.deepEqual(given, { seconds: 5 })
  })
})
