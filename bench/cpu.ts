// CPU time per process over a measured block (Linux /proc; best effort elsewhere): tells where
// the time of a call goes, caller, server (floor responder or goferd) or broker.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every mainstream Linux). */
const TICKS_PER_S = 100

/** utime + stime of `pid` in ms, or null when unavailable. */
export function processCpuMs(pid: number | undefined): number | null {
  if (!pid) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name (which may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S
  } catch {
    return null
  }
}

/** This process's CPU time in ms (µs resolution). */
export function selfCpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Inodes of the sockets listening on TCP `port` (any address, IPv4 and IPv6), from /proc/net. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/)
        // local_address is ADDR:PORT (hex), st 0A is LISTEN, the inode is field 9.
        if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9]!)
      }
    } catch {
      // No such table.
    }
  }
  return inodes
}

/** True when `pid` holds one of the socket `inodes`. */
function holdsSocket(pid: string, inodes: Set<string>): boolean {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m && inodes.has(m[1]!)) return true
      } catch {
        // The fd was closed meanwhile.
      }
    }
  } catch {
    // Not ours to read.
  }
  return false
}

/**
 * The pid of the RabbitMQ node (a beam.smp process) that listens on `port`, or undefined. Several
 * nodes may run on one machine (e.g. a TLS test broker), so when the listener can be identified
 * the node serving the benchmark's port wins; otherwise the first RabbitMQ node found.
 */
export function findBrokerPid(port = 5672): number | undefined {
  const candidates: string[] = []
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'beam.smp') continue
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
        if (cmdline.includes('rabbit')) candidates.push(entry)
      } catch {
        // The process went away, or is not ours to read.
      }
    }
  } catch {
    // No /proc.
  }
  if (candidates.length > 1) {
    const inodes = listeningInodes(port)
    const listener = candidates.find(pid => holdsSocket(pid, inodes))
    if (listener) return Number(listener)
  }
  return candidates.length ? Number(candidates[0]) : undefined
}

/** CPU ms spent by caller, server and broker; accumulated over several blocks. */
export class CpuMeter {
  caller = 0
  server: number | null = 0
  broker: number | null = 0
  constructor(private readonly serverPid: () => number | undefined, private readonly brokerPid: number | undefined) {}

  /** Measure `block` and add its CPU time to the totals. */
  async around<T>(block: () => Promise<T>): Promise<T> {
    const before = this.read()
    const result = await block()
    const after = this.read()
    this.caller += after.caller - before.caller
    this.server = this.server === null || after.server === null || before.server === null ? null : this.server + after.server - before.server
    this.broker = this.broker === null || after.broker === null || before.broker === null ? null : this.broker + after.broker - before.broker
    return result
  }

  private read(): { caller: number; server: number | null; broker: number | null } {
    return { caller: selfCpuMs(), server: processCpuMs(this.serverPid()), broker: processCpuMs(this.brokerPid) }
  }

  /** "caller / server / broker" in µs per call. */
  perCall(calls: number): string {
    const us = (ms: number | null) => (ms === null ? '?' : ((ms * 1000) / calls).toFixed(0))
    return `${us(this.caller)} / ${us(this.server)} / ${us(this.broker)}`
  }
}
