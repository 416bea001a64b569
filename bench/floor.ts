// The raw amqplib floor: the cheapest request/reply on this broker that keeps gofer's delivery
// guarantees on the request side (durable queue, persistent, confirmed, mandatory, manual ack).
// Requester here (main process), responder in a forked child (bench/floor-responder.ts).
import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import { amqplibUrl, withDeadline } from './util.js'

const here = dirname(fileURLToPath(import.meta.url))

interface Waiting {
  resolve(): void
  reject(error: Error): void
}

export class Floor {
  readonly queue = `bench.floor.${randomUUID()}`
  private model: amqp.ChannelModel | null = null
  private ch: amqp.ConfirmChannel | null = null
  private replyTo = ''
  private child: ChildProcess | null = null
  private childExit: Promise<unknown> | null = null
  private readonly waiting = new Map<string, Waiting>()
  private sn = 0
  private broken: Error | null = null
  serverVersion = '?'

  /**
   * `plain`: one reply per request, replies consumed with noAck. `gofer`: gofer's message pattern
   * (see floor-responder.ts), replies consumed with manual ack, one ack per reply, as gofer's caller.
   */
  constructor(private readonly url: string, readonly pattern: 'plain' | 'gofer' = 'plain') {}

  get responderPid(): number | undefined {
    return this.child?.pid
  }

  /** Connect, declare the queues, fork the responder and wait until it consumes. */
  async start(): Promise<void> {
    const url = amqplibUrl(this.url)
    const model = await amqp.connect(url, { noDelay: true, timeout: 5000 })
    this.model = model
    this.serverVersion = String(model.connection.serverProperties.version ?? '?')
    model.on('error', error => this.breakWith(error))
    model.on('close', () => this.breakWith(new Error('floor connection closed')))
    const ch = await model.createConfirmChannel()
    this.ch = ch
    ch.on('error', error => this.breakWith(error))
    ch.on('return', (msg: amqp.Message) => this.breakWith(new Error(`request returned unroutable: ${msg.fields.routingKey}`)))
    await ch.assertQueue(this.queue, { durable: true })
    const reply = await ch.assertQueue('', { exclusive: true, autoDelete: true })
    this.replyTo = reply.queue
    const ackReplies = this.pattern === 'gofer'
    if (ackReplies) await ch.prefetch(1000)
    await ch.consume(this.replyTo, msg => {
      if (!msg) return this.breakWith(new Error('reply consumer cancelled'))
      if (ackReplies) {
        ch.ack(msg)
        if (msg.properties.type !== 'result') return
      }
      const id = msg.properties.correlationId as string | undefined
      const waiting = id === undefined ? undefined : this.waiting.get(id)
      if (!waiting) return
      this.waiting.delete(id!)
      waiting.resolve()
    }, { noAck: !ackReplies })

    const child = fork(join(here, 'floor-responder.js'), [], {
      env: { ...process.env, BENCH_FLOOR_URL: url, BENCH_FLOOR_QUEUE: this.queue, BENCH_FLOOR_PATTERN: this.pattern },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Not this process's flags (--cpu-prof of the caller must not profile the responder too).
      execArgv: [],
    })
    this.child = child
    this.childExit = once(child, 'exit')
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', message => {
        const m = message as { ready?: boolean; error?: string }
        if (m.ready) resolve()
        if (m.error) {
          const error = new Error(`floor responder: ${m.error}`)
          reject(error)
          this.breakWith(error)
        }
      })
      child.once('exit', code => {
        const error = new Error(`floor responder exited (code ${code})`)
        reject(error)
        this.breakWith(error)
      })
    })
    await withDeadline(ready, 10_000, 'floor responder start')
  }

  /** Fail every waiting call (responder died, connection lost). */
  private breakWith(error: Error): void {
    if (this.broken) return
    this.broken = error
    for (const waiting of this.waiting.values()) waiting.reject(error)
    this.waiting.clear()
  }

  /** Send one request: `reply` resolves when its (final) reply arrives; `full` means wait for 'drain' before the next. */
  private send(body: Buffer): { reply: Promise<void>; full: boolean } {
    if (this.broken) throw this.broken
    const id = String(++this.sn)
    const reply = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    // Confirm callback not awaited before the reply (as gofer's Agent); a nack fails the run.
    const full = !this.ch!.publish('', this.queue, body, { persistent: true, mandatory: true, replyTo: this.replyTo, correlationId: id }, err => {
      if (err) this.breakWith(new Error(`request not confirmed: ${err.message}`))
    })
    return { reply, full }
  }

  /** One round trip (sequential measurements). */
  call(body: Buffer): Promise<void> {
    return this.send(body).reply
  }

  /** `calls` requests published back to back (waiting only for 'drain'); time until every reply is in. */
  async pipelined(body: Buffer, calls: number): Promise<void> {
    const replies: Promise<void>[] = new Array(calls)
    for (let i = 0; i < calls; i++) {
      const { reply, full } = this.send(body)
      replies[i] = reply
      if (full) await withDeadline(once(this.ch!, 'drain'), 10_000, 'floor publish drain')
    }
    await Promise.all(replies)
  }

  /** Stop the responder, delete the request queue, close the connection. Never throws. */
  async stop(): Promise<void> {
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.send({ stop: true })
      } catch {
        child.kill('SIGTERM')
      }
      await withDeadline(this.childExit!, 5000, 'floor responder exit').catch(() => child.kill('SIGKILL'))
    }
    this.broken ??= new Error('floor stopped')
    const ch = this.ch
    if (ch) {
      await withDeadline(ch.waitForConfirms(), 5000, 'floor confirms').catch(() => undefined)
      await withDeadline(ch.deleteQueue(this.queue), 5000, 'floor queue delete').catch(error => {
        console.error(`warning: could not delete ${this.queue}: ${(error as Error).message}`)
      })
    }
    await withDeadline(this.model?.close() ?? Promise.resolve(), 5000, 'floor connection close').catch(() => undefined)
  }
}
