// The cancellation registry (reference/gofer.md §4.14, gofer.rmi.tracker): every request the
// agent has accepted and not yet answered, by serial number, with its locator (the caller's
// `data`) for criteria. Admin.cancel marks entries cancelled; what that does depends on where the
// request is: queued -> answered at once with a Cancelled reply; running direct -> the method sees
// Context.current().cancelled(); running fork -> the child is killed (listeners on the Context).
import { CancelSignal, type AbortLike } from './cancel-signal.js'
import { build } from './criteria.js'

/**
 * The final reply of a cancelled request (gofer leaves such callers hanging; we answer them).
 * Reported as xclass `Cancelled`, xmodule `gofer.rmi.tracker`; our Agent raises errors.Cancelled.
 */
export class CancelledError extends Error {
  readonly xmodule = 'gofer.rmi.tracker'
  readonly sn: string
  constructor(sn: string, why = 'cancelled') {
    super(`request ${sn} ${why}`)
    this.name = 'Cancelled'
    this.sn = sn
  }
}

/** One tracked request. `signal` aborts when it is cancelled. */
export class TrackedRequest {
  readonly #signal = new CancelSignal()
  constructor(readonly sn: string, readonly locator: unknown, private readonly owner: Tracker) {}

  get cancelled(): boolean {
    return this.#signal.aborted
  }

  /** Aborted (with a CancelledError) when the request is cancelled; listeners run once. */
  get signal(): AbortLike {
    return this.#signal
  }

  /** @internal */
  abort(): void {
    this.#signal.abort(new CancelledError(this.sn))
  }

  /** Stop tracking (the request has its final reply). */
  done(): void {
    this.owner.remove(this)
  }
}

export class Tracker {
  private readonly all = new Map<string, Set<TrackedRequest>>()

  /** Track an accepted request; call done() on the result when its final reply is sent. */
  add(sn: string, locator: unknown): TrackedRequest {
    const entry = new TrackedRequest(sn, locator, this)
    let same = this.all.get(sn)
    if (!same) this.all.set(sn, (same = new Set()))
    same.add(entry)
    return entry
  }

  /** @internal */
  remove(entry: TrackedRequest): void {
    const same = this.all.get(entry.sn)
    if (!same) return
    same.delete(entry)
    if (same.size === 0) this.all.delete(entry.sn)
  }

  /** Number of requests tracked now. */
  get size(): number {
    let n = 0
    for (const same of this.all.values()) n += same.size
    return n
  }

  /** Whether request `sn` is tracked and cancelled. */
  cancelled(sn: string): boolean {
    return [...(this.all.get(sn) ?? [])].some(e => e.cancelled)
  }

  /**
   * Cancel request `sn`: returns `sn` when this call cancelled it, null when it already was.
   * Throws gofer's `serial number (<sn>), not-found` for a request not (or no longer) tracked.
   */
  cancel(sn: string): string | null {
    const same = this.all.get(sn)
    if (!same || same.size === 0) throw new Error(`serial number (${sn}), not-found`)
    let newly = false
    for (const entry of same) {
      if (entry.cancelled) continue
      entry.abort()
      newly = true
    }
    return newly ? sn : null
  }

  /** Serial numbers of the tracked requests whose locator matches gofer `criteria`. */
  find(criteria: unknown): string[] {
    const match = build(criteria)
    const found: string[] = []
    for (const [sn, same] of this.all) {
      if ([...same].some(e => match(e.locator))) found.push(sn)
    }
    return found
  }

  /**
   * Admin.cancel(sn, criteria): `criteria` (when given) replaces `sn`. Returns the serial
   * numbers newly cancelled.
   */
  cancelRequests(options: { sn?: unknown; criteria?: unknown }): string[] {
    const { sn, criteria } = options
    if (criteria !== undefined && criteria !== null) {
      const cancelled: string[] = []
      for (const found of this.find(criteria)) {
        if (this.cancel(found) !== null) cancelled.push(found)
      }
      return cancelled
    }
    if (sn === undefined || sn === null) return []
    if (typeof sn !== 'string') throw new TypeError(`sn must be a string, not ${JSON.stringify(sn)}`)
    const done = this.cancel(sn)
    return done === null ? [] : [done]
  }
}

/** The process-wide tracker: Admin.cancel on any plugin queue reaches any plugin's requests. */
export const tracker = new Tracker()
