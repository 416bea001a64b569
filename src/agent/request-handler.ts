// The agent's request pipeline for one plugin queue (reference/gofer.md §4.7):
//   read -> validate (rejected reply, or log-and-drop when there is nowhere to reply)
//   -> accepted -> wait for a slot (threads) -> started -> dispatch -> result -> ack.
// The broker ack comes only after the final reply has been published and confirmed, so a crash
// at any point before it means redelivery (at-least-once), never a lost request.
import type { Connection, Delivery } from '../messaging/adapter.js'
import type { Logger } from '../log.js'
import { Context } from '../rmi/context.js'
import type { Dispatcher } from '../rmi/dispatcher.js'
import { decode } from '../rmi/envelope.js'
import { Replier } from '../rmi/replier.js'
import { checkRequest, readReplyTo, type ValidRequest } from '../rmi/validate.js'
import type { Executor } from './executor.js'

export interface HandlerDeps {
  connection: Connection
  log: Logger
  /** The plugin's name: module of its exceptions. */
  module: string
  dispatcher: Dispatcher
  /** The plugin's worker slots (`[main] threads`). */
  executor: Executor
  /** Builtin calls (Admin) run on their own slots so they answer while the plugin is busy. */
  builtin: { classname: string; dispatcher: Dispatcher; executor: Executor }
  /** Delay before each call starts, seconds (`[main] latency`). */
  latency: number
}

export class RequestHandler {
  private readonly inflight = new Set<Promise<void>>()
  constructor(private readonly deps: HandlerDeps) {}

  /** Calls accepted and not yet answered. */
  get pending(): number {
    return this.inflight.size
  }

  /** Resolves when every accepted call has been answered (or `deadlineMs` passed). */
  async drain(deadlineMs: number): Promise<boolean> {
    const all = Promise.allSettled([...this.inflight]).then(() => true)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>(resolve => {
      timer = setTimeout(() => resolve(false), deadlineMs)
    })
    try {
      return await Promise.race([all, late])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The subscription's message handler. Never throws. */
  readonly onDelivery = (delivery: Delivery): void => {
    try {
      this.handle(delivery)
    } catch (error) {
      // Defensive: a bug here must not leave the message unacked forever nor crash goferd.
      this.deps.log.error({ err: error }, 'request handling failed; message dropped')
      delivery.ack()
    }
  }

  private handle(delivery: Delivery): void {
    const { log, connection } = this.deps
    const decoded = decode(delivery.body)
    if (!decoded.document) {
      log.warn({ problem: decoded.problem, bytes: delivery.body.length }, 'unreadable request dropped')
      delivery.ack()
      return
    }
    const checked = checkRequest(decoded.document)
    if (!checked.ok) {
      const replyto = readReplyTo(decoded.document)
      log.warn({ sn: checked.sn, ...checked.rejection, replyto }, 'request rejected')
      if (!checked.replyto) {
        delivery.ack()
        return
      }
      const replier = new Replier(connection, log, checked.sn, checked.data, checked.replyto)
      this.track(replier.rejected(checked.rejection).then(() => delivery.ack()))
      return
    }
    const request = checked.request
    const replier = new Replier(connection, log, request.sn, request.data, request.replyto)
    void replier.accepted()
    this.track(this.execute(request, replier).then(() => delivery.ack()))
  }

  private async execute(request: ValidRequest, replier: Replier): Promise<void> {
    const { builtin } = this.deps
    const isBuiltin = request.classname === builtin.classname
    const dispatcher = isBuiltin ? builtin.dispatcher : this.deps.dispatcher
    const executor = isBuiltin ? builtin.executor : this.deps.executor
    const result = await executor.run(async () => {
      if (this.deps.latency > 0 && !isBuiltin) await sleep(this.deps.latency * 1000)
      void replier.started()
      const context = new Context(request.sn as string, request.data, (total, completed, details) =>
        replier.progress(total, completed, details))
      return dispatcher.dispatch(request, context)
    })
    if ('exval' in result) this.deps.log.info({ sn: request.sn, target: `${request.classname}.${request.method}`, xclass: result.xclass }, 'call raised')
    await replier.result(result, this.deps.module)
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(error => this.deps.log.error({ err: error }, 'request failed')).finally(() => {
      this.inflight.delete(tracked)
    })
    this.inflight.add(tracked)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
