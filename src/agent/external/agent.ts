// One external agent: its DDL and executable, its activation check, and a call of one action
// with Choria's gatekeeping order (reference/choria-external.md §1 "Order of checks"): unknown
// action (2), missing executable (1), DDL input validation (1), run, then the reply overlaid on
// {statuscode 0, "OK", {}} with the DDL's output defaults filled in. A statuscode other than 0
// is raised as ExternalAgentError; a timeout is answered (Choria stays silent) with statuscode 1.
import { randomUUID } from 'node:crypto'
import { statSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../../log.js'
import { CancelledError } from '../../rmi/tracker.js'
import type { ExternalSettings } from './config.js'
import type { ActionSpec, Ddl } from './ddl.js'
import { runExternal, type RunResult } from './runner.js'
import { ABORTED, ACTIVATION_PROTOCOL, ACTIVATION_SCHEMA, ExternalAgentError, RPC_PROTOCOL, RPC_SCHEMA, UNKNOWN_ACTION } from './status.js'
import { applyInputDefaults, InputInvalid, validateInputs } from './validate.js'

/** Choria's hard limit on an activation check (GC `externalActivationCheck`). */
export const ACTIVATION_TIMEOUT_MS = 2_000

/** Who the request says sent it: gofer's envelope names no caller, so a fixed principal. */
export const CALLER_ID = 'gofer=anonymous'

export interface CallOptions {
  /** The gofer request's serial number, used as `requestid`. */
  sn?: string | null
  /** Context.onCancel of the call: a cancel kills the agent's process group. */
  onCancel?: (listener: () => void) => () => void
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** How a process ended, worded as Go's exec.ExitError. */
function exitText(result: RunResult): string {
  return result.signal ? `signal: ${result.signal}` : `exit status ${result.code}`
}

export class ExternalAgent {
  constructor(
    readonly ddl: Ddl,
    readonly executable: string,
    private readonly settings: ExternalSettings,
    private readonly facts: string,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.ddl.name
  }

  private run(action: string | null, protocol: string, request: unknown, timeoutMs: number, onCancel?: CallOptions['onCancel']): Promise<RunResult> {
    return runExternal({
      executable: this.executable,
      agent: this.name,
      action,
      protocol,
      request,
      timeoutMs,
      configPath: join(this.settings.configDir, this.name),
      facts: this.facts,
      allowEnv: this.settings.environment,
      log: this.log,
      onCancel,
    })
  }

  /** Run the activation check: null when the agent activates, else why not. */
  async activate(): Promise<string | null> {
    if (!isFile(this.executable)) return `agent executable ${this.executable} was not found`
    const request = { $schema: ACTIVATION_SCHEMA, protocol: ACTIVATION_PROTOCOL, agent: this.name }
    const result = await this.run(null, ACTIVATION_PROTOCOL, request, ACTIVATION_TIMEOUT_MS)
    if (result.spawnError) return `activation check could not start ${this.executable}: ${result.spawnError.message}`
    if (result.timedOut) return `activation check took longer than ${ACTIVATION_TIMEOUT_MS / 1000} s`
    if (result.code !== 0) return `activation check failed: ${exitText(result)}`
    let reply: unknown
    try {
      reply = JSON.parse(result.reply)
    } catch {
      return 'activation reply is not valid JSON'
    }
    if (!isObject(reply) || typeof reply.activate !== 'boolean') return 'activation reply has no boolean "activate"'
    return reply.activate ? null : 'the agent declined to activate'
  }

  /** Call `action` with `inputs`; resolves with the reply's data, or throws ExternalAgentError. */
  async call(action: string, inputs: Record<string, unknown>, options: CallOptions = {}): Promise<Record<string, unknown>> {
    const label = `${this.name}#${action}`
    const spec = this.ddl.actions.get(action)
    if (!spec) throw new ExternalAgentError(this.name, action, UNKNOWN_ACTION, `Unknown action ${action} for agent ${this.name}`, {})
    const abort = (statusmsg: string, extra: Record<string, unknown> = {}, message?: string): never => {
      throw new ExternalAgentError(this.name, action, ABORTED, statusmsg, {}, extra, message)
    }
    if (!isFile(this.executable)) abort(`Cannot call external agent ${label}: agent executable was not found`)
    // A copy: the caller's object is not ours to change (defaults, process_results).
    const data: Record<string, unknown> = { ...inputs }
    if (this.settings.inputDefaults) applyInputDefaults(spec, data)
    try {
      validateInputs(spec, data)
    } catch (error) {
      if (!(error instanceof InputInvalid)) throw error
      // Choria's text names the input but not always the rule (shellsafe): the message adds it.
      const statusmsg = `Validation failed: ${error.message}`
      abort(statusmsg, { input: error.input, rule: error.rule }, `${statusmsg} [rule: ${error.rule}]`)
    }
    const request = {
      $schema: RPC_SCHEMA,
      protocol: RPC_PROTOCOL,
      agent: this.name,
      action,
      requestid: options.sn ?? randomUUID(),
      senderid: hostname(),
      callerid: CALLER_ID,
      collective: this.settings.collective,
      ttl: 60,
      // Whole seconds: py-choria-external's schema check crashes the agent on a float.
      msgtime: Math.floor(Date.now() / 1000),
      data,
    }
    const result = await this.run(action, RPC_PROTOCOL, request, this.ddl.timeout * 1000, options.onCancel)
    // Answered as every cancelled gofer call is (class Cancelled), whatever the agent managed to do.
    if (result.cancelled) throw new CancelledError(String(request.requestid))
    if (result.spawnError) abort(`Could not call external agent ${label}: executing ${this.name} failed: ${result.spawnError.message}`)
    if (result.timedOut) abort(`Could not call external agent ${label}: timed out after ${this.ddl.timeout} s; its process group was killed`, { timeout: this.ddl.timeout })
    // Choria ignores the reply file of a process that failed, even if it wrote one.
    if (result.code !== 0) abort(`Could not call external agent ${label}: executing ${this.name} failed: ${exitText(result)}`, { exitcode: result.code, signal: result.signal })
    return this.reply(spec, label, result.reply)
  }

  /** Overlay the reply file on Choria's default reply, fill output defaults, raise non-OK. */
  private reply(spec: ActionSpec, label: string, text: string): Record<string, unknown> {
    const abort = (message: string): never => {
      throw new ExternalAgentError(this.name, spec.action, ABORTED, `Could not call external agent ${label}: ${message}`, {})
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return abort(`failed to decode reply json: ${text.trim() === '' ? 'the reply file is empty' : (error as Error).message}`)
    }
    if (!isObject(parsed)) return abort('failed to decode reply json: not an object')
    const statuscode = parsed.statuscode ?? 0
    // Go decodes it as an unsigned 8-bit number: anything else fails to decode.
    if (typeof statuscode !== 'number' || !Number.isInteger(statuscode) || statuscode < 0 || statuscode > 255) {
      return abort(`failed to decode reply json: statuscode ${JSON.stringify(statuscode)} is not an integer from 0 to 255`)
    }
    const statusmsg = parsed.statusmsg ?? 'OK'
    if (typeof statusmsg !== 'string') return abort('failed to decode reply json: statusmsg is not a string')
    // Lenient where Choria is strict: a missing or null `data` is {} (py-mco-agent always sends it).
    const data = parsed.data ?? {}
    if (!isObject(data)) {
      throw new ExternalAgentError(this.name, spec.action, ABORTED, 'Could not set reply defaults: reply data is in the wrong format', {})
    }
    for (const [name, output] of [...spec.output.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!Object.prototype.hasOwnProperty.call(data, name) && output.default !== undefined && output.default !== null) data[name] = output.default
    }
    if (statuscode !== 0) throw new ExternalAgentError(this.name, spec.action, statuscode, statusmsg, data)
    return data
  }
}
