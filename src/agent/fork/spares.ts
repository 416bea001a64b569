// Fork-model children, started one call ahead: starting Node, goferd's loader hooks and the
// plugin's import costs 0.3-0.6 s, so each plugin module keeps one spare child that has already
// imported it and waits for its CALL. Taking it leaves the next one starting in the background.
// A spare is unreferenced (never keeps goferd alive) and dies with goferd (runner.ts watchdog);
// a plugin's stop discards its spares, so a reload never serves a call with the old code.
import { fork, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNNER = join(dirname(fileURLToPath(import.meta.url)), 'runner.js')

const spares = new Map<string, ChildProcess>()

function key(file: string, plugin: string): string {
  return `${plugin}\u0000${file}`
}

function spawnChild(file: string, plugin: string): ChildProcess {
  return fork(RUNNER, [file, plugin], {
    // Its own process group: a cancel or the end of the call kills what it started too.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // No inspector port or profile clashing with goferd's.
    execArgv: process.execArgv.filter(a => !a.startsWith('--inspect') && !a.startsWith('--cpu-prof')),
  })
}

function usable(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.connected
}

function prepare(file: string, plugin: string): void {
  const k = key(file, plugin)
  if (spares.has(k)) return
  const child = spawnChild(file, plugin)
  child.unref()
  ;(child.channel as { unref?: () => void } | undefined)?.unref?.()
  child.on('error', () => undefined)
  child.once('exit', () => {
    if (spares.get(k) === child) spares.delete(k)
  })
  spares.set(k, child)
}

/** A child for one call of `plugin` from `file`: the spare if there is a live one, else a new one. */
export function takeChild(file: string, plugin: string): ChildProcess {
  const k = key(file, plugin)
  const spare = spares.get(k)
  spares.delete(k)
  let child: ChildProcess
  if (spare && usable(spare)) {
    child = spare
    child.ref()
    ;(child.channel as { ref?: () => void } | undefined)?.ref?.()
  } else {
    spare?.kill('SIGKILL')
    child = spawnChild(file, plugin)
  }
  // The next call's child starts now, off this call's path.
  setImmediate(() => prepare(file, plugin))
  return child
}

/** Kill the spares of `file` (its plugin stops, reloads or unloads); every spare when omitted. */
export function discardSpares(file?: string | null): void {
  for (const [k, child] of spares) {
    if (file && !k.endsWith(`\u0000${file}`)) continue
    spares.delete(k)
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    } catch {
      child.kill('SIGKILL')
    }
  }
}
