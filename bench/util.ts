// Small helpers shared by the benchmark: statistics, deadlines, broker URL handling.
import { connect } from 'node:net'

export interface Summary {
  /** Calls measured. */
  calls: number
  /** Median latency, ms (sequential runs only). */
  p50: number | null
  /** 99th percentile latency, ms (sequential runs only). */
  p99: number | null
  /** Completed calls per second over the whole measured run. */
  rate: number
  /** Wall time of the measured run, ms. */
  elapsedMs: number
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** Latency samples (ms) of a sequential run plus its wall time. */
export function summarizeLatencies(samples: Float64Array, elapsedMs: number): Summary {
  const sorted = Float64Array.from(samples).sort()
  return { calls: samples.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), rate: samples.length / (elapsedMs / 1000), elapsedMs }
}

/** A throughput-only run: `calls` completed in `elapsedMs`. */
export function summarizeThroughput(calls: number, elapsedMs: number): Summary {
  return { calls, p50: null, p99: null, rate: calls / (elapsedMs / 1000), elapsedMs }
}

export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no result within ${(ms / 1000).toFixed(1)} s`)
    this.name = 'DeadlineExceeded'
  }
}

/** `promise`, or a DeadlineExceeded rejection after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/** A positive integer from the environment, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${text}"`)
  return value
}

/** The plain amqp:// URL for amqplib (gofer accepts an adapter prefix such as `amqp-0-9-1+amqp://`). */
export function amqplibUrl(url: string): string {
  return url.replace(/^[\w.-]+\+(?=amqps?:\/\/)/, '')
}

/** The URL without its credentials, for printing. */
export function displayUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//')
}

/** True when a TCP connection to the broker's host:port opens within `ms`. */
export function reachable(url: string, ms = 2000): Promise<boolean> {
  let host = '127.0.0.1'
  let port = 5672
  try {
    const parsed = new URL(amqplibUrl(url).replace(/^amqps?:/, 'http:'))
    host = parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost'
    port = Number(parsed.port) || (url.startsWith('amqps') ? 5671 : 5672)
  } catch {
    // Let amqplib report the malformed URL.
  }
  return new Promise(resolve => {
    const socket = connect({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(ms, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** A ~64-byte JSON-able payload (the same object for every call of a run). */
export function payload(): { id: number; kind: string; text: string } {
  // JSON.stringify of this is exactly 64 bytes.
  const base = { id: 12345, kind: 'bench', text: '' }
  const filler = 64 - JSON.stringify(base).length
  return { ...base, text: 'x'.repeat(Math.max(0, filler)) }
}

/** The TCP port of a broker URL (5672, or 5671 for amqps, when none is given). */
export function brokerPort(url: string): number {
  try {
    return Number(new URL(amqplibUrl(url).replace(/^amqps?:/, 'http:')).port) || (amqplibUrl(url).startsWith('amqps') ? 5671 : 5672)
  } catch {
    return 5672
  }
}
