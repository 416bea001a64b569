// Dispatch (reference/gofer.md §4.9): find the namespace and member, construct the class with
// the caller's `cntr`, bind arguments, invoke inside the call's Context, await the result.
// Every failure becomes gofer's exception result; nothing here throws to the caller.
import { bindArguments } from './arguments.js'
import type { Catalog, Namespace, RemoteMember } from './catalog.js'
import { Context } from './context.js'
import type { ResultBody } from './envelope.js'
import { failureOf, MemberNotFound, NamespaceNotFound } from './failure.js'
import type { ValidRequest } from './validate.js'

export interface Target {
  namespace: Namespace
  member: RemoteMember
  /** The plugin whose code runs (xmodule of its exceptions). */
  module: string
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

  /** Run the request in `context`; resolves with gofer's result body (retval or exception). */
  async dispatch(request: ValidRequest, context: Context): Promise<ResultBody> {
    let module = this.sources[0]?.module ?? 'gofer'
    try {
      const target = this.find(request.classname, request.method)
      module = target.module
      const retval = await Context.run(context, () => invoke(target, request))
      return { retval: retval === undefined ? null : retval }
    } catch (thrown) {
      return failureOf(thrown, module)
    }
  }
}

async function invoke({ namespace, member }: Target, request: ValidRequest): Promise<unknown> {
  const label = namespace.kind === 'class' ? `${namespace.name}.${member.name}` : member.name
  const args = bindArguments(label, member.params, request.args, request.kws)
  if (namespace.kind === 'module' || !namespace.cls) return await member.fn(...args)
  const cntr = request.cntr ?? { args: [], kws: {} }
  const ctorArgs = bindArguments(namespace.name, namespace.ctorParams, cntr.args, cntr.kws)
  const instance = new namespace.cls(...ctorArgs)
  return await member.fn.apply(instance, args)
}
