// Parameter lists read from a function's source text. JavaScript has no keyword arguments, but
// gofer callers send them (`kws`) and `Admin.help` shows signatures, so we recover parameter
// names from Function.prototype.toString() (types are already stripped by the compiler).

export interface Param {
  /** The identifier, or null for a destructuring pattern. */
  name: string | null
  /** The parameter's source text, e.g. `n`, `delay = 0.1`, `{ loud }`, `...rest`. */
  text: string
  optional: boolean
  rest: boolean
}

/** The parameters of `fn`, or null when its source cannot be read (native or bound functions). */
export function parameters(fn: Function): Param[] | null {
  let source: string
  try {
    source = Function.prototype.toString.call(fn)
  } catch {
    return null
  }
  if (source.includes('[native code]')) return null
  if (source.startsWith('class')) {
    const ctor = findConstructor(source)
    if (ctor === null) {
      const parent = Object.getPrototypeOf(fn)
      return typeof parent === 'function' && parent !== Function.prototype ? parameters(parent) : []
    }
    source = ctor
  }
  const list = paramListText(source)
  return list === null ? null : splitParams(list)
}

/** `name(a, b = 1)` as gofer's help shows it. */
export function signature(name: string, params: Param[] | null): string {
  return `${name}(${params ? params.map(p => p.text).join(', ') : '...'})`
}

/** Skip a string, template or comment starting at i; returns the index after it, or i. */
function skipLiteral(s: string, i: number): number {
  const c = s[i]
  if (c === '"' || c === "'" || c === '`') {
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === '\\') j++
      else if (s[j] === c) return j + 1
    }
    return s.length
  }
  if (c === '/' && s[i + 1] === '/') {
    const end = s.indexOf('\n', i)
    return end < 0 ? s.length : end + 1
  }
  if (c === '/' && s[i + 1] === '*') {
    const end = s.indexOf('*/', i + 2)
    return end < 0 ? s.length : end + 2
  }
  return i
}

/** The text between the first `(` and its matching `)`, or the bare arrow parameter. */
function paramListText(source: string): string | null {
  let i = 0
  while (i < source.length) {
    const skipped = skipLiteral(source, i)
    if (skipped !== i) {
      i = skipped
      continue
    }
    const c = source[i]
    if (c === '(') break
    if (c === '=' && source[i + 1] === '>') {
      // `x => ...`: a single bare parameter before the arrow.
      const bare = source.slice(0, i).replace(/^async\s+/, '').trim()
      return bare
    }
    if (c === '{') return null
    i++
  }
  if (i >= source.length) return null
  let depth = 0
  for (let j = i; j < source.length; j++) {
    const skipped = skipLiteral(source, j)
    if (skipped !== j) {
      j = skipped - 1
      continue
    }
    const c = source[j]
    if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') {
      depth--
      if (depth === 0) return source.slice(i + 1, j)
    }
  }
  return null
}

function splitParams(list: string): Param[] {
  const parts: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < list.length; i++) {
    const skipped = skipLiteral(list, i)
    if (skipped !== i) {
      i = skipped - 1
      continue
    }
    const c = list[i]
    if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') depth--
    else if (c === ',' && depth === 0) {
      parts.push(list.slice(start, i))
      start = i + 1
    }
  }
  parts.push(list.slice(start))
  return parts
    .map(p => stripComments(p).trim())
    .filter(p => p.length > 0)
    .map(text => {
      const rest = text.startsWith('...')
      const body = rest ? text.slice(3).trim() : text
      const match = /^([A-Za-z_$][\w$]*)\s*(=)?/.exec(body)
      const name = match ? match[1]! : null
      const optional = rest || /^[^=]*=/.test(body.replace(/=>/g, ''))
      return { name, text, optional, rest }
    })
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '')
}

/** The `constructor(...) {` part of a class's source, or null when it declares none. */
function findConstructor(source: string): string | null {
  const body = source.indexOf('{')
  let depth = 0
  for (let i = body; i < source.length; i++) {
    const skipped = skipLiteral(source, i)
    if (skipped !== i) {
      i = skipped - 1
      continue
    }
    const c = source[i]
    if (c === '{') depth++
    else if (c === '}') depth--
    else if (depth === 1 && source.startsWith('constructor', i) && /^constructor\s*\(/.test(source.slice(i, i + 40))) {
      return source.slice(i)
    }
  }
  return null
}
