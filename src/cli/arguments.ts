// `gofer rmi` positional arguments (reference/gofer.md §6.3): `name=value` is a keyword argument,
// anything else positional. Values become numbers when they look like numbers (as gofer does for
// integers) and JSON values when they parse as JSON objects, arrays, strings, true/false/null;
// everything else stays a string.
import { InvalidArgument } from '../errors.js'

export function convert(text: string): unknown {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : text
  }
  if (/^-?\d+\.\d+([eE][-+]?\d+)?$/.test(text)) return Number(text)
  if (/^[[{"]/.test(text) || text === 'true' || text === 'false' || text === 'null') {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

export function splitArguments(words: string[]): { args: unknown[]; kws: Record<string, unknown> } {
  const args: unknown[] = []
  const kws: Record<string, unknown> = {}
  for (const word of words) {
    const match = /^([A-Za-z_$][\w$]*)=([\s\S]*)$/.exec(word)
    if (match) Object.defineProperty(kws, match[1]!, { value: convert(match[2]!), enumerable: true, writable: true, configurable: true })
    else args.push(convert(word))
  }
  return { args, kws }
}

/** `-i '[[args], {kwargs}]'` */
export function parseInput(text: string): { args: unknown[]; kws: Record<string, unknown> } {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new InvalidArgument('Input must be valid json: [[], {}]')
  }
  if (!Array.isArray(value) || value.length !== 2 || !Array.isArray(value[0]) || value[1] === null || typeof value[1] !== 'object' || Array.isArray(value[1])) {
    throw new InvalidArgument('Input must be valid json: [[], {}]')
  }
  return { args: value[0], kws: value[1] as Record<string, unknown> }
}

/** `-t Class.method` split at the first dot. */
export function parseTarget(text: string | undefined): { classname: string; method: string } {
  if (!text) throw new InvalidArgument('Target must be specified')
  const dot = text.indexOf('.')
  if (dot <= 0 || dot === text.length - 1) throw new InvalidArgument('Target must be: <class>.<method>')
  return { classname: text.slice(0, dot), method: text.slice(dot + 1) }
}
