// The messages between goferd and a fork-model child (reference/gofer.md §4.15 has gofer's pipe
// framing; ours ride Node's IPC channel, JSON-serialised). One call per child:
//   parent -> child  CALL      what to import and run
//   child -> parent  PROGRESS  Context.current().progress.report() in the child
//   child -> parent  RESULT    gofer's result body ({retval} or {exval, ...}) as JSON text, so the
//                              parent receives exactly what the reply will carry
import type { ValidRequest } from '../../rmi/validate.js'

export interface CallMessage {
  kind: 'call'
  /** The plugin module file, imported through goferd's loader hooks (TypeScript included). */
  file: string
  /** The plugin's name (collation names module functions after it; xmodule of its errors). */
  plugin: string
  /** The validated request: classname, method, args, kws, cntr, sn, data. */
  request: ValidRequest
}

export interface ProgressMessage {
  kind: 'progress'
  total: number
  completed: number
  details: unknown
}

export interface ResultMessage {
  kind: 'result'
  /** dumps() of the result body: always JSON, a non-serialisable return already mapped to TypeError. */
  body: string
}

export type ChildMessage = ProgressMessage | ResultMessage

export function isChildMessage(value: unknown): value is ChildMessage {
  if (value === null || typeof value !== 'object') return false
  const kind = (value as { kind?: unknown }).kind
  return kind === 'progress' || (kind === 'result' && typeof (value as { body?: unknown }).body === 'string')
}
