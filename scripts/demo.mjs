// `npm run demo`: start goferd with the demo plugin and call it, printing every reply.
// Uses the RabbitMQ at GOFER_URL (default amqp://guest:guest@127.0.0.1:5672) when one answers:
// goferd then runs as its own process, exactly as `goferd -c etc/gofer` would. Otherwise the
// daemon and the caller share this process and its in-memory broker.
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
process.env.GOFER_LOG_LEVEL ??= 'warn'
const { Agent, ReplyConsumer, Daemon } = await import(join(root, 'dist/src/index.js'))

const brokerUrl = process.env.GOFER_URL ?? 'amqp://guest:guest@127.0.0.1:5672'

function reachable(url, ms = 1000) {
  const { hostname, port } = new URL(url.replace(/^[\w.-]+\+/, '').replace(/^amqps?:/, 'http:'))
  return new Promise(resolve => {
    const socket = connect({ host: hostname || 'localhost', port: Number(port) || 5672 })
    const done = ok => { socket.destroy(); resolve(ok) }
    socket.setTimeout(ms, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

let url
let stopDaemon
if (await reachable(brokerUrl)) {
  url = brokerUrl
  console.log(`broker: RabbitMQ at ${brokerUrl.replace(/\/\/[^@]*@/, '//')} (goferd runs as a separate process)`)
  const goferd = spawn(process.execPath, [join(root, 'bin/goferd'), '-c', join(root, 'etc/gofer'), '-u', url], { stdio: 'inherit' })
  let exitCode
  const exited = new Promise(resolve => goferd.once('exit', code => { exitCode = code; resolve(code) }))
  stopDaemon = async () => { if (exitCode === undefined) goferd.kill('SIGTERM'); return exited }
  // Whatever happens below, never leave goferd running behind us.
  process.once('exit', () => { if (exitCode === undefined) goferd.kill('SIGKILL') })
  // Wait until our goferd answers on its queue (and stop if it could not start, e.g. another
  // goferd already holds etc/gofer's pid file).
  const probe = new Agent(url, 'demo', { wait: 2 })
  for (let i = 0; ; i++) {
    if (exitCode !== undefined) {
      console.error(`goferd exited (${exitCode}) before answering; see its message above`)
      process.exit(1)
    }
    try { await probe.call({ classname: 'Admin', method: 'hello' }); break } catch (error) {
      if (i >= 30) throw new Error(`goferd did not answer: ${error.message}`)
      await new Promise(r => setTimeout(r, 300))
    }
  }
  await probe.close()
} else {
  url = 'memory://demo'
  console.log(`broker: none answered at ${brokerUrl.replace(/\/\/[^@]*@/, '//')}; using the in-process memory broker (goferd runs inside this process)`)
  const daemon = new Daemon({ etc: join(root, 'etc/gofer'), url })
  const plugins = await daemon.start()
  await Promise.all(plugins.map(p => p.attached()))
  stopDaemon = () => daemon.stop()
}

// Asynchronous calls with a reply queue show every reply gofer sends.
const replyQueue = `demo.replies.${process.pid}`
// A final reply can arrive before agent.call() resolves (the call resolves on the broker's
// confirm), so remember finished sns as well as waiters.
const finals = new Map()
const finished = new Set()
const consumer = new ReplyConsumer(url, replyQueue, { temporary: true })
await consumer.start(reply => {
  const line = { accepted: 'accepted', started: 'started', rejected: `rejected: ${reply.description} : ${reply.details}`,
    progress: `progress ${reply.completed}/${reply.total}: ${JSON.stringify(reply.details)}`,
    succeeded: `result: ${JSON.stringify(reply.retval)}`,
    failed: `exception: ${reply.error?.message} ${JSON.stringify(reply.error?.state)}` }[reply.kind]
  console.log(`    ${line}`)
  if (reply.kind === 'succeeded' || reply.kind === 'failed') {
    finished.add(reply.sn)
    finals.get(reply.sn)?.()
  }
})
const agent = new Agent(url, 'demo', { reply: replyQueue })
async function show(label, input) {
  console.log(`> ${label}`)
  const sn = await agent.call(input)
  await new Promise((resolve, reject) => {
    if (finished.has(sn)) return resolve()
    finals.set(sn, resolve)
    setTimeout(() => reject(new Error(`no final reply for ${label}`)), 10_000).unref()
  })
}
await show("Dog.bark('howdy')", { classname: 'Dog', method: 'bark', args: ['howdy'] })
await show('Dog.wag(3)', { classname: 'Dog', method: 'wag', args: [3] })
await show('Dog.bite()', { classname: 'Dog', method: 'bite' })
await show("Dog('rex', 5).describe()", { classname: 'Dog', method: 'describe', cntr: [['rex'], { age: 5 }] })
await show("demo.echo({hello: 'world'})", { classname: 'demo', method: 'echo', args: [{ hello: 'world' }] })
await show('Admin.hello()', { classname: 'Admin', method: 'hello' })

// A synchronous call through a typed stub, as server code does it.
const sync = new Agent(url, 'demo', { wait: '10s' })
const dog = sync.stub('Dog', ['rover'], { age: 3 })
console.log(`> await dog.bark('sync')  ->  ${await dog.bark('sync')}`)

await sync.close()
await agent.close()
await consumer.stop()
const code = await stopDaemon()
console.log(`goferd stopped${code === undefined ? '' : ` (exit ${code})`}`)
process.exit(0)
