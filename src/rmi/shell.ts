// gofer.rmi.shell for plugins (reference/gofer.md §4.17): run a command without a shell, report
// each output line to the caller as progress ({stdout, stderr}: the latest line of each), stop
// it when the request is cancelled, and return gofer's [status, {stdout, stderr}], or
// [-1, "<error text>"] when it cannot be started. Text, not bytes (gofer's Python 3 bug, §10.12).
//
//   import { Shell } from 'gofer'
//   export class Tools { @remote uptime() { return new Shell().run('uptime') } }
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { constants } from 'node:os'
import { Context } from './context.js'

export interface ShellOptions {
  /** Report every output line as a progress reply. @default true */
  progress?: boolean
  /** Working directory. @default goferd's */
  cwd?: string
  /** Environment. @default goferd's */
  env?: NodeJS.ProcessEnv
  /** After a cancel, how long SIGTERM may take before SIGKILL, ms. @default 2000 */
  killAfterMs?: number
}

export interface ShellOutput {
  stdout: string
  stderr: string
}

/** gofer's return: exit status (or minus the signal number) and the output, or -1 and why. */
export type ShellResult = [number, ShellOutput] | [-1, string]

export class Shell {
  constructor(readonly options: ShellOptions = {}) {}

  /** Run `argv[0]` with the remaining arguments (no shell, no expansion). Never throws. */
  run(...argv: string[]): Promise<ShellResult> {
    const [command, ...args] = argv
    if (!command) return Promise.resolve([-1, 'no command given'])
    const context = Context.current()
    const reporting = this.options.progress ?? true
    return new Promise<ShellResult>(resolve => {
      const out: string[] = []
      const err: string[] = []
      const last = { stdout: '', stderr: '' }
      let failed: Error | null = null
      let killer: NodeJS.Timeout | null = null
      // Its own process group, so a cancel reaches what the command started too (a script's
      // children would otherwise hold the pipes, and the call, open after the kill).
      const child = spawn(command, args, { cwd: this.options.cwd, env: this.options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      const kill = (signal: NodeJS.Signals): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal)
        } catch {
          child.kill(signal)
        }
      }
      const report = (): void => {
        if (!reporting) return
        context.progress.details = { ...last }
        void context.progress.report()
      }
      for (const [stream, lines, key] of [[child.stdout, out, 'stdout'], [child.stderr, err, 'stderr']] as const) {
        stream.setEncoding('utf8')
        createInterface({ input: stream, crlfDelay: Infinity }).on('line', line => {
          lines.push(line)
          last[key] = line
          report()
        })
      }
      const forget = context.onCancel(() => {
        kill('SIGTERM')
        // A command that ignores SIGTERM is not allowed to keep the call alive.
        killer = setTimeout(() => kill('SIGKILL'), this.options.killAfterMs ?? 2000)
        killer.unref()
      })
      child.on('error', error => {
        failed = error
        // Could not start (ENOENT, EACCES): no 'close' is owed, answer now.
        if (child.pid === undefined) {
          forget()
          resolve([-1, error.message])
        }
      })
      child.on('close', (code, signal) => {
        forget()
        if (killer) clearTimeout(killer)
        if (failed && child.pid === undefined) return resolve([-1, failed.message])
        const status = code ?? (signal ? -(constants.signals[signal] ?? 1) : -1)
        resolve([status, { stdout: joinLines(out), stderr: joinLines(err) }])
      })
    })
  }
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}

/** `new Shell().run(...argv)`. */
export function shell(...argv: string[]): Promise<ShellResult> {
  return new Shell().run(...argv)
}
