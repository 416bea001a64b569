// The agent's request pipeline for one plugin queue (reference/gofer.md §4.7):
//   read -> validate (rejected reply, or log-and-drop when there is nowhere to reply)
//   -> accepted -> wait for a slot (threads) -> latency -> started -> dispatch -> result.
// The broker ack comes only once the request is safe, which is whichever comes first of:
//   - its final reply is published and confirmed (a crash before that means redelivery), or
//   - it is journaled and fsynced (a crash after that means a replay at restart).
// A request still unanswered `journalAfterMs` after it arrived (queued behind busy threads, or a
// long call) is journaled then acked, so long work never pins an unacked message (RabbitMQ's
// consumer timeout, prefetch) and survives goferd's death. A quick call answers before that and
// never touches the disk: the fsync (about 1 ms here, bench/README.md) is paid only where it buys
// something. Either way: at-least-once, never a lost request.
// Every accepted request is tracked for Admin.cancel; a cancelled one still gets a final reply.
import type { Connection, Delivery } from '../messaging/adapter.js'
import type { Logger } from '../log.js'
import { Context } from '../rmi/context.js'
import type { Dispatcher } from '../rmi/dispatcher.js'
import { isThenable } from '../rmi/thenable.js'
import { decode } from '../rmi/envelope.js'
import { Replier } from '../rmi/replier.js'
import type { AbortLike } from '../rmi/cancel-signal.js'
import { CancelledError, tracker, type TrackedRequest } from '../rmi/tracker.js'
import { failureOf } from '../rmi/failure.js'
import type { Document, ResultBody } from '../rmi/envelope.js'
import { checkRequest, readReplyTo, type ValidRequest } from '../rmi/validate.js'
import { Deadlines } from './deadlines.js'
import type { Executor } from './executor.js'
import type { Journal } from './journal.js'

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
  /** Where accepted requests are persisted before the ack; null: ack after the final reply. */
  journal?: Journal | null
  /** Journal (and ack) a request not answered within this many ms; 0: every request, first. @default JOURNAL_AFTER_MS */
  journalAfterMs?: number
}

/** How long a request may go unanswered before it is journaled and acked. */
export const JOURNAL_AFTER_MS = 100

export class RequestHandler {
  private readonly inflight = new Set<Promise<void>>()
  /** Requests to journal once unanswered for journalAfterMs (null: journal at once, or no journal). */
  private readonly unanswered: Deadlines<() => void> | null
  constructor(private readonly deps: HandlerDeps) {
    const after = deps.journalAfterMs ?? JOURNAL_AFTER_MS
    this.unanswered = deps.journal && after > 0 ? new Deadlines(after, persist => persist()) : null
  }

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
    // Tracked from now on, so a cancel arriving while the journal write is on its way still counts.
    const tracked = tracker.add(request.sn as string, request.data)
    void replier.accepted()
    const journal = this.deps.journal
    if (!journal) {
      this.track(this.execute(request, replier, tracked).then(() => delivery.ack()))
      return
    }
    let acked = false
    const ack = (): void => {
      if (acked) return
      acked = true
      delivery.ack()
    }
    let journaled: Promise<string | null> | null = null
    const persist = (): void => {
      journaled = journal.write(decoded.document!).then(
        file => {
          ack()
          rememberCancel(tracked, journal, file)
          return file
        },
        error => {
          log.error({ err: error, sn: request.sn }, 'journal write failed: the ack waits for the final reply')
          return null
        },
      )
    }
    const unanswered = this.unanswered
    if (unanswered) unanswered.add(persist)
    else persist()
    this.track(this.execute(request, replier, tracked).then(async () => {
      unanswered?.delete(persist)
      const file = journaled ? await journaled : null
      ack()
      if (file) await journal.remove(file)
    }))
  }

  /**
   * Answer the requests a previous run journaled and did not finish (oldest first), before any
   * new delivery: `started` and the result are sent again, `accepted` is not (gofer's replay).
   * Resolves once they are queued; returns how many. A file that is not a valid request is set
   * aside and reported, never fatal.
   */
  async replay(): Promise<number> {
    const { journal, log, connection } = this.deps
    if (!journal) return 0
    let entries: Awaited<ReturnType<Journal['pending']>>
    try {
      entries = await journal.pending()
    } catch (error) {
      log.error({ err: error, dir: journal.dir }, 'journal: cannot read pending requests; none replayed')
      return 0
    }
    let replayed = 0
    for (const { file, document, cancelled } of entries) {
      const checked = checkRequest(document as Document)
      if (!checked.ok) {
        await journal.setAside(file, `${checked.rejection.description}: ${checked.rejection.details}`)
        continue
      }
      const request = checked.request
      const replier = new Replier(connection, log, request.sn, request.data, request.replyto)
      const tracked = tracker.add(request.sn as string, request.data)
      // Cancelled before the restart: answered Cancelled at once, never run again.
      if (cancelled) tracker.cancel(request.sn as string)
      else rememberCancel(tracked, journal, file)
      this.track(this.execute(request, replier, tracked).then(() => journal.remove(file)))
      replayed++
    }
    if (replayed > 0) log.info({ replayed, dir: journal.dir }, 'journal: replaying requests accepted before a restart')
    return replayed
  }

  /**
   * Unload: delete the plugin's journal directory (gofer deletes the pending store), unless a
   * call is still in flight (its file must survive a crash).
   */
  async discardJournal(): Promise<void> {
    if (this.inflight.size > 0 || !this.deps.journal) return
    await this.deps.journal.destroy().catch(error => this.deps.log.warn({ err: error }, 'journal: cannot delete the pending directory'))
  }

  private execute(request: ValidRequest, replier: Replier, tracked: TrackedRequest): Promise<void> {
    const { builtin } = this.deps
    const isBuiltin = request.classname === builtin.classname
    const dispatcher = isBuiltin ? builtin.dispatcher : this.deps.dispatcher
    const executor = isBuiltin ? builtin.executor : this.deps.executor
    const delayed = this.deps.latency > 0 && !isBuiltin
    if (delayed || tracked.cancelled || !executor.tryAcquire()) return this.executeQueued(request, replier, tracked, dispatcher, executor, delayed)
    // The usual case: a free slot and no latency. The call starts now, and a method that returns
    // at once is answered in the same tick: started and the result leave in one socket write.
    const done = (result: ResultBody): Promise<void> => {
      executor.release()
      tracked.done()
      return this.answer(request, replier, result)
    }
    let outcome: ResultBody | Promise<ResultBody>
    try {
      outcome = this.call(request, replier, tracked, dispatcher)
    } catch (error) {
      outcome = failureOf(error, this.deps.module) // defensive: call() does not throw
    }
    return isThenable(outcome) ? outcome.then(done, error => done(failureOf(error, this.deps.module))) : done(outcome)
  }

  /** Wait for a slot (and the plugin's latency), then call; a cancel meanwhile is answered Cancelled. */
  private async executeQueued(
    request: ValidRequest, replier: Replier, tracked: TrackedRequest, dispatcher: Dispatcher, executor: Executor, delayed: boolean,
  ): Promise<void> {
    let result: ResultBody
    try {
      result = await executor.run(async () => {
        if (delayed) await sleep(this.deps.latency * 1000, tracked.signal)
        if (tracked.cancelled) throw tracked.signal.reason
        return await this.call(request, replier, tracked, dispatcher)
      }, tracked.signal)
    } catch (error) {
      // Cancelled while queued or in its latency: answered now (gofer sends nothing, §10).
      result = failureOf(error, this.deps.module)
      if (error instanceof CancelledError) this.deps.log.info({ sn: request.sn }, 'request cancelled before it started')
    } finally {
      tracked.done()
    }
    await this.answer(request, replier, result)
  }

  /** `started`, then the dispatch in a Context that a cancel reaches. Never throws or rejects. */
  private call(request: ValidRequest, replier: Replier, tracked: TrackedRequest, dispatcher: Dispatcher): ResultBody | Promise<ResultBody> {
    void replier.started()
    const context = new Context(request.sn as string, request.data, (total, completed, details) =>
      replier.progress(total, completed, details))
    // A cancel from now on reaches the running call: a flag for direct code, a kill for fork.
    const onAbort = (): void => context.cancel()
    tracked.signal.addEventListener('abort', onAbort, { once: true })
    const outcome = dispatcher.dispatch(request, context)
    if (!isThenable(outcome)) {
      tracked.signal.removeEventListener('abort', onAbort)
      return outcome
    }
    return outcome.finally(() => tracked.signal.removeEventListener('abort', onAbort))
  }

  /** The final reply (its failure is logged by the replier, never thrown). */
  private answer(request: ValidRequest, replier: Replier, result: ResultBody): Promise<void> {
    if ('exval' in result) this.deps.log.info({ sn: request.sn, target: `${request.classname}.${request.method}`, xclass: result.xclass }, 'call raised')
    return replier.result(result, this.deps.module)
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(error => this.deps.log.error({ err: error }, 'request failed')).finally(() => {
      this.inflight.delete(tracked)
    })
    this.inflight.add(tracked)
  }
}

/** A cancel from now on is written beside the request's journal file, so a restart honours it. */
function rememberCancel(tracked: TrackedRequest, journal: Journal, file: string): void {
  if (tracked.cancelled) void journal.markCancelled(file)
  else tracked.signal.addEventListener('abort', () => void journal.markCancelled(file), { once: true })
}

/** Wait `ms`; a cancel ends the wait early (the request is then answered as cancelled). */
function sleep(ms: number, signal: AbortLike): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
