// Reading replies (reference/gofer.md §7.4, §7.6): a reply document becomes one typed object,
// the same for synchronous calls and for ReplyConsumer listeners.
import { Cancelled, RemoteError, type RemoteFailure } from '../errors.js'
import { VERSION, field, type Document } from './envelope.js'

interface Common {
  sn: string
  /** routing[0]: gofer never fills it, so in practice null. */
  origin: unknown
  timestamp: string | null
  data: unknown
}

export type Reply =
  | (Common & { kind: 'accepted' })
  | (Common & { kind: 'started' })
  | (Common & { kind: 'rejected'; code: string; description: string; details: unknown })
  | (Common & { kind: 'progress'; total: number; completed: number; details: unknown })
  | (Common & { kind: 'succeeded'; retval: unknown })
  | (Common & { kind: 'failed'; error: RemoteError })

/** The typed reply, or a string saying why the document is not a reply we can use. */
export function readReply(doc: Document): Reply | string {
  if (field(doc, 'version') !== VERSION) return `version ${JSON.stringify(field(doc, 'version'))} is not ${VERSION}`
  const sn = field(doc, 'sn')
  if (typeof sn !== 'string') return 'reply has no sn'
  const routing = field(doc, 'routing')
  const common: Common = {
    sn,
    origin: Array.isArray(routing) ? routing[0] ?? null : null,
    timestamp: typeof field(doc, 'timestamp') === 'string' ? (field(doc, 'timestamp') as string) : null,
    data: field(doc, 'data') ?? null,
  }
  const status = field(doc, 'status')
  switch (status) {
    case 'accepted':
    case 'started':
      return { ...common, kind: status }
    case 'rejected':
      return {
        ...common, kind: 'rejected',
        code: String(field(doc, 'code') ?? ''), description: String(field(doc, 'description') ?? ''), details: field(doc, 'details'),
      }
    case 'progress':
      return {
        ...common, kind: 'progress',
        total: Number(field(doc, 'total') ?? 0), completed: Number(field(doc, 'completed') ?? 0), details: field(doc, 'details') ?? {},
      }
  }
  // gofer: any other (or no) status is the final reply.
  const result = field(doc, 'result')
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) {
    const r = result as Record<string, unknown>
    if (Object.prototype.hasOwnProperty.call(r, 'retval')) return { ...common, kind: 'succeeded', retval: r.retval }
    if (Object.prototype.hasOwnProperty.call(r, 'exval')) return { ...common, kind: 'failed', error: remoteError(r, sn) }
  }
  return 'reply has neither a known status nor a result'
}

function remoteError(r: Record<string, unknown>, sn: string): RemoteError {
  const xstate = r.xstate !== null && typeof r.xstate === 'object' && !Array.isArray(r.xstate) ? (r.xstate as Record<string, unknown>) : {}
  const failure: RemoteFailure = {
    exval: typeof r.exval === 'string' ? r.exval : String(r.exval ?? ''),
    xmodule: typeof r.xmodule === 'string' ? r.xmodule : String(r.xmodule ?? ''),
    xclass: typeof r.xclass === 'string' ? r.xclass : 'Exception',
    xstate,
    xargs: Array.isArray(r.xargs) ? r.xargs : null,
  }
  // Our agent's answer to a cancelled request (agent/request-handler.ts): a typed error here.
  if (failure.xclass === 'Cancelled' && failure.xmodule === 'gofer.rmi.tracker') return new Cancelled(failure, sn)
  return new RemoteError(failure, sn)
}
