// Binding a gofer call's positional `args` and keyword `kws` to a JavaScript parameter list, with
// Python's rules and error texts (so a Python caller re-raises a TypeError it understands):
//   - a keyword naming a parameter fills that position;
//   - keywords no parameter names go to a trailing destructured/options parameter, if any;
//   - otherwise missing, duplicate or unexpected arguments are TypeErrors.
import type { Param } from './signature.js'

export class ArgumentError extends TypeError {
  constructor(message: string) {
    super(message)
    this.name = 'TypeError'
  }
  /** Reported as Python's builtins.TypeError, which a Python caller re-raises natively. */
  readonly xmodule = 'builtins'
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** The argument array to call a function with `params` (null = unknown: pass args, kws last). */
export function bindArguments(label: string, params: Param[] | null, args: unknown[], kws: Record<string, unknown>): unknown[] {
  const keys = Object.keys(kws)
  if (params === null) return keys.length > 0 ? [...args, { ...kws }] : [...args]
  const restIndex = params.findIndex(p => p.rest)
  const positional = restIndex >= 0 ? params.slice(0, restIndex) : params
  if (restIndex < 0 && args.length > params.length) {
    throw new ArgumentError(`${label}() takes ${plural(params.length, 'positional argument')} but ${args.length} were given`)
  }
  const bound: unknown[] = [...args]
  const filled = new Set<number>(args.map((_, i) => i))
  const leftover: Record<string, unknown> = {}
  for (const key of keys) {
    const index = positional.findIndex(p => p.name === key)
    if (index < 0) {
      Object.defineProperty(leftover, key, { value: kws[key], enumerable: true, writable: true, configurable: true })
      continue
    }
    if (filled.has(index)) throw new ArgumentError(`${label}() got multiple values for argument '${key}'`)
    bound[index] = kws[key]
    filled.add(index)
  }
  if (Object.keys(leftover).length > 0) {
    // An options parameter: the last positional one that is a pattern ({...}) or not yet filled.
    const last = positional.length - 1
    const target = last >= 0 && !filled.has(last) && (positional[last]!.name === null || /^(options|opts|kwargs|kws|params)$/.test(positional[last]!.name!))
      ? last
      : -1
    if (target < 0) {
      throw new ArgumentError(`${label}() got an unexpected keyword argument '${Object.keys(leftover)[0]}'`)
    }
    bound[target] = leftover
    filled.add(target)
  }
  const missing = positional
    .map((p, i) => ({ p, i }))
    .filter(({ p, i }) => !p.optional && !filled.has(i))
    .map(({ p }) => `'${p.name ?? p.text}'`)
  if (missing.length > 0) {
    const names = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}`
    throw new ArgumentError(`${label}() missing ${plural(missing.length, 'required positional argument')}: ${names}`)
  }
  return bound
}
