// gofer's time units (reference/gofer.md §7.1): a number of seconds, or a string of digits with
// an optional suffix s, m, h or d ("30", "30s", "5m", "1h", "2d").
import { InvalidArgument } from '../errors.js'

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }

/** Seconds for a gofer duration; throws InvalidArgument naming the option. */
export function seconds(option: string, value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidArgument(`${option} must be a non-negative number of seconds, got ${value}`)
    return value
  }
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(value)
    if (match) return Number(match[1]) * UNITS[match[2]!.toLowerCase()]!
    throw new InvalidArgument(`${option} must be a number with an optional unit s, m, h or d (e.g. "30s", "5m"), got "${value}"`)
  }
  throw new InvalidArgument(`${option} must be a number or a string like "30s", got ${value === null ? 'null' : typeof value}`)
}
