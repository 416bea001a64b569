// Reconnect delays: exponential with jitter.
// Jitter matters because every agent on a host (and every host behind one broker) loses the broker
// at the same instant when it restarts; without it they would all hammer it at the same instants.

export interface BackoffOptions {
  /** First delay, ms. */
  initial: number
  /** Ceiling of the (un-jittered) delay, ms. */
  max: number
  /** Growth per attempt. */
  factor: number
  /** Relative spread: 0.3 means each delay is drawn from [0.7 d, 1.3 d]. */
  jitter: number
}

/** 100 ms doubling to 5 s, ±30 %: a restarted local broker is found again within a few seconds. */
export const DEFAULT_BACKOFF: BackoffOptions = { initial: 100, max: 5000, factor: 2, jitter: 0.3 }

/** Hands out successive delays; reset() after a success so the next outage starts fast again. */
export class Backoff {
  private attempt = 0

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  next(): number {
    const { initial, max, factor, jitter } = this.options
    const base = Math.min(max, initial * Math.pow(factor, this.attempt))
    // Stop growing the exponent once the ceiling is reached (no Infinity after many failures).
    if (base < max) this.attempt++
    const spread = 1 + jitter * (2 * Math.random() - 1)
    return Math.max(0, Math.round(base * spread))
  }

  reset(): void {
    this.attempt = 0
  }
}

/** A plain sleep (short waits between retries of one operation). */
export function delay(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))
}
