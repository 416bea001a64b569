// The parent side of a fork-model call (reference/gofer.md §4.15): one child process per call,
// its own process group, so that a crash, process.exit, a leak or a hang costs the child and
// never goferd. Progress is relayed as it comes; the outcome is the child's RESULT, or an
// exception reply when it dies without one. A cancel (Admin.cancel) or the method's deadline
// (`@fork({timeout})`) kills the whole group with SIGKILL at once.
import type { ChildProcess } from 'node:child_process'
import type { Context } from '../../rmi/context.js'
import { remoteOptions } from '../../rmi/decorators.js'
import { RaisedResult, type Target } from '../../rmi/dispatcher.js'
import type { ResultBody } from '../../rmi/envelope.js'
import { CancelledError } from '../../rmi/tracker.js'
import type { ValidRequest } from '../../rmi/validate.js'
import { isChildMessage, type CallMessage } from './protocol.js'
import { takeChild } from './spares.js'

/** The child died, was killed for its deadline, or could not start: an exception reply. */
export class ChildFailed extends Error {
  readonly xmodule = 'gofer.agent.fork'
  constructor(message: string, readonly reason: 'exited' | 'killed' | 'timeout' | 'spawn', readonly pid: number | null, readonly code: number | null, readonly signal: string | null) {
    super(message)
    this.name = 'ChildFailed'
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    // The child leads its own group (detached): its own children die with it.
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}

/** Run `target` for `request` in a child process; resolves with its return value or throws. */
export function runForked(target: Target, request: ValidRequest, context: Context): Promise<unknown> {
  const file = target.namespace.source
  if (!file) return Promise.reject(new Error(`${target.namespace.name}.${target.member.name}: call model "fork" needs the plugin's module file`))
  const timeout = remoteOptions(target.member.fn)?.timeout ?? null
  const label = `${target.namespace.name}.${target.member.name}()`
  return new Promise<unknown>((resolve, reject) => {
    let result: ResultBody | null = null
    let stop: { error: Error } | null = null
    const child = takeChild(file, target.module)
    const end = (error: Error): void => {
      if (stop || result) return
      stop = { error }
      killGroup(child)
    }
    const forgetCancel = context.onCancel(() => end(new CancelledError(String(request.sn))))
    const timer = timeout !== null ? setTimeout(() => end(new ChildFailed(`${label}: no result within its ${timeout}s deadline; child killed`, 'timeout', child.pid ?? null, null, 'SIGKILL')), timeout * 1000) : null
    child.on('message', message => {
      if (!isChildMessage(message) || result || stop) return
      if (message.kind === 'progress') {
        const progress = context.progress
        progress.total = message.total
        progress.completed = message.completed
        progress.details = message.details
        void progress.report()
        return
      }
      try {
        result = JSON.parse(message.body) as ResultBody
        // The runner exits right after; a child that lingers anyway is not waited for long.
        setTimeout(() => killGroup(child), 1000).unref()
      } catch (error) {
        end(new ChildFailed(`${label}: unreadable result from the child: ${(error as Error).message}`, 'exited', child.pid ?? null, null, null))
      }
    })
    child.on('error', error => {
      // fork() failed to spawn (EAGAIN, ENOMEM, ...), or signalling failed.
      if (child.pid === undefined) end(new ChildFailed(`${label}: cannot start a child process: ${error.message}`, 'spawn', null, null, null))
    })
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer)
      forgetCancel()
      // Whatever the child left behind in its group goes with it (leak isolation).
      killGroup(child)
      if (result) {
        if ('retval' in result) resolve(result.retval)
        else reject(new RaisedResult(result))
      } else if (stop) {
        reject(stop.error)
      } else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
        reject(new ChildFailed(`${label}: the child process ${how} before returning`, signal ? 'killed' : 'exited', child.pid ?? null, code, signal))
      }
    })
    const call: CallMessage = { kind: 'call', file, plugin: target.module, request }
    child.send(call, error => {
      if (error) end(new ChildFailed(`${label}: cannot send the call to the child: ${error.message}`, 'spawn', child.pid ?? null, null, null))
    })
  })
}
