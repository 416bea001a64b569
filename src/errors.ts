// The error catalogue: a few classes, each with a stable string `code` and an optional `cause`.
// docs/errors.md lists them; callers branch on `code` (or instanceof), never on message text.

export type ErrorCode =
  | 'INVALID_URL'
  | 'ADAPTER_NOT_FOUND'
  | 'CONNECTION'
  | 'CONNECTION_CLOSED'
  | 'NOT_FOUND'
  | 'REQUEST_TIMEOUT'
  | 'REMOTE'
  | 'CANCELLED'
  | 'REJECTED'
  | 'INVALID_ARGUMENT'
  | 'DESCRIPTOR'
  | 'PLUGIN'

/** Base of every error gofer raises on purpose. */
export class GoferError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A broker URL that cannot be parsed (reference/gofer.md §3.1). */
export class InvalidUrl extends GoferError {
  constructor(url: string, why: string) {
    super('INVALID_URL', `invalid broker URL "${url}": ${why}`)
  }
}

/** The URL names an adapter prefix nobody registered. */
export class AdapterNotFound extends GoferError {
  constructor(name: string, known: string[]) {
    super('ADAPTER_NOT_FOUND', `messaging adapter "${name}" not found; known: ${known.join(', ')}`)
  }
}

/** The broker cannot be reached, or the connection failed for good. */
export class ConnectionError extends GoferError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONNECTION', message, options)
  }
}

/** The connection (or Agent) was closed while work was pending on it. */
export class ConnectionClosed extends GoferError {
  constructor(message = 'connection closed') {
    super('CONNECTION_CLOSED', message)
  }
}

/** A message could not be routed: the queue or exchange does not exist (mandatory publish). */
export class NotFound extends GoferError {
  readonly address: string
  constructor(address: string, detail?: string) {
    super('NOT_FOUND', `address "${address}" not found${detail ? `: ${detail}` : ''}`)
    this.address = address
  }
}

/** No final reply arrived within the caller's `wait`. Same data as gofer's RequestTimeout(sn, wait). */
export class RequestTimeout extends GoferError {
  readonly sn: string
  readonly wait: number
  constructor(sn: string, waitSeconds: number) {
    super('REQUEST_TIMEOUT', `request ${sn} timed out after ${waitSeconds}s`)
    this.sn = sn
    this.wait = waitSeconds
  }
}

/** What gofer puts in an exception reply's `result`. */
export interface RemoteFailure {
  exval: string
  xmodule: string
  xclass: string
  xstate: Record<string, unknown>
  xargs: unknown[] | null
}

/**
 * The remote method raised. Keeps the remote class name (`xclass`), module, state and stack
 * (`exval`), so callers can tell `KeyError` from `DogBite` without parsing text.
 */
export class RemoteError extends GoferError implements RemoteFailure {
  readonly sn: string | null
  readonly exval: string
  readonly xmodule: string
  readonly xclass: string
  readonly xstate: Record<string, unknown>
  readonly xargs: unknown[] | null
  constructor(failure: RemoteFailure, sn: string | null = null) {
    const args = Array.isArray(failure.xargs) ? failure.xargs : []
    const text = args.length > 0 ? args.map(a => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ') : lastLine(failure.exval)
    super('REMOTE', `${failure.xclass}: ${text}`)
    this.sn = sn
    this.exval = failure.exval
    this.xmodule = failure.xmodule
    this.xclass = failure.xclass
    this.xstate = failure.xstate
    this.xargs = failure.xargs
  }
  /** The remote stack trace (gofer's `exval`). */
  get remoteStack(): string {
    return this.exval
  }
  /** The remote exception's state, less the trace gofer copies into it. */
  get state(): Record<string, unknown> {
    const { trace: _trace, ...rest } = this.xstate
    return rest
  }
}

/**
 * The request was cancelled (Admin.cancel) before it could answer: the agent's final reply is
 * an exception of class `Cancelled` from `gofer.rmi.tracker`. A RemoteError, so code catching
 * RemoteError still sees it; branch on `code === 'CANCELLED'` or instanceof Cancelled.
 */
export class Cancelled extends RemoteError {
  override readonly code: ErrorCode = 'CANCELLED'
}

function lastLine(text: string): string {
  const lines = String(text ?? '').trim().split('\n')
  return lines[lines.length - 1] ?? ''
}

/** The agent refused the request document (gofer's `rejected` status). */
export class Rejected extends GoferError {
  readonly sn: string | null
  readonly rejection: string
  readonly description: string
  readonly details: unknown
  constructor(code: string, description: string, details: unknown, sn: string | null = null) {
    super('REJECTED', `${description} : ${typeof details === 'string' ? details : JSON.stringify(details)}`)
    this.rejection = code
    this.description = description
    this.details = details
    this.sn = sn
  }
}

/** A caller passed a bad option or argument (bad `wait`, unknown target, ...). */
export class InvalidArgument extends GoferError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message)
  }
}

/** A plugin descriptor is invalid; names the file, section and key. */
export class DescriptorError extends GoferError {
  readonly file: string
  readonly section: string | null
  readonly key: string | null
  constructor(file: string, section: string | null, key: string | null, why: string) {
    const where = section ? (key ? `[${section}] ${key}` : `[${section}]`) : ''
    super('DESCRIPTOR', `${file}${where ? `: ${where}` : ''}: ${why}`)
    this.file = file
    this.section = section
    this.key = key
  }
}

/** A plugin module could not be found, imported or activated. */
export class PluginError extends GoferError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PLUGIN', message, options)
  }
}
