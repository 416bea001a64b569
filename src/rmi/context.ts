// The call context plugin code sees through Context.current(): the request's serial number,
// a progress reporter and the cancellation flag. Carried by AsyncLocalStorage, so it follows
// the call across awaits without being passed around.
import { AsyncLocalStorage } from 'node:async_hooks'
import { CancelSignal } from './cancel-signal.js'
import { isThenable } from './thenable.js'

/** Sends one progress reply; provided by the dispatcher for each request. */
export type ProgressSink = (total: number, completed: number, details: unknown) => Promise<void>

export class Progress {
  /** Units of work in all. @default 0 */
  total = 0
  /** Units done so far. @default 0 */
  completed = 0
  /** Anything JSON: shown by `gofer rmi -p`, handed to the caller's progress callback. @default {} */
  details: unknown = {}
  readonly #sink: ProgressSink | null
  constructor(sink: ProgressSink | null) {
    this.#sink = sink
  }
  /**
   * Send the current total/completed/details to the caller (if it asked for replies).
   * Never throws: a failed send is logged by the sink; awaiting it is optional.
   */
  report(): Promise<void> {
    if (!this.#sink) return Promise.resolve()
    return this.#sink(this.total, this.completed, this.details).catch(() => undefined)
  }
}

export class Context {
  /** Serial number of the request being served (null outside a call). */
  readonly sn: string | null
  /** The caller's user data, round-tripped in every reply. */
  readonly data: unknown
  readonly progress: Progress
  readonly #cancel = new CancelSignal()
  constructor(sn: string | null, data: unknown, sink: ProgressSink | null) {
    this.sn = sn
    this.data = data
    this.progress = new Progress(sink)
  }
  /** True once the request has been cancelled; long-running code should poll it and stop. */
  cancelled(): boolean {
    return this.#cancel.aborted
  }
  /** @internal Marks the call cancelled (Admin.cancel) and tells the listeners (a fork's killer). */
  cancel(): void {
    this.#cancel.abort(true)
  }
  /** @internal Run `listener` once when the call is cancelled (at once if it already is). */
  onCancel(listener: () => void): () => void {
    if (this.#cancel.aborted) {
      listener()
      return () => undefined
    }
    this.#cancel.addEventListener('abort', listener)
    return () => this.#cancel.removeEventListener('abort', listener)
  }

  /** The context of the call running now; outside a call, a detached context that reports nothing. */
  static current(): Context {
    return storage.getStore() ?? new Context(null, null, null)
  }

  /**
   * @internal Run `fn` with `context` as Context.current(), until the promise it returns settles.
   * While no call runs, the storage is disabled: an enabled AsyncLocalStorage makes Node run a
   * hook for every promise the process creates (amqplib's included), which measured 15-20 µs of
   * every call's path to its reply (bench/README.md). It is enabled again by the next call.
   */
  static run<T>(context: Context, fn: () => T): T {
    running++
    let result: T
    try {
      result = storage.run(context, fn)
    } catch (error) {
      leave()
      throw error
    }
    if (!isThenable(result)) {
      leave()
      return result
    }
    return Promise.resolve(result).finally(leave) as T
  }
}

const storage = new AsyncLocalStorage<Context>()
/** Calls inside Context.run (their promise not yet settled). */
let running = 0

function leave(): void {
  if (--running === 0) storage.disable()
}
