// Run the gofer CLI (bin/gofer) as a user would, collecting stdout, stderr and the exit code.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './paths.js'

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `bin/gofer <args>` to completion; rejects if it has not exited within `timeoutMs`. */
export function gofer(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  return runNode([join(ROOT, 'bin', 'gofer'), ...args], `gofer ${args.join(' ')}`, timeoutMs)
}

/**
 * Run `node <args>` (gofer's log level silent) to completion, collecting stdout, stderr and the
 * exit code; rejects naming `what` if it has not exited within `timeoutMs`.
 */
export function runNode(args: string[], what: string, timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, GOFER_LOG_LEVEL: 'silent' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', c => (stdout += c))
    child.stderr.on('data', c => (stderr += c))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${what} did not exit within ${timeoutMs} ms; stdout=${stdout} stderr=${stderr}`))
    }, timeoutMs)
    child.on('exit', code => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}
