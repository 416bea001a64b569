// The raw rhea responder of the AMQP 1.0 floor, run as a forked child of bench/rmi.ts.
// It consumes the request queue as `/amq/queue/NAME` (the requester declared it; credit 100,
// manual accept) and sends each request's body back to its reply_to, durable, correlation_id
// copied, then accepts the request. RabbitMQ 3.10's 1.0 plugin has no anonymous senders
// (brokers.md §4.3), so one sender per distinct reply address is opened and cached.
// BENCH_FLOOR10_PATTERN=gofer copies gofer's message pattern instead: two status replies
// (accepted, started) then the result, all durable and unsettled, and the request is accepted only
// once the broker has accepted the result. Replies carry `subject` = status | result.
// Protocol with the parent (IPC): {ready: true} once attached, {error} on failure; the parent
// sends {stop: true}. If the parent goes away, the child exits on its own.
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Sender } from 'rhea'

const host = process.env.BENCH_FLOOR10_HOST
const port = Number(process.env.BENCH_FLOOR10_PORT || 5672)
const queue = process.env.BENCH_FLOOR10_QUEUE
const goferPattern = process.env.BENCH_FLOOR10_PATTERN === 'gofer'
if (!host || !queue || !process.send) {
  console.error('floor10-responder: run me through child_process.fork with BENCH_FLOOR10_HOST and BENCH_FLOOR10_QUEUE')
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

let connection: Connection | null = null
let stopping = false

function stop(code: number): void {
  if (stopping) process.exit(code)
  stopping = true
  const force = setTimeout(() => process.exit(code), 3000)
  force.unref()
  if (!connection) process.exit(code)
  connection.once('connection_close', () => process.exit(code))
  try {
    connection.close()
  } catch {
    process.exit(code)
  }
}

process.on('message', message => {
  if ((message as { stop?: boolean }).stop) stop(0)
})
process.on('disconnect', () => stop(0))
process.on('SIGTERM', () => stop(0))

interface ReplySender {
  sender: Sender
  ready: boolean
  /** Replies sent before the sender had credit, flushed on 'sendable' (with the request to accept after). */
  pending: Array<[Message, Delivery | undefined]>
}

/** Reply delivery → the request delivery to accept once the broker accepted the reply (gofer pattern). */
const after = new WeakMap<Delivery, Delivery>()

function send(entry: ReplySender, reply: Message, request?: Delivery): void {
  if (!entry.ready) {
    entry.pending.push([reply, request])
    return
  }
  const delivery = entry.sender.send(reply)
  if (request) after.set(delivery, request)
}

const container = rhea.create_container({ id: `bench-floor10-responder-${process.pid}` })
container.on('error', error => fail(error))
const conn = container.connect({
  host, port,
  username: process.env.BENCH_FLOOR10_USER || 'guest',
  password: process.env.BENCH_FLOOR10_PASSWORD || 'guest',
  reconnect: false,
  tcp_no_delay: true,
} as Parameters<typeof container.connect>[0])
connection = conn
conn.on('connection_error', ctx => fail(new Error(`connection error: ${JSON.stringify(ctx.connection.error ?? null)}`)))
conn.on('disconnected', ctx => {
  if (!stopping) fail(new Error(`disconnected: ${String((ctx as EventContext & { error?: unknown }).error ?? '')}`))
})
conn.on('session_error', ctx => fail(new Error(`session error: ${JSON.stringify(ctx.session?.error ?? null)}`)))

const senders = new Map<string, ReplySender>()

function senderFor(address: string): ReplySender {
  let entry = senders.get(address)
  if (entry) return entry
  const sender = conn.open_sender({ target: { address } })
  const created: ReplySender = { sender, ready: false, pending: [] }
  sender.on('sendable', () => {
    created.ready = true
    for (const [reply, request] of created.pending.splice(0)) send(created, reply, request)
  })
  sender.on('accepted', ctx => {
    const request = ctx.delivery && after.get(ctx.delivery)
    if (request) request.accept()
  })
  sender.on('rejected', () => fail(new Error(`reply rejected by the broker (${address})`)))
  senders.set(address, created)
  entry = created
  return entry
}

const receiver = conn.open_receiver({ source: { address: `/amq/queue/${queue}` }, credit_window: 100, autoaccept: false })
receiver.on('message', (ctx: EventContext) => {
  const msg = ctx.message!
  const replyTo = msg.reply_to
  if (replyTo) {
    const raw = msg.body as unknown
    const content = Buffer.isBuffer(raw) ? raw : (raw as { content?: Buffer } | null)?.content ?? raw
    const entry = senderFor(replyTo)
    if (goferPattern) {
      const status = (what: string): Message => ({
        body: rhea.message.data_section(Buffer.from(JSON.stringify({ status: what, timestamp: new Date().toISOString() }))),
        correlation_id: msg.correlation_id, durable: true, subject: 'status',
      })
      send(entry, status('accepted'))
      send(entry, status('started'))
      send(entry, { body: rhea.message.data_section(content), correlation_id: msg.correlation_id, durable: true, subject: 'result' }, ctx.delivery!)
      return
    }
    send(entry, { body: rhea.message.data_section(content), correlation_id: msg.correlation_id, durable: true })
  }
  ctx.delivery!.accept()
})
receiver.once('receiver_open', () => tell({ ready: true }))
