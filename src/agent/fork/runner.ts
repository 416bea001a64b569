// The fork-model child (reference/gofer.md §4.15): started by spares.ts with an IPC channel and
// the module to import (argv: file, plugin), which it imports at once; it then receives one CALL,
// imports the plugin module the way goferd does (loader hooks: TypeScript,
// `import 'gofer'`), runs the method directly with a Context whose progress goes back over IPC,
// sends the RESULT and exits. Whatever happens in here, goferd only sees messages or an exit.
import { Worker } from 'node:worker_threads'
import { collate } from '../../rmi/catalog.js'
import { Context } from '../../rmi/context.js'
import { Dispatcher } from '../../rmi/dispatcher.js'
import type { ResultBody } from '../../rmi/envelope.js'
import { failureOf } from '../../rmi/failure.js'
import { dumps } from '../../rmi/json.js'
import { importPlugin } from '../loader.js'
import type { CallMessage, ChildMessage } from './protocol.js'

// An orphan must not run on: if goferd dies (even SIGKILL) the child kills itself within a
// second. A worker thread watches, because a method stuck in a busy loop starves this thread's
// event loop (and with it any 'disconnect' handler).
const watchdog = new Worker(`
  const { workerData } = require('node:worker_threads')
  setInterval(() => { if (process.ppid !== workerData.ppid) process.kill(workerData.pid, 'SIGKILL') }, 250)
`, { eval: true, workerData: { ppid: process.ppid, pid: process.pid } })
watchdog.unref()
process.on('disconnect', () => process.exit(1))

function send(message: ChildMessage): Promise<void> {
  return new Promise(resolve => {
    if (!process.send) return resolve()
    process.send(message, undefined, {}, () => resolve())
  })
}

// Imported while the child waits for its call (a spare); a failure is answered on the call.
const [preloadFile] = process.argv.slice(2)
const preloaded = preloadFile ? importPlugin(preloadFile) : null
preloaded?.catch(() => undefined)

async function run(call: CallMessage): Promise<ResultBody> {
  let exports: Record<string, unknown>
  try {
    exports = await (preloaded && call.file === preloadFile ? preloaded : importPlugin(call.file))
  } catch (error) {
    return failureOf(error, call.plugin)
  }
  const catalog = collate(call.plugin, exports)
  // In here the method runs directly: this process is the isolation the caller asked for.
  for (const ns of catalog.values()) for (const member of ns.members.values()) member.model = 'direct'
  const request = call.request
  // gofer's child gets `cancelled` as the value False (§10.12); ours stays a callable, and is
  // never true: a cancelled child is killed, not asked.
  const context = new Context(request.sn as string, request.data, (total, completed, details) =>
    send({ kind: 'progress', total, completed, details }))
  return new Dispatcher([{ module: call.plugin, catalog }]).dispatch(request, context)
}

function encode(result: ResultBody, plugin: string): string {
  try {
    return dumps(result)
  } catch (error) {
    return dumps(failureOf(error, plugin))
  }
}

process.once('message', (message: CallMessage) => {
  void run(message)
    .then(result => send({ kind: 'result', body: encode(result, message.plugin) }))
    .catch(error => send({ kind: 'result', body: encode(failureOf(error, message.plugin), message.plugin) }))
    .finally(() => process.exit(0))
})
