// External agents as RMI namespaces: agent `parrot` is the namespace `parrot`, with one member per
// DDL action. A member takes its inputs as keyword arguments (`gofer rmi -t parrot.echo
// message=hello`) or as one object (`agent.stub('parrot').echo({message: 'hello'})`).
import { ArgumentError } from '../../rmi/arguments.js'
import type { Catalog, Namespace, RemoteMember } from '../../rmi/catalog.js'
import { Context } from '../../rmi/context.js'
import type { Param } from '../../rmi/signature.js'
import type { ExternalAgent } from './agent.js'
import type { ExternalAgents } from './discover.js'

/** A namespace served by an external agent (report.ts tells them apart by this field). */
export interface ExternalNamespace extends Namespace {
  external: ExternalAgent
}

export function isExternal(namespace: Namespace): namespace is ExternalNamespace {
  return (namespace as Partial<ExternalNamespace>).external !== undefined
}

// One destructured parameter: the argument binder then hands keyword arguments over as one
// object, and refuses a call that mixes an object with keywords or passes more than one value.
const INPUTS: Param[] = [{ name: null, text: '{inputs}', optional: true, rest: false }]

function inputsOf(label: string, args: unknown[]): Record<string, unknown> {
  const value = args[0]
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ArgumentError(`${label}() takes its inputs as keyword arguments or one object, not ${Array.isArray(value) ? 'an array' : typeof value}`)
  }
  return value as Record<string, unknown>
}

function member(agent: ExternalAgent, action: string): RemoteMember {
  const label = `${agent.name}.${action}`
  return {
    name: action,
    fn: (...args: unknown[]) => {
      const context = Context.current()
      return agent.call(action, inputsOf(label, args), { sn: context.sn, onCancel: listener => context.onCancel(listener) })
    },
    model: 'direct',
    params: INPUTS,
  }
}

/**
 * The actions of an agent. A name the DDL does not declare still resolves, to a member that
 * answers Choria's UnknownRPCAction (statuscode 2) without running anything, instead of gofer's
 * generic MemberNotFound; iteration (help, reports) sees the declared actions only.
 */
class Actions extends Map<string, RemoteMember> {
  constructor(private readonly agent: ExternalAgent) {
    super([...agent.ddl.actions.keys()].map(action => [action, member(agent, action)]))
  }

  override get(key: string): RemoteMember | undefined {
    return super.get(key) ?? member(this.agent, key)
  }
}

export function externalNamespace(agent: ExternalAgent): ExternalNamespace {
  return { name: agent.name, kind: 'module', cls: null, ctorParams: null, members: new Actions(agent), external: agent }
}

/** Add the active agents to `catalog` (the names were checked free at discovery). */
export function addToCatalog(catalog: Catalog, agents: ExternalAgents): void {
  for (const agent of agents.active) catalog.set(agent.name, externalNamespace(agent))
}
