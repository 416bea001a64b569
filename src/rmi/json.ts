// JSON text exactly as Python's json.dumps(sort_keys=True) writes it: keys sorted, separators
// ", " and ": ", non-ASCII escaped as \uXXXX. Byte-identical output to gofer's lets signatures
// (which cover the exact string) and wire captures compare equal.
//
// Stricter than JSON.stringify on purpose: values that would silently change (Map -> {}, a class
// instance losing its prototype, NaN -> null, functions vanishing) raise NotSerializable instead,
// as Python's encoder raises TypeError.

export class NotSerializable extends TypeError {
  constructor(what: string) {
    super(`Object of type ${what} is not JSON serializable`)
    this.name = 'TypeError'
  }
  /** Reported as Python's builtins.TypeError, which a Python caller re-raises natively. */
  readonly xmodule = 'builtins'
}

const NEEDS_ASCII_ESCAPE = /[\u007f-\uffff]/
const ASCII_ESCAPE = /[\u007f-\uffff]/g

function escapeNonAscii(ch: string): string {
  return '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')
}

/** A JSON string literal as Python writes it (ensure_ascii). */
export function quote(text: string): string {
  const json = JSON.stringify(text)
  return NEEDS_ASCII_ESCAPE.test(json) ? json.replace(ASCII_ESCAPE, escapeNonAscii) : json
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (typeof value !== 'object') return typeof value
  return (value as object).constructor?.name ?? 'object'
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Serialise `value` like Python's json.dumps(value, sort_keys=True). Throws NotSerializable. */
export function dumps(value: unknown): string {
  return write(value, new Set())
}

function write(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return quote(value)
    case 'number':
      if (!Number.isFinite(value)) throw new NotSerializable(`number ${value}`)
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return 'null'
    case 'object':
      break
    default:
      throw new NotSerializable(typeof value)
  }
  if (value === null) return 'null'
  const obj = value as Record<string, unknown>
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    return write((obj as { toJSON: () => unknown }).toJSON(), seen)
  }
  if (seen.has(obj)) throw new NotSerializable('circular structure')
  seen.add(obj)
  try {
    if (Array.isArray(obj)) {
      if (obj.length === 0) return '[]'
      let out = '['
      for (let i = 0; i < obj.length; i++) {
        if (i > 0) out += ', '
        out += write(obj[i], seen)
      }
      return out + ']'
    }
    if (!isPlain(obj)) throw new NotSerializable(typeName(obj))
    const keys = Object.keys(obj).filter(k => obj[k] !== undefined).sort(comparePython)
    if (keys.length === 0) return '{}'
    let out = '{'
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      if (i > 0) out += ', '
      out += quote(k) + ': ' + write(obj[k], seen)
    }
    return out + '}'
  } finally {
    seen.delete(obj)
  }
}

/** Python sorts str keys by code point; JS's default sort compares UTF-16 units. Same for the BMP. */
function comparePython(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
