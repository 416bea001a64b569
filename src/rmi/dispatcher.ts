// Dispatch (reference/gofer.md §4.9): find the namespace and member, construct the class with
// the caller's `cntr`, bind arguments, invoke inside the call's Context, await the result.
// Every failure becomes gofer's exception result; nothing here throws to the caller.
import { bindArguments } from './arguments.js'
import type { Catalog, Namespace, RemoteMember } from './catalog.js'
import { Context } from './context.js'
import type { CallModel } from './decorators.js'
import type { ResultBody } from './envelope.js'
import { failureOf, MemberNotFound, NamespaceNotFound } from './failure.js'
import { isThenable } from './thenable.js'
import type { ValidRequest } from './validate.js'

export interface Target {
  namespace: Namespace
  member: RemoteMember
  /** The plugin whose code runs (xmodule of its exceptions). */
  module: string
}

/** Runs a call of a model other than `direct`; the agent registers `fork` (agent/fork/call.ts). */
export type ModelRunner = (target: Target, request: ValidRequest, context: Context) => Promise<unknown>

const models = new Map<CallModel, ModelRunner>()

/** Install the runner of a call model (a process keeps one runner per model). */
export function registerCallModel(model: CallModel, runner: ModelRunner): void {
  models.set(model, runner)
}

/** Thrown by a model runner that already holds gofer's exception result (a child's raise). */
export class RaisedResult extends Error {
  constructor(readonly result: Extract<ResultBody, { exval: string }>) {
    super(result.xclass)
  }
}

/** Resolves a classname/method to a remote member of one of several catalogs (first wins). */
export class Dispatcher {
  constructor(private readonly sources: Array<{ module: string; catalog: Catalog }>) {}

  /** Whether any catalog provides `classname`. */
  provides(classname: string): boolean {
    return this.sources.some(s => s.catalog.has(classname))
  }

  /** The target of a request; throws NamespaceNotFound / MemberNotFound. */
  find(classname: string, method: string): Target {
    for (const { module, catalog } of this.sources) {
      const namespace = catalog.get(classname)
      if (!namespace) continue
      const member = namespace.members.get(method)
      if (!member) throw new MemberNotFound(classname, method)
      return { namespace, member, module }
    }
    throw new NamespaceNotFound(classname)
  }

  /**
   * Run the request in `context`: gofer's result body (retval or exception), never a throw or a
   * rejection. A method that returns at once is answered at once (no promise), so the agent can
   * send started and the result in one go; an async one gives a promise of the body.
   */
  dispatch(request: ValidRequest, context: Context): ResultBody | Promise<ResultBody> {
    let module = this.sources[0]?.module ?? 'gofer'
    try {
      const target = this.find(request.classname, request.method)
      module = target.module
      const value = Context.run(context, () => run(target, request, context))
      if (!isThenable(value)) return success(value)
      return Promise.resolve(value).then(success, thrown => failure(thrown, module))
    } catch (thrown) {
      return failure(thrown, module)
    }
  }
}

function success(value: unknown): ResultBody {
  return { retval: value === undefined ? null : value }
}

function failure(thrown: unknown, module: string): ResultBody {
  if (thrown instanceof RaisedResult) return thrown.result
  return failureOf(thrown, module)
}

/** The method's return value: a promise for async code, else the value itself (not wrapped, see Context.run). */
function run(target: Target, request: ValidRequest, context: Context): unknown {
  const model = target.member.model
  if (model === 'direct') return invoke(target, request)
  const runner = models.get(model)
  // Never run a call in the daemon when it asked for isolation.
  if (!runner) throw new Error(`${target.namespace.name}.${target.member.name}: call model "${model}" is not available in this process`)
  return runner(target, request, context)
}

function invoke({ namespace, member }: Target, request: ValidRequest): unknown {
  const label = namespace.kind === 'class' ? `${namespace.name}.${member.name}` : member.name
  const args = bindArguments(label, member.params, request.args, request.kws)
  if (namespace.kind === 'module' || !namespace.cls) return member.fn(...args)
  const cntr = request.cntr ?? { args: [], kws: {} }
  const ctorArgs = bindArguments(namespace.name, namespace.ctorParams, cntr.args, cntr.kws)
  const instance = new namespace.cls(...ctorArgs)
  return member.fn.apply(instance, args)
}
