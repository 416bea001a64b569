// A one-shot cancellation flag with listeners, shaped like the part of AbortSignal gofer uses:
// a tracked request's signal (tracker.ts) and a call's Context.cancelled()/onCancel (context.ts).
/** The part of AbortSignal the request pipeline uses; AbortSignal itself satisfies it. */
export interface AbortLike {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/**
 * A one-shot cancellation flag with listeners. Not an AbortController: every request gets one,
 * and an AbortSignal (an EventTarget) costs several times more to create and to listen on,
 * on the path every call takes (bench/README.md).
 */
export class CancelSignal implements AbortLike {
  aborted = false
  reason: unknown = undefined
  private listeners: Array<() => void> | null = null

  /** Runs `listener` once at abort; nothing when already aborted (as AbortSignal). */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return
    ;(this.listeners ??= []).push(listener)
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1
    if (i >= 0) this.listeners!.splice(i, 1)
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.listeners
    this.listeners = null
    for (const listener of listeners ?? []) listener()
  }
}
