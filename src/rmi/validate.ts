// Strict validation of a request read tolerantly by envelope.decode(): the agent answers a bad
// document with a `rejected` reply naming what is wrong (when it can read a `replyto`), and
// otherwise logs and drops it. Nothing a caller sends reaches plugin code unchecked.
import { VERSION, field, type Document } from './envelope.js'

export interface ValidRequest {
  sn: unknown
  data: unknown
  replyto: string | null
  classname: string
  method: string
  args: unknown[]
  kws: Record<string, unknown>
  cntr: { args: unknown[]; kws: Record<string, unknown> } | null
}

export interface Rejection {
  code: string
  description: string
  details: string
}

export type Checked =
  | { ok: true; request: ValidRequest }
  | { ok: false; rejection: Rejection; sn: unknown; data: unknown; replyto: string | null }

/** Longest class/method name we accept; a name is an identifier-like token, not a payload. */
const MAX_NAME = 256

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The reply address, if the document names a usable one. */
export function readReplyTo(doc: Document): string | null {
  const replyto = field(doc, 'replyto')
  return typeof replyto === 'string' && replyto.length > 0 && replyto.length <= 255 ? replyto : null
}

/** Reply `sn`/`data` echo what the caller sent, as long as they are plain JSON values. */
function echo(doc: Document, name: string): unknown {
  return field(doc, name) ?? null
}

export function checkRequest(doc: Document): Checked {
  const replyto = readReplyTo(doc)
  const sn = echo(doc, 'sn')
  const data = echo(doc, 'data')
  const refuse = (code: string, description: string, details: string): Checked => ({
    ok: false, rejection: { code, description, details }, sn, data, replyto,
  })
  const version = field(doc, 'version')
  if (version !== VERSION) {
    return refuse('model.version', 'MODEL: document version not matched', `expected:${VERSION}, found:${typeof version === 'string' ? version.slice(0, 40) : version === null ? 'None' : describe(version)}`)
  }
  const invalid = (details: string): Checked => refuse('model.request', 'MODEL: request document not valid', details)
  if (typeof sn !== 'string' || sn.length === 0 || sn.length > 255) return invalid(`sn: expected a non-empty string, found ${describe(sn)}`)
  const rawReplyTo = field(doc, 'replyto')
  if (rawReplyTo !== null && typeof rawReplyTo !== 'string') return invalid(`replyto: expected a string or null, found ${describe(rawReplyTo)}`)
  const request = field(doc, 'request')
  if (!isRecord(request)) return invalid(`request: expected an object, found ${describe(request)}`)
  const classname = field(request, 'classname')
  if (typeof classname !== 'string' || classname.length === 0 || classname.length > MAX_NAME) {
    return invalid(`request.classname: expected a non-empty string, found ${describe(classname)}`)
  }
  const method = field(request, 'method')
  if (typeof method !== 'string' || method.length === 0 || method.length > MAX_NAME) {
    return invalid(`request.method: expected a non-empty string, found ${describe(method)}`)
  }
  const args = field(request, 'args') ?? []
  if (!Array.isArray(args)) return invalid(`request.args: expected an array, found ${describe(args)}`)
  // gofer callers send `kws`; 2.12/3.0 agents read `kwargs` (§1.3). Accept either, prefer kws.
  const kwsField = field(request, 'kws') ?? field(request, 'kwargs') ?? {}
  if (!isRecord(kwsField)) return invalid(`request.kws: expected an object, found ${describe(kwsField)}`)
  const cntrField = field(request, 'cntr')
  let cntr: ValidRequest['cntr'] = null
  if (cntrField !== null) {
    if (!Array.isArray(cntrField) || cntrField.length !== 2 || !Array.isArray(cntrField[0]) || !(isRecord(cntrField[1]) || cntrField[1] === null)) {
      return invalid(`request.cntr: expected null or [args array, kwargs object], found ${describe(cntrField)}`)
    }
    cntr = { args: cntrField[0], kws: (cntrField[1] as Record<string, unknown> | null) ?? {} }
  }
  return {
    ok: true,
    request: { sn, data, replyto, classname, method, args, kws: kwsField, cntr },
  }
}

/** A short description of a value for error details; never the whole (possibly huge) value. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (Array.isArray(value)) return `array(${value.length})`
  if (typeof value === 'object') return 'object'
  if (typeof value === 'string') return value.length > 40 ? `string "${value.slice(0, 40)}..."` : `"${value}"`
  return `${typeof value} ${String(value)}`
}
