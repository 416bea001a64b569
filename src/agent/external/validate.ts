// Server-side input validation, copied rule by rule from go-choria (GC `Action.ValidateRequestData`
// and `InputItem.ValidateValue`, reference/choria-external.md §4.2), messages included, so that
// an agent sees exactly the inputs choria-server would let through. Runs before the executable
// is started; a failure means the executable never runs.
import { isIPv4, isIPv6 } from 'node:net'
import type { ActionSpec, InputSpec } from './ddl.js'

/** Why a request's inputs were refused: the input (if one) and the rule that failed. */
export class InputInvalid extends Error {
  constructor(message: string, readonly input: string | null, readonly rule: string) {
    super(message)
    this.name = 'InputInvalid'
  }
}

/** Choria's shellsafe characters, in the order it checks them. */
const SHELL_UNSAFE = ['`', '$', ';', '|', '&&', '>', '<']

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Go's net.ParseIP: dotted IPv4 (no leading zeros) or IPv6 without a zone. */
function parsesAsIp(text: string): boolean {
  return isIPv4(text) || (isIPv6(text) && !text.includes('%'))
}

/** An IPv6 text that Go's To4() turns into IPv4 (`::ffff:a.b.c.d`, in any spelling). */
function isV4Mapped(text: string): boolean {
  if (!isIPv6(text) || text.includes('%')) return false
  // The URL parser normalises IPv6 to its compressed form, which spells mapped addresses one way.
  const host = new URL(`http://[${text}]/`).hostname
  return /^\[::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}\]$/.test(host)
}

/** The error text Choria gives for a string `validation`, or null when the value passes. */
function stringRule(validation: string, value: string): string | null {
  switch (validation) {
    case 'shellsafe': {
      const bad = SHELL_UNSAFE.find(c => value.includes(c))
      return bad === undefined ? null : `may not contain '${bad}'`
    }
    case 'ipv4address':
      return isIPv4(value) || isV4Mapped(value) ? null : `${value} is not an IPv4 address`
    case 'ipv6address':
      return parsesAsIp(value) && !isIPv4(value) && !isV4Mapped(value) ? null : `${value} is not an IPv6 address`
    case 'ipaddress':
      return parsesAsIp(value) ? null : `${value} is not an IP address`
  }
  // Any other lower-case word is an unknown named validator: Choria warns and lets it pass.
  if (/^[a-z]/.test(validation)) return null
  let re: RegExp
  try {
    re = new RegExp(validation)
  } catch {
    return `invalid regex '${validation}'`
  }
  // Unanchored, as Go's MatchString: the pattern must match somewhere in the value.
  return re.test(value) ? null : `input does not match '${validation}'`
}

/** The rule name reported with a failure: the type, or the string validation that failed. */
function ruleOf(spec: InputSpec, failedValidation: boolean): string {
  if (!failedValidation) return spec.type.toLowerCase()
  return spec.validation && !['shellsafe', 'ipv4address', 'ipv6address', 'ipaddress'].includes(spec.validation) ? 'regex' : spec.validation ?? 'string'
}

/** Choria's check of one value against its input spec: an error text and the rule, or null. */
export function checkValue(spec: InputSpec, value: unknown): { error: string; rule: string } | null {
  const type = spec.type.toLowerCase()
  const fails = (error: string, validation = false) => ({ error, rule: ruleOf(spec, validation) })
  switch (type) {
    case 'integer':
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? null : fails('is not an integer')
    case 'number':
      return typeof value === 'number' ? null : fails('is not a number')
    case 'float':
      // JSON numbers decode as float64 in Go, so `1` is a float there too.
      return typeof value === 'number' ? null : fails('is not a float')
    case 'string': {
      if (typeof value !== 'string') return fails('is not a string')
      if (spec.maxlength === 0) return null
      // Go's len() counts bytes, not characters.
      if (Buffer.byteLength(value, 'utf8') > spec.maxlength) return { error: `is longer than ${spec.maxlength} characters`, rule: 'maxlength' }
      if (!spec.validation) return null
      const error = stringRule(spec.validation, value)
      return error === null ? null : fails(error, true)
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : fails('is not a boolean')
    case 'list': {
      if (!spec.list || spec.list.length === 0) return fails('input type of list without a valid list of items in DDL')
      if (typeof value !== 'string') return fails('should be a string')
      return spec.list.includes(value) ? null : fails(`should be one of ${spec.list.join(', ')}`)
    }
    case 'hash':
      return isPlainObject(value) ? null : fails('is not a hash map')
    case 'array':
      return Array.isArray(value) ? null : fails('is not an array')
    default:
      return fails(`unsupported input type '${spec.type}'`)
  }
}

/** Add declared input defaults for absent inputs, as Choria's clients do before sending. */
export function applyInputDefaults(action: ActionSpec, data: Record<string, unknown>): void {
  for (const name of [...action.input.keys()].sort()) {
    const spec = action.input.get(name)!
    if (!Object.prototype.hasOwnProperty.call(data, name) && spec.default !== undefined && spec.default !== null) {
      data[name] = spec.default
    }
  }
}

/**
 * Validate request `data` against `action` (removing `process_results` first, as Choria does).
 * Throws InputInvalid with Choria's message, without the `Validation failed: ` prefix.
 */
export function validateInputs(action: ActionSpec, data: Record<string, unknown>): void {
  delete data.process_results
  const names = [...action.input.keys()].sort()
  for (const name of names) {
    const spec = action.input.get(name)!
    if (!Object.prototype.hasOwnProperty.call(data, name)) {
      if (!spec.optional) throw new InputInvalid(`input '${name}' is required`, name, 'required')
      continue
    }
    const failed = checkValue(spec, data[name])
    if (failed) throw new InputInvalid(`validation failed for input '${name}': ${failed.error}`, name, failed.rule)
  }
  const given = Object.keys(data)
  if (names.length === 0 && given.length > 0) {
    throw new InputInvalid('request contains inputs while none are declared in the DDL', given[0]!, 'declared')
  }
  const undeclared = given.find(key => !action.input.has(key))
  if (undeclared !== undefined) {
    throw new InputInvalid(`request contains an input '${undeclared}' that is not declared in the DDL. Valid inputs are: ${names.join(', ')}`, undeclared, 'declared')
  }
}
