// Finding the functions and methods a plugin marked with @action, @load or @unload among its
// module's exports. Names follow the RMI targets: `Class.method` for methods, `<plugin>.<fn>`
// for module functions. An instance method is called on one instance of its class, built with no
// arguments the first time it is needed and kept for the plugin's lifetime (so an action can keep
// state between runs); a static method is called on the class.
import { parameters, signature, type Param } from '../rmi/signature.js'

export interface Marked {
  /** `Class.method` or `<plugin>.<function>`. */
  name: string
  fn: Function
  params: Param[] | null
  /** Call it (the instance, if any, is built on the first call). */
  call: (...args: unknown[]) => unknown
}

function isClass(value: unknown): value is new () => object {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value))
}

/** Every exported function and class member for which `test(fn)` holds, sorted by name. */
export function findMarked(pluginName: string, exports: Record<string, unknown>, test: (fn: unknown) => boolean): Marked[] {
  const found: Marked[] = []
  const seen = new Set<Function>()
  for (const exportName of Object.keys(exports).sort()) {
    const value = exports[exportName]
    if (isClass(value)) {
      const cls = value
      const className = cls.name || exportName
      let instance: object | null = null
      const self = (): object => (instance ??= new cls())
      for (const name of Object.getOwnPropertyNames(cls)) {
        const fn = Object.getOwnPropertyDescriptor(cls, name)?.value
        if (typeof fn !== 'function' || !test(fn) || seen.has(fn)) continue
        seen.add(fn)
        found.push({ name: `${className}.${name}`, fn, params: parameters(fn), call: (...args) => fn.apply(cls, args) })
      }
      for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
        for (const name of Object.getOwnPropertyNames(proto)) {
          if (name === 'constructor') continue
          const fn = Object.getOwnPropertyDescriptor(proto, name)?.value
          if (typeof fn !== 'function' || !test(fn) || seen.has(fn)) continue
          seen.add(fn)
          found.push({ name: `${className}.${name}`, fn, params: parameters(fn), call: (...args) => fn.apply(self(), args) })
        }
      }
    } else if (typeof value === 'function' && test(value) && !seen.has(value)) {
      seen.add(value)
      const name = exportName === 'default' ? value.name || 'default' : exportName
      found.push({ name: `${pluginName}.${name}`, fn: value, params: parameters(value), call: (...args) => value(...args) })
    }
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** `Class.method(a, b)` for reports and logs. */
export function describe(marked: Marked): string {
  return signature(marked.name, marked.params)
}
