// The benchmark plugin goferd serves (loaded from this TypeScript source by goferd's esbuild
// loader hook): an echo for round trips, and a counter for fire-and-forget calls, which have no
// reply to wait for.
import { remote } from 'gofer'

let ticks = 0

export class Bench {
  @remote echo(x: unknown): unknown {
    return x
  }

  /** Count one fire-and-forget call. */
  @remote tick(_x?: unknown): null {
    ticks++
    return null
  }

  /** How many tick() calls ran since the last reset(). */
  @remote ticks(): number {
    return ticks
  }

  @remote reset(): number {
    ticks = 0
    return ticks
  }
}
