// The JSON DDL of a Choria external agent (reference/choria-external.md §4.1): metadata, actions,
// their inputs and outputs. Read once at load and checked against the schema's `required` lists,
// so that a broken DDL is refused with a message naming the file and the field instead of
// failing later on a call. Only what the server needs is typed; the rest is kept as read.

import { readFileSync } from 'node:fs'

/** Names Choria accepts for agents and actions (SCH `^[a-z0-9_]*$`, non-empty). */
export const NAME = /^[a-z0-9_]+$/

/** Input types the server validates (GC `InputItem.ValidateValue`, lower-cased). */
export const INPUT_TYPES = new Set(['string', 'list', 'boolean', 'integer', 'int', 'float', 'number', 'hash', 'array'])

export interface InputSpec {
  prompt: string
  description: string
  /** As written in the DDL; compared lower-cased (Choria accepts `Hash`, `Array`). */
  type: string
  optional: boolean
  default?: unknown
  validation?: string
  /** 0 (or absent) skips both the length and the `validation` check: Choria's quirk. */
  maxlength: number
  list?: string[]
}

export interface OutputSpec {
  description: string
  display_as: string
  type?: string
  default?: unknown
}

export interface ActionSpec {
  action: string
  description: string
  /** Input names in DDL order. */
  input: Map<string, InputSpec>
  output: Map<string, OutputSpec>
  /** Client-side display hint; an empty value means `failed` (GC `normalize()`). */
  display: 'ok' | 'failed' | 'always'
}

export interface Ddl {
  /** The file it was read from. */
  path: string
  name: string
  version: string
  description: string
  author: string
  license: string
  url: string
  /** Seconds an action may run before its process group is killed. */
  timeout: number
  provider: string
  actions: Map<string, ActionSpec>
}

/** A DDL that cannot be used; the message starts with the file and names the field. */
export class DdlError extends Error {
  constructor(readonly path: string, why: string) {
    super(`${path}: ${why}`)
    this.name = 'DdlError'
  }
}

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Parse DDL text. `fallbackTimeout` is used when `metadata.timeout` is absent (the descriptor's
 * `[external] timeout`); without one such a DDL is refused, as Choria refuses a timeout below 1.
 */
export function parseDdl(path: string, text: string, fallbackTimeout: number | null = null): Ddl {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new DdlError(path, `not valid JSON (${(error as Error).message})`)
  }
  const fail = (field: string, why: string): never => {
    throw new DdlError(path, `${field}: ${why}`)
  }
  if (!isObject(doc)) return fail('(top level)', 'must be a JSON object')
  const str = (obj: Json, field: string, where: string, required = true): string => {
    const value = obj[field]
    if (value === undefined && !required) return ''
    if (typeof value !== 'string') return fail(`${where}.${field}`, value === undefined ? 'required' : 'must be a string')
    return value
  }
  const metadata = doc.metadata
  if (!isObject(metadata)) return fail('metadata', metadata === undefined ? 'required' : 'must be an object')
  const name = str(metadata, 'name', 'metadata')
  if (!NAME.test(name)) fail('metadata.name', `"${name}" must match ^[a-z0-9_]+$`)
  let timeout: number
  if (metadata.timeout === undefined && fallbackTimeout !== null) timeout = fallbackTimeout
  else {
    const t = metadata.timeout
    if (t === undefined) return fail('metadata.timeout', 'required')
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) return fail('metadata.timeout', `${JSON.stringify(t)} must be an integer number of seconds, at least 1`)
    timeout = t
  }
  const ddl: Ddl = {
    path,
    name,
    version: str(metadata, 'version', 'metadata'),
    description: str(metadata, 'description', 'metadata'),
    author: str(metadata, 'author', 'metadata'),
    license: str(metadata, 'license', 'metadata'),
    url: str(metadata, 'url', 'metadata'),
    timeout,
    provider: str(metadata, 'provider', 'metadata', false),
    actions: new Map(),
  }
  if (!Array.isArray(doc.actions)) return fail('actions', doc.actions === undefined ? 'required' : 'must be an array')
  doc.actions.forEach((raw, index) => {
    const where = `actions[${index}]`
    if (!isObject(raw)) return fail(where, 'must be an object')
    const action = str(raw, 'action', where)
    if (!NAME.test(action)) fail(`${where}.action`, `"${action}" must match ^[a-z0-9_]+$`)
    if (ddl.actions.has(action)) fail(`${where}.action`, `"${action}" is declared twice`)
    const at = `actions[${action}]`
    const display = str(raw, 'display', at, false)
    if (!['', 'ok', 'failed', 'always'].includes(display)) fail(`${at}.display`, `"${display}" must be ok, failed or always`)
    ddl.actions.set(action, {
      action,
      description: str(raw, 'description', at),
      input: inputs(raw.input, `${at}.input`, fail),
      output: outputs(raw.output, `${at}.output`, fail),
      display: (display || 'failed') as ActionSpec['display'],
    })
  })
  return ddl
}

type Fail = (field: string, why: string) => never

function inputs(raw: unknown, where: string, fail: Fail): Map<string, InputSpec> {
  const map = new Map<string, InputSpec>()
  if (!isObject(raw)) return fail(where, raw === undefined ? 'required (use {} for none)' : 'must be an object')
  for (const [name, spec] of Object.entries(raw)) {
    const at = `${where}.${name}`
    if (!isObject(spec)) fail(at, 'must be an object')
    const s = spec as Json
    for (const key of ['prompt', 'description', 'type']) {
      if (typeof s[key] !== 'string') fail(`${at}.${key}`, s[key] === undefined ? 'required' : 'must be a string')
    }
    if (typeof s.optional !== 'boolean') fail(`${at}.optional`, s.optional === undefined ? 'required' : 'must be true or false')
    const type = s.type as string
    if (!INPUT_TYPES.has(type.toLowerCase())) fail(`${at}.type`, `"${type}" is not one of ${[...INPUT_TYPES].join(', ')}`)
    if (s.validation !== undefined && typeof s.validation !== 'string') fail(`${at}.validation`, 'must be a string')
    if (s.maxlength !== undefined && (typeof s.maxlength !== 'number' || !Number.isInteger(s.maxlength) || s.maxlength < 0)) {
      fail(`${at}.maxlength`, 'must be a non-negative integer')
    }
    if (type.toLowerCase() === 'list' && (!Array.isArray(s.list) || s.list.length === 0 || !s.list.every(v => typeof v === 'string'))) {
      fail(`${at}.list`, 'a list input needs a non-empty array of strings')
    }
    if (typeof s.validation === 'string' && !/^[a-z]/.test(s.validation)) {
      // Choria compiles it per call and fails every call on a bad pattern; better said at load.
      try {
        new RegExp(s.validation)
      } catch (error) {
        fail(`${at}.validation`, `not a valid regular expression (${(error as Error).message})`)
      }
    }
    map.set(name, {
      prompt: s.prompt as string,
      description: s.description as string,
      type,
      optional: s.optional as boolean,
      default: s.default,
      validation: s.validation as string | undefined,
      maxlength: (s.maxlength as number | undefined) ?? 0,
      list: s.list as string[] | undefined,
    })
  }
  return map
}

function outputs(raw: unknown, where: string, fail: Fail): Map<string, OutputSpec> {
  const map = new Map<string, OutputSpec>()
  if (!isObject(raw)) return fail(where, raw === undefined ? 'required (use {} for none)' : 'must be an object')
  for (const [name, spec] of Object.entries(raw)) {
    const at = `${where}.${name}`
    if (!isObject(spec)) fail(at, 'must be an object')
    const s = spec as Json
    for (const key of ['description', 'display_as']) {
      if (typeof s[key] !== 'string') fail(`${at}.${key}`, s[key] === undefined ? 'required' : 'must be a string')
    }
    map.set(name, { description: s.description as string, display_as: s.display_as as string, type: s.type as string | undefined, default: s.default })
  }
  return map
}

/** Read and parse a DDL file. Throws DdlError. */
export function readDdl(path: string, fallbackTimeout: number | null = null): Ddl {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new DdlError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  return parseDdl(path, text, fallbackTimeout)
}
