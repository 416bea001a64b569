// Choria's status codes (reference/choria-external.md §3) and the error a call raises when an
// external agent's reply is not OK. The error's own fields (statuscode, statusmsg, data, ...)
// become the exception reply's xstate, so a caller reads them without parsing text.

/** The protocol names written into requests and the environment (§2.1). */
export const RPC_PROTOCOL = 'io.choria.mcorpc.external.v1.rpc_request'
export const ACTIVATION_PROTOCOL = 'io.choria.mcorpc.external.v1.activation_request'
export const RPC_SCHEMA = 'https://choria.io/schemas/mcorpc/external/v1/rpc_request.json'
export const ACTIVATION_SCHEMA = 'https://choria.io/schemas/mcorpc/external/v1/activation_request.json'

/** Status names by code, as Choria's Ruby and Python exception classes call them. */
export const STATUS_NAMES = ['OK', 'RPCAborted', 'UnknownRPCAction', 'MissingRPCData', 'InvalidRPCData', 'UnknownRPCError'] as const
export type StatusName = (typeof STATUS_NAMES)[number]

export const OK = 0
export const ABORTED = 1
export const UNKNOWN_ACTION = 2

/** The name of a status code; codes 6-255 (which Choria lets through) count as UnknownRPCError. */
export function statusName(code: number): StatusName {
  return STATUS_NAMES[code] ?? 'UnknownRPCError'
}

/**
 * A reply with a non-zero statuscode, raised to the RMI caller. Reported under the module of
 * py-choria-external's exception classes, whose names these are, so a Python gofer caller that
 * has that library can re-raise the class natively.
 */
export class ExternalAgentError extends Error {
  readonly xmodule = 'choria_external.exceptions'
  readonly statuscode: number
  readonly statusmsg: string
  readonly data: Record<string, unknown>
  readonly agent: string
  readonly action: string
  /** `message` defaults to statusmsg; statusmsg itself always stays exactly what Choria says. */
  constructor(agent: string, action: string, statuscode: number, statusmsg: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}, message?: string) {
    super(message ?? (statusmsg || statusName(statuscode)))
    this.name = statusName(statuscode)
    this.agent = agent
    this.action = action
    this.statuscode = statuscode
    this.statusmsg = statusmsg
    this.data = data
    // Extra detail (the input and rule of a validation failure, timeouts) rides along in xstate.
    Object.assign(this, extra)
  }
}
