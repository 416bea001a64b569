// The raw amqplib responder of the floor measurement, run as a forked child of bench/rmi.ts.
// It consumes the durable request queue (manual ack, prefetch 100), sends each request's body
// back to its replyTo through the default exchange (persistent, correlationId copied), then acks.
// BENCH_FLOOR_PATTERN=gofer copies gofer's message pattern instead: on a confirm channel, two
// status replies (accepted, started) then the result, all persistent, and the request is acked
// only once the result is confirmed. Replies carry `type` = status | result.
// Protocol with the parent (IPC): it sends {ready: true} once consuming, {error} on failure;
// the parent sends {stop: true}. If the parent goes away, the child exits on its own.
import amqp from 'amqplib'

const url = process.env.BENCH_FLOOR_URL
const queue = process.env.BENCH_FLOOR_QUEUE
const goferPattern = process.env.BENCH_FLOOR_PATTERN === 'gofer'
if (!url || !queue || !process.send) {
  console.error('floor-responder: run me through child_process.fork with BENCH_FLOOR_URL and BENCH_FLOOR_QUEUE')
  process.exit(2)
}

function tell(message: Record<string, unknown>): void {
  try {
    process.send?.(message)
  } catch {
    // The parent is gone; 'disconnect' ends us.
  }
}

function fail(error: unknown): never {
  tell({ error: error instanceof Error ? error.message : String(error) })
  process.exit(1)
}

let model: amqp.ChannelModel | null = null
let stopping = false

async function stop(code: number): Promise<never> {
  if (stopping) process.exit(code)
  stopping = true
  // Bounded: never hang on a broker that stopped answering.
  const force = setTimeout(() => process.exit(code), 3000)
  force.unref()
  await model?.close().catch(() => undefined)
  process.exit(code)
}

process.on('message', message => {
  if ((message as { stop?: boolean }).stop) void stop(0)
})
process.on('disconnect', () => void stop(0))
process.on('SIGTERM', () => void stop(0))

try {
  model = await amqp.connect(url, { noDelay: true, timeout: 5000 })
  model.on('error', error => fail(error))
  model.on('close', () => {
    if (!stopping) fail(new Error('connection closed unexpectedly'))
  })
  const ch = goferPattern ? await model.createConfirmChannel() : await model.createChannel()
  ch.on('error', error => fail(error))
  await ch.assertQueue(queue, { durable: true })
  await ch.prefetch(100)
  const status = (what: string) => Buffer.from(JSON.stringify({ status: what, timestamp: new Date().toISOString() }))
  await ch.consume(queue, msg => {
    if (!msg) return fail(new Error('consumer cancelled by the broker'))
    const { replyTo, correlationId } = msg.properties
    if (!goferPattern) {
      if (replyTo) ch.publish('', replyTo, msg.content, { persistent: true, correlationId })
      ch.ack(msg)
      return
    }
    const confirm = ch as amqp.ConfirmChannel
    if (!replyTo) return ch.ack(msg)
    const props = { persistent: true, mandatory: true, correlationId }
    confirm.publish('', replyTo, status('accepted'), { ...props, type: 'status' }, () => undefined)
    confirm.publish('', replyTo, status('started'), { ...props, type: 'status' }, () => undefined)
    confirm.publish('', replyTo, msg.content, { ...props, type: 'result' }, err => {
      if (err) return fail(new Error(`reply not confirmed: ${err.message}`))
      ch.ack(msg)
    })
  }, { noAck: false })
  tell({ ready: true })
} catch (error) {
  fail(error)
}
