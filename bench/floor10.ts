// The raw rhea floor on RabbitMQ's AMQP 1.0 plugin: the cheapest request/reply there with the
// same request guarantees as gofer (durable queue, durable message, unsettled send, manual accept).
// Requester here (main process), responder in a forked child (bench/floor10-responder.ts).
// RabbitMQ 3.10 has neither dynamic receivers nor anonymous senders (brokers.md §4.3), so the reply
// queue is a named `/queue/bench.reply.<uuid>` and the responder caches one sender per reply address.
// 3.x's 1.0 plugin cannot delete queues: both are deleted over 0-9-1 (amqplib) in stop().
import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import rhea, { type Connection, type Container, type EventContext, type Sender } from 'rhea'
import { amqplibUrl, withDeadline } from './util.js'

const here = dirname(fileURLToPath(import.meta.url))

interface Waiting {
  resolve(): void
  reject(error: Error): void
}

/** host, port, user, password of an amqp:// URL (an adapter prefix such as `amqp-1-0+` is ignored). */
function parts(url: string): { host: string; port: number; user: string; password: string } {
  const parsed = new URL(amqplibUrl(url).replace(/^amqps?:/, 'http:'))
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(parsed.port) || 5672,
    user: decodeURIComponent(parsed.username) || 'guest',
    password: decodeURIComponent(parsed.password) || 'guest',
  }
}

export class Floor10 {
  readonly queue = `bench.floor10.${randomUUID()}`
  readonly replyQueue = `bench.reply.${randomUUID()}`
  private container: Container | null = null
  private conn: Connection | null = null
  private sender: Sender | null = null
  private child: ChildProcess | null = null
  private childExit: Promise<unknown> | null = null
  private readonly waiting = new Map<string, Waiting>()
  private sn = 0
  private broken: Error | null = null
  private closing = false
  serverProduct = '?'

  /**
   * `plain`: one reply per request. `gofer`: gofer's message pattern (see floor10-responder.ts):
   * three replies, the request accepted once the result is; the caller resolves on the result.
   */
  constructor(private readonly url: string, readonly pattern: 'plain' | 'gofer' = 'plain') {}

  get responderPid(): number | undefined {
    return this.child?.pid
  }

  /** Connect, attach the request sender (declares the durable queue) and the reply receiver, fork the responder. */
  async start(): Promise<void> {
    const { host, port, user, password } = parts(this.url)
    const container = rhea.create_container({ id: `bench-floor10-${this.pattern}-${process.pid}` })
    this.container = container
    container.on('error', error => this.breakWith(error instanceof Error ? error : new Error(String(error))))
    const conn = container.connect({ host, port, username: user, password, reconnect: false, tcp_no_delay: true } as Parameters<Container['connect']>[0])
    this.conn = conn
    conn.on('connection_error', ctx => this.breakWith(new Error(`floor10 connection error: ${JSON.stringify(ctx.connection.error ?? null)}`)))
    conn.on('session_error', ctx => this.breakWith(new Error(`floor10 session error: ${JSON.stringify(ctx.session?.error ?? null)}`)))
    conn.on('disconnected', () => {
      if (!this.closing) this.breakWith(new Error('floor10 connection lost'))
    })
    const opened = new Promise<void>((resolve, reject) => {
      conn.once('connection_open', ctx => {
        const props = (ctx.connection as unknown as { properties?: Record<string, unknown> }).properties ?? {}
        this.serverProduct = `${String(props.product ?? '?')} ${String(props.version ?? '')}`.trim()
        resolve()
      })
      conn.once('disconnected', ctx => reject(new Error(`cannot connect over AMQP 1.0: ${String((ctx as EventContext & { error?: unknown }).error ?? 'disconnected')}`)))
    })
    await withDeadline(opened, 10_000, 'floor10 connect')

    // The durable request queue is declared by this attach (terminus durable 2).
    const sender = conn.open_sender({ target: { address: `/queue/${this.queue}`, durable: 2 } })
    this.sender = sender
    const receiver = conn.open_receiver({ source: { address: `/queue/${this.replyQueue}` }, credit_window: 1000 })
    receiver.on('message', (ctx: EventContext) => {
      if (this.pattern === 'gofer' && ctx.message?.subject !== 'result') return
      const id = ctx.message?.correlation_id
      const waiting = id === undefined ? undefined : this.waiting.get(String(id))
      if (!waiting) return
      this.waiting.delete(String(id))
      waiting.resolve()
    })
    sender.on('rejected', ctx => this.breakWith(new Error(`request rejected: ${JSON.stringify(ctx.delivery?.remote_state ?? null)}`)))
    await withDeadline(Promise.all([once(sender, 'sendable'), once(receiver, 'receiver_open')]), 10_000, 'floor10 attach')

    const child = fork(join(here, 'floor10-responder.js'), [], {
      env: {
        ...process.env,
        BENCH_FLOOR10_HOST: host, BENCH_FLOOR10_PORT: String(port), BENCH_FLOOR10_USER: user, BENCH_FLOOR10_PASSWORD: password,
        BENCH_FLOOR10_QUEUE: this.queue, BENCH_FLOOR10_PATTERN: this.pattern,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    })
    this.child = child
    this.childExit = once(child, 'exit')
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', message => {
        const m = message as { ready?: boolean; error?: string }
        if (m.ready) resolve()
        if (m.error) {
          const error = new Error(`floor10 responder: ${m.error}`)
          reject(error)
          this.breakWith(error)
        }
      })
      child.once('exit', code => {
        const error = new Error(`floor10 responder exited (code ${code})`)
        reject(error)
        this.breakWith(error)
      })
    })
    await withDeadline(ready, 10_000, 'floor10 responder start')
  }

  private breakWith(error: Error): void {
    if (this.broken) return
    this.broken = error
    for (const waiting of this.waiting.values()) waiting.reject(error)
    this.waiting.clear()
  }

  /** Send one request (durable, unsettled; the accept is not awaited, as gofer's Agent); resolves on its reply. */
  call(body: Buffer): Promise<void> {
    if (this.broken) return Promise.reject(this.broken)
    const id = String(++this.sn)
    const reply = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    this.sender!.send({ body: rhea.message.data_section(body), correlation_id: id, reply_to: `/queue/${this.replyQueue}`, durable: true })
    return reply
  }

  /** `calls` requests back to back; time until every reply is in (initial credit is 65 536). */
  async pipelined(body: Buffer, calls: number): Promise<void> {
    const replies: Promise<void>[] = new Array(calls)
    for (let i = 0; i < calls; i++) {
      if (!this.sender!.sendable()) await withDeadline(once(this.sender!, 'sendable'), 10_000, 'floor10 credit')
      replies[i] = this.call(body)
    }
    await Promise.all(replies)
  }

  /** Stop the responder, close the connection, delete both queues over 0-9-1. Never throws. */
  async stop(): Promise<void> {
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.send({ stop: true })
      } catch {
        child.kill('SIGTERM')
      }
      await withDeadline(this.childExit!, 5000, 'floor10 responder exit').catch(() => child.kill('SIGKILL'))
    }
    this.broken ??= new Error('floor10 stopped')
    this.closing = true
    const conn = this.conn
    if (conn && conn.is_open()) {
      const closed = once(conn, 'connection_close')
      conn.close()
      await withDeadline(closed, 5000, 'floor10 connection close').catch(() => undefined)
    }
    // A 1.0 session crashes if its queue is deleted under a receiver (brokers.md §4.4): delete after closing.
    try {
      const model = await amqp.connect(amqplibUrl(this.url), { noDelay: true, timeout: 5000 })
      model.on('error', () => undefined)
      for (const name of [this.queue, this.replyQueue]) {
        const ch = await model.createChannel()
        ch.on('error', () => undefined)
        await ch.deleteQueue(name).catch(error => console.error(`warning: could not delete ${name}: ${(error as Error).message}`))
        await ch.close().catch(() => undefined)
      }
      await model.close().catch(() => undefined)
    } catch (error) {
      console.error(`warning: floor10 queue cleanup: ${(error as Error).message}`)
    }
  }
}
