// Running an external agent executable once, the way choria-server does (reference/
// choria-external.md §1): three 0600 temp files (request, empty reply, facts) in the OS temp
// directory, argv `<request> <reply> io.choria.mcorpc.external.v1.rpc_request` (the rpc protocol
// even for activation: Choria's quirk, agents read CHORIA_EXTERNAL_PROTOCOL), cwd = the temp
// directory, an environment of only the CHORIA_EXTERNAL_* variables, PATH and an explicit
// allow-list, stdout logged at info and stderr at error line by line, temp files deleted after.
// Unlike Choria, the process is started in its own process group and the whole group is killed
// on timeout, so grandchildren do not outlive the call.
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Logger } from '../../log.js'
import { RPC_PROTOCOL } from './status.js'

export interface RunSpec {
  executable: string
  agent: string
  /** The action, or null for an activation check (for the log). */
  action: string | null
  /** CHORIA_EXTERNAL_PROTOCOL: the rpc or activation request protocol. */
  protocol: string
  /** The request document written to the request file. */
  request: unknown
  timeoutMs: number
  /** CHORIA_EXTERNAL_CONFIG. */
  configPath: string
  /** The facts file's contents (JSON text). */
  facts: string
  /** Names of goferd's environment variables passed through besides PATH. */
  allowEnv: string[]
  log: Logger
  /** Registers a listener for the call's cancellation (Context.onCancel); returns its remover. */
  onCancel?: (listener: () => void) => () => void
}

export interface RunResult {
  /** Exit code, or null when killed by a signal or never started. */
  code: number | null
  signal: NodeJS.Signals | null
  /** Killed because it ran past `timeoutMs`. */
  timedOut: boolean
  /** Killed because the call was cancelled. */
  cancelled: boolean
  /** The process could not be started (missing, not executable). */
  spawnError: Error | null
  /** The reply file's contents, read after a clean exit ('' otherwise). */
  reply: string
}

/** How long to wait for the pipes to close after the group was killed. */
const KILL_GRACE_MS = 2_000

/** A file like Go's os.CreateTemp("", prefix): `<tmp>/<prefix><digits>`, mode 0600, exclusive. */
async function tempFile(prefix: string, content: string): Promise<string> {
  for (;;) {
    const path = join(tmpdir(), `${prefix}${randomInt(1e9)}`)
    try {
      const handle = await open(path, 'wx', 0o600)
      try {
        await handle.writeFile(content)
      } finally {
        await handle.close()
      }
      return path
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/** The child's environment: only what the protocol sets, PATH, and the allow-list. */
export function childEnv(files: { request: string; reply: string; facts: string }, spec: RunSpec): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of spec.allowEnv) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  Object.assign(env, {
    CHORIA_EXTERNAL_REQUEST: files.request,
    CHORIA_EXTERNAL_REPLY: files.reply,
    CHORIA_EXTERNAL_PROTOCOL: spec.protocol,
    CHORIA_EXTERNAL_CONFIG: spec.configPath,
    CHORIA_EXTERNAL_FACTS: files.facts,
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  })
  return env
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

// Agents run in their own process groups, so nothing else ends them if goferd exits mid-call
// (a drain deadline passed, a second SIGTERM): goferd kills the groups still running on its way out.
const running = new Set<number>()
process.on('exit', () => {
  for (const pid of running) killGroup(pid)
})

/** Run the executable once; never throws for anything the agent does. */
export async function runExternal(spec: RunSpec): Promise<RunResult> {
  const created: string[] = []
  try {
    const request = await tempFile('request', JSON.stringify(spec.request))
    created.push(request)
    const reply = await tempFile('reply', '')
    created.push(reply)
    const facts = await tempFile('facts', spec.facts)
    created.push(facts)
    const outcome = await execute(spec, { request, reply, facts })
    if (outcome.code === 0 && !outcome.timedOut && !outcome.cancelled) outcome.reply = await readFile(reply, 'utf8').catch(() => '')
    return outcome
  } finally {
    await Promise.all(created.map(path => rm(path, { force: true })))
  }
}

function execute(spec: RunSpec, files: { request: string; reply: string; facts: string }): Promise<RunResult> {
  const log = spec.log.child({ agent: spec.agent, action: spec.action ?? '(activation)' })
  return new Promise(resolve => {
    const result: RunResult = { code: null, signal: null, timedOut: false, cancelled: false, spawnError: null, reply: '' }
    let settled = false
    let grace: NodeJS.Timeout | undefined
    let forgetCancel = (): void => undefined
    const finish = () => {
      if (settled) return
      settled = true
      forgetCancel()
      if (child.pid !== undefined) running.delete(child.pid)
      clearTimeout(timer)
      clearTimeout(grace)
      resolve(result)
    }
    const child = spawn(spec.executable, [files.request, files.reply, RPC_PROTOCOL], {
      cwd: tmpdir(),
      env: childEnv(files, spec),
      // Its own process group, so a timeout can kill everything it started.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (child.pid !== undefined) running.add(child.pid)
    const kill = () => {
      if (grace) return
      killGroup(child.pid)
      // Something outside the group may still hold the pipes: do not wait for it forever.
      grace = setTimeout(() => {
        child.stdout?.destroy()
        child.stderr?.destroy()
        finish()
      }, KILL_GRACE_MS)
    }
    const timer = setTimeout(() => {
      result.timedOut = true
      kill()
    }, spec.timeoutMs)
    if (spec.onCancel) {
      forgetCancel = spec.onCancel(() => {
        result.cancelled = true
        kill()
      })
    }
    // Read both streams to the end so the child never blocks on a full pipe; never used as data.
    createInterface({ input: child.stdout! }).on('line', line => log.info({ stream: 'stdout' }, line))
    createInterface({ input: child.stderr! }).on('line', line => log.error({ stream: 'stderr' }, line))
    child.on('error', error => {
      result.spawnError = error
      finish()
    })
    child.on('exit', (code, signal) => {
      result.code = code
      result.signal = signal
    })
    // 'close': exited and both pipes closed, as Choria waits for.
    child.on('close', finish)
  })
}
