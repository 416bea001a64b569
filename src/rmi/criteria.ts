// gofer's cancellation criteria language (reference/gofer.md §4.14, gofer.rmi.criteria): a JSON
// object with one operator key, matched against each tracked request's locator (its `data`).
//   {"match": {k: v}}  locator is a non-empty object and every given key equals the locator's
//                      value (a key the locator lacks counts as matching, as in gofer)
//   {"eq": x} {"neq": x} {"gt": x} {"lt": x} {"in": [..]}
//   {"and": [c1, c2]} {"or": [c1, c2]}   exactly two sub-criteria, nesting allowed
// Values compare by JSON equality (Python's == on dicts and lists), never by reference.

export type Criteria = (locator: unknown) => boolean

const OPERATORS = ['match', 'eq', 'neq', 'in', 'gt', 'lt', 'and', 'or'] as const
type Operator = (typeof OPERATORS)[number]

/** gofer's InvalidOperator: the criteria names an operator gofer does not know. */
export class InvalidOperator extends Error {
  readonly xmodule = 'gofer.rmi.criteria'
  constructor(message: string) {
    super(message)
    this.name = 'InvalidOperator'
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function isOperator(key: string): key is Operator {
  return (OPERATORS as readonly string[]).includes(key)
}

/** Python-style equality of JSON values: structural for arrays and objects. */
export function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a === 'number' && typeof b === 'number') return a === b
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x, i) => equal(x, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(b).length) return false
    return keys.every(k => Object.prototype.hasOwnProperty.call(b, k) && equal(a[k], b[k]))
  }
  return false
}

/** Ordering as Python does it for numbers and strings; other types never compare (false). */
function compare(a: unknown, b: unknown): number | null {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'boolean' && typeof b === 'number') return Number(a) - b
  if (typeof a === 'number' && typeof b === 'boolean') return a - Number(b)
  return null
}

function pair(op: Operator, value: unknown): [Criteria, Criteria] {
  if (!Array.isArray(value) || value.length !== 2) throw new InvalidOperator(`${op}: expected a list of two criteria`)
  return [build(value[0]), build(value[1])]
}

/**
 * Build a matcher from gofer's criteria object. Throws InvalidOperator for an unknown operator
 * or a malformed operand. `{}` builds nothing (null): it matches no request.
 */
export function build(criteria: unknown): Criteria {
  if (!isObject(criteria)) throw new InvalidOperator(`criteria must be an object, not ${JSON.stringify(criteria)}`)
  const keys = Object.keys(criteria)
  if (keys.length === 0) return () => false
  if (keys.length > 1) throw new InvalidOperator(`criteria must have exactly one operator, found: ${keys.join(', ')}`)
  const op = keys[0]!
  const value = criteria[op]
  if (!isOperator(op)) throw new InvalidOperator(`${op} not supported`)
  switch (op) {
    case 'match':
      return locator => {
        if (!isObject(value) || !isObject(locator)) return false
        const wanted = Object.keys(value)
        if (wanted.length === 0 || Object.keys(locator).length === 0) return false
        return wanted.every(k => !Object.prototype.hasOwnProperty.call(locator, k) || equal(value[k], locator[k]))
      }
    case 'eq':
      return locator => equal(locator, value)
    case 'neq':
      return locator => !equal(locator, value)
    case 'gt':
      return locator => (compare(locator, value) ?? 0) > 0
    case 'lt':
      return locator => (compare(locator, value) ?? 0) < 0
    case 'in':
      if (!Array.isArray(value) && typeof value !== 'string' && !isObject(value)) throw new InvalidOperator(`in: expected a list, not ${JSON.stringify(value)}`)
      return locator => {
        if (Array.isArray(value)) return value.some(v => equal(locator, v))
        if (typeof value === 'string') return typeof locator === 'string' && value.includes(locator)
        return typeof locator === 'string' && Object.prototype.hasOwnProperty.call(value, locator)
      }
    case 'and': {
      const [left, right] = pair(op, value)
      return locator => left(locator) && right(locator)
    }
    case 'or': {
      const [left, right] = pair(op, value)
      return locator => left(locator) || right(locator)
    }
  }
}
