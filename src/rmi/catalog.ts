// Collation (reference/gofer.md §4.4): a plugin module's exports become namespaces.
//   - an exported class with @remote methods is a namespace named after the class, constructed
//     per request with the caller's `cntr`;
//   - exported functions marked remote(fn) form the namespace named after the plugin.
// Lookups go through Maps of marked members only, so `constructor`, `__proto__`, `toString` or
// any method that is not @remote can never be reached, whatever a caller sends.
import { remoteOptions, type CallModel } from './decorators.js'
import { parameters, type Param } from './signature.js'

export interface RemoteMember {
  name: string
  fn: Function
  model: CallModel
  params: Param[] | null
}

export interface Namespace {
  name: string
  kind: 'class' | 'module'
  /** The class to construct per request (class namespaces only). */
  cls: (new (...args: unknown[]) => object) | null
  ctorParams: Param[] | null
  members: Map<string, RemoteMember>
  /** The module file that defines it: a fork-model call imports it again in a child process. */
  source?: string | null
}

export type Catalog = Map<string, Namespace>

function remoteMethods(cls: Function): Map<string, RemoteMember> {
  const members = new Map<string, RemoteMember>()
  // Walk the prototype chain so inherited @remote methods are exposed; nearer classes win.
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || members.has(name)) continue
      const descriptor = Object.getOwnPropertyDescriptor(proto, name)
      const fn = descriptor?.value
      const options = remoteOptions(fn)
      if (options) members.set(name, { name, fn, model: options.model, params: parameters(fn) })
    }
  }
  return members
}

function isClass(value: unknown): value is new (...args: unknown[]) => object {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value))
}

/** Build the catalog of a plugin module named `pluginName` from its exports. */
export function collate(pluginName: string, exports: Record<string, unknown>): Catalog {
  const catalog: Catalog = new Map()
  const functions = new Map<string, RemoteMember>()
  for (const exportName of Object.keys(exports).sort()) {
    const value = exports[exportName]
    if (isClass(value)) {
      const members = remoteMethods(value)
      if (members.size === 0) continue
      const name = value.name || exportName
      catalog.set(name, { name, kind: 'class', cls: value, ctorParams: parameters(value), members })
    } else if (typeof value === 'function') {
      const options = remoteOptions(value)
      if (!options) continue
      const name = exportName === 'default' ? value.name || 'default' : exportName
      functions.set(name, { name, fn: value, model: options.model, params: parameters(value) })
    }
  }
  if (functions.size > 0 && !catalog.has(pluginName)) {
    catalog.set(pluginName, { name: pluginName, kind: 'module', cls: null, ctorParams: null, members: functions })
  }
  return catalog
}
