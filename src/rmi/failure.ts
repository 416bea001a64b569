// Turning whatever plugin code threw into gofer's exception result
// {exval, xmodule, xclass, xstate, xargs} (reference/gofer.md §1.5, §12), so that a Python caller
// re-raises builtins it knows (TypeError, ValueError, ...) and gofer's dispatch errors, and our
// caller rebuilds a RemoteError that keeps the remote class name.
import { dumps } from './json.js'
import type { ResultBody } from './envelope.js'

export const DISPATCHER_MODULE = 'gofer.rmi.dispatcher'

/**
 * Raised by the agent itself: gofer's dispatch errors keep gofer's module and names. Any error
 * with an `xmodule` field is reported under that module (argument errors say `builtins`).
 */
export class DispatchError extends Error {
  readonly xmodule = DISPATCHER_MODULE
}

/** `"<classname>" not provided by plugin.` */
export class NamespaceNotFound extends DispatchError {
  constructor(classname: string) {
    super(`"${classname}" not provided by plugin.`)
    this.name = 'NamespaceNotFound'
  }
}

/** `"<classname>.<method>()" not provided by plugin.` (also for methods that are not @remote). */
export class MemberNotFound extends DispatchError {
  constructor(classname: string, method: string) {
    super(`"${classname}.${method}()" not provided by plugin.`)
    this.name = 'MemberNotFound'
  }
}

/** JavaScript's builtin errors, named as the Python builtins a Python caller re-raises natively. */
const PYTHON_BUILTINS: Record<string, string> = {
  Error: 'Exception',
  TypeError: 'TypeError',
  RangeError: 'ValueError',
  SyntaxError: 'SyntaxError',
  ReferenceError: 'NameError',
  EvalError: 'Exception',
  URIError: 'ValueError',
  AggregateError: 'Exception',
}

// Fields every error has, or that say where it belongs: not part of its state.
const OWN_SKIP = new Set(['stack', 'message', 'name', 'cause', 'xmodule'])

/** The exception result for `thrown`; `module` is the plugin's name (gofer uses the Python module). */
export function failureOf(thrown: unknown, module: string): Extract<ResultBody, { exval: string }> {
  const error = thrown instanceof Error ? thrown : new Error(describeThrown(thrown))
  const ctorName = error.constructor?.name ?? 'Error'
  const name = typeof error.name === 'string' && error.name !== 'Error' ? error.name : ctorName
  let xmodule = module
  let xclass = name
  const own = (error as { xmodule?: unknown }).xmodule
  if (typeof own === 'string') xmodule = own
  else if (Object.prototype.hasOwnProperty.call(PYTHON_BUILTINS, name) && isBuiltinError(error)) {
    xmodule = 'builtins'
    xclass = PYTHON_BUILTINS[name]!
  }
  const exval = traceText(error, xclass)
  const xstate: Record<string, unknown> = {}
  for (const key of Object.keys(error)) {
    if (OWN_SKIP.has(key)) continue
    const value = (error as unknown as Record<string, unknown>)[key]
    xstate[key] = jsonSafe(value)
  }
  xstate.trace = exval
  return { exval, xargs: [error.message], xclass, xmodule, xstate }
}

function isBuiltinError(error: Error): boolean {
  const proto = Object.getPrototypeOf(error)
  return proto === Error.prototype || proto === TypeError.prototype || proto === RangeError.prototype ||
    proto === SyntaxError.prototype || proto === ReferenceError.prototype || proto === EvalError.prototype ||
    proto === URIError.prototype || (typeof AggregateError === 'function' && proto === AggregateError.prototype)
}

/** A traceback-like text: the JS stack, ending (as Python's does) with `Class: message`. */
function traceText(error: Error, xclass: string): string {
  const frames = typeof error.stack === 'string' ? error.stack.split('\n').filter(line => /^\s+at /.test(line)) : []
  return `Traceback (most recent call last):\n${frames.map(f => `  ${f.trim()}\n`).join('')}${xclass}: ${error.message}\n`
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown
  try {
    return dumps(thrown)
  } catch {
    return String(thrown)
  }
}

/** A value that survives JSON, or its string form (xstate must always serialise). */
function jsonSafe(value: unknown): unknown {
  try {
    dumps(value)
    return value
  } catch {
    return String(value)
  }
}
