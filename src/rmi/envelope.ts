// gofer's message document (reference/gofer.md §1): building requests and replies, and reading
// any body tolerantly (missing fields are null, unknown fields ignored, a {message, signature}
// wrapper unwrapped). Validation of what was read lives in validate.ts.
import { dumps, quote } from './json.js'

export const VERSION = '2.0'

/** The `request` field: what to call. */
export interface RequestBody {
  classname: string
  method: string
  args: unknown[]
  kws: Record<string, unknown>
  cntr: [unknown[], Record<string, unknown>] | null
}

/** A request document as we send it. */
export interface RequestDocument {
  sn: string
  version: string
  routing: [null, string]
  replyto: string | null
  data: unknown
  request: RequestBody & { kwargs?: Record<string, unknown> }
}

export type Status = 'accepted' | 'rejected' | 'started' | 'progress'

/** What `result` holds in a final reply. */
export type ResultBody =
  | { retval: unknown }
  | { exval: string; xmodule: string; xclass: string; xstate: Record<string, unknown>; xargs: unknown[] | null }

/** Any document as read from the wire: every field may be missing or of the wrong type. */
export type Document = Record<string, unknown>

/** UTC time as gofer writes it: YYYY-MM-DDTHH:MM:SSZ, no fractions. */
export function timestamp(date = new Date()): string {
  return date.toISOString().slice(0, 19) + 'Z'
}

/**
 * Encode a request. Keyword arguments travel in `kws` (what every gofer caller sends) and, when
 * there are any, also in `kwargs`, because Python goferd 2.12/3.0 reads only `kwargs`
 * (reference/gofer.md §1.3); receivers ignore unknown keys, so the copy is harmless.
 */
export function encodeRequest(input: {
  sn: string
  address: string
  replyto: string | null
  data?: unknown
  classname: string
  method: string
  args?: unknown[]
  kws?: Record<string, unknown>
  cntr?: [unknown[], Record<string, unknown>] | null
}): string {
  // Written from a template in sorted-key order, as the replies are: byte-identical to dumps() of
  // the whole document (the codec tests compare both), without sorting keys on every call.
  const kws = input.kws ?? {}
  const kwsText = dumps(kws)
  const kwargs = Object.keys(kws).length > 0 ? `"kwargs": ${kwsText}, ` : ''
  return `{"data": ${dumps(input.data ?? null)}, "replyto": ${dumps(input.replyto ?? null)}, ` +
    `"request": {"args": ${dumps(input.args ?? [])}, "classname": ${dumps(input.classname)}, "cntr": ${dumps(input.cntr ?? null)}, ` +
    `${kwargs}"kws": ${kwsText}, "method": ${dumps(input.method)}}, ` +
    `"routing": [null, ${dumps(input.address)}], "sn": ${dumps(input.sn)}, "version": "${VERSION}"}`
}

/** Fields every reply carries. */
export interface ReplyHead {
  sn: unknown
  data: unknown
  replyto: string
}

let stampSecond = -1
let stampText = ''

/** timestamp() for now, computed once per second (every reply of a busy agent needs it). */
function nowStamp(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== stampSecond) {
    stampSecond = second
    stampText = timestamp(new Date(second * 1000))
  }
  return stampText
}

/**
 * Encodes the replies to one request. Replies have a fixed set of keys, so they are written
 * from templates in sorted-key order (byte-identical to dumps() of the whole document, which
 * the codec tests check) with the request's sn, data and routing serialised once.
 */
export class ReplyEncoder {
  private readonly data: string
  private readonly routing: string
  private readonly sn: string
  constructor(head: ReplyHead) {
    this.data = dumps(head.data ?? null)
    this.routing = `[null, ${quote(head.replyto)}]`
    this.sn = dumps(head.sn ?? null)
  }

  private stamp(at: Date | undefined): string {
    return at ? timestamp(at) : nowStamp()
  }

  /** accepted / started: sn, data, status, timestamp. */
  status(status: 'accepted' | 'started', at?: Date): string {
    return `{"data": ${this.data}, "routing": ${this.routing}, "sn": ${this.sn}, "status": "${status}", "timestamp": "${this.stamp(at)}", "version": "${VERSION}"}`
  }

  /** rejected: why the document was refused (code, description, details). */
  rejected(code: string, description: string, details: string, at?: Date): string {
    return `{"code": ${quote(code)}, "data": ${this.data}, "description": ${quote(description)}, "details": ${quote(details)}, "routing": ${this.routing}, "sn": ${this.sn}, "status": "rejected", "timestamp": "${this.stamp(at)}", "version": "${VERSION}"}`
  }

  /** progress: total, completed, details; gofer sends no timestamp on progress. */
  progress(total: number, completed: number, details: unknown): string {
    return `{"completed": ${dumps(completed)}, "data": ${this.data}, "details": ${dumps(details)}, "routing": ${this.routing}, "sn": ${this.sn}, "status": "progress", "total": ${dumps(total)}, "version": "${VERSION}"}`
  }

  /** The final reply: result {retval} or {exval, xmodule, xclass, xstate, xargs}. Throws NotSerializable. */
  result(result: ResultBody, at?: Date): string {
    return `{"data": ${this.data}, "result": ${dumps(result)}, "routing": ${this.routing}, "sn": ${this.sn}, "timestamp": "${this.stamp(at)}", "version": "${VERSION}"}`
  }
}

/** accepted / started: sn, data, status, timestamp. */
export function encodeStatus(head: ReplyHead, status: 'accepted' | 'started', at?: Date): string {
  return new ReplyEncoder(head).status(status, at)
}

/** rejected: why the document was refused (code, description, details). */
export function encodeRejected(head: ReplyHead, code: string, description: string, details: string, at?: Date): string {
  return new ReplyEncoder(head).rejected(code, description, details, at)
}

/** progress: total, completed, details; gofer sends no timestamp on progress. */
export function encodeProgress(head: ReplyHead, total: number, completed: number, details: unknown): string {
  return new ReplyEncoder(head).progress(total, completed, details)
}

/** The final reply: result {retval} or result {exval, xmodule, xclass, xstate, xargs}. */
export function encodeResult(head: ReplyHead, result: ResultBody, at?: Date): string {
  return new ReplyEncoder(head).result(result, at)
}

/** What decode() found. `document` is null when the body was not a JSON object. */
export interface Decoded {
  document: Document | null
  /** The exact text the signature covers (the wrapped message, or the body itself). */
  original: string
  signature: string | null
  /** Why the body could not be read, when document is null. */
  problem: string | null
}

/**
 * Read a body: UTF-8 JSON object, possibly wrapped as {message: <json text>, signature: <base64>}.
 * Never throws.
 */
export function decode(body: Buffer | string): Decoded {
  const text = typeof body === 'string' ? body : amqpValueString(body) ?? body.toString('utf8')
  const outer = parseObject(text)
  if (!outer.value) return { document: null, original: text, signature: null, problem: outer.problem }
  const message = outer.value.message
  if (typeof message === 'string' && message.length > 0) {
    const inner = parseObject(message)
    const signature = typeof outer.value.signature === 'string' ? Buffer.from(outer.value.signature, 'base64').toString('utf8') : null
    if (!inner.value) return { document: null, original: message, signature, problem: `signed message: ${inner.problem}` }
    return { document: inner.value, original: message, signature, problem: null }
  }
  return { document: outer.value, original: text, signature: null, problem: null }
}

/**
 * The string inside an encoded AMQP 1.0 amqp-value section, or null. Python gofer's proton
 * adapter sends its JSON as an amqp-value string, and RabbitMQ hands such a message to a 0-9-1
 * consumer as the encoded section: 00 53 77, then a1 <len8> or b1 <len32> and the UTF-8 text
 * (docs/adapters.md). Only an exact, complete encoding is unwrapped; JSON never starts with 00.
 */
export function amqpValueString(body: Buffer): string | null {
  if (body.length < 5 || body[0] !== 0x00 || body[1] !== 0x53 || body[2] !== 0x77) return null
  if (body[3] === 0xa1 && body.length === 5 + body[4]!) return body.toString('utf8', 5)
  if (body[3] === 0xb1 && body.length >= 8 && body.length === 8 + body.readUInt32BE(4)) return body.toString('utf8', 8)
  return null
}

function parseObject(text: string): { value: Document | null; problem: string | null } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { value: null, problem: `body is not JSON (${(error as Error).message})` }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { value: null, problem: `body is JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}, not an object` }
  }
  return { value: value as Document, problem: null }
}

/** A field of a tolerant document: missing reads as null. */
export function field(doc: Document, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(doc, name) ? doc[name] : null
}
