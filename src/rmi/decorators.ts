// The `remote` decorator (TC39 standard decorators: no experimentalDecorators, no metadata).
// It marks the function object itself, so collation can find remote methods by walking a class's
// prototype and remote functions among a module's exports, whatever compiled the plugin.

export type CallModel = 'direct' | 'fork'

export interface RemoteOptions {
  /** Where the call runs: in the daemon (`direct`) or in a child process (`fork`). @default 'direct' */
  model?: CallModel
}

const REMOTE = Symbol.for('gofer.remote')

interface Marked {
  [REMOTE]?: Required<RemoteOptions>
}

function mark<F extends Function>(fn: F, options: RemoteOptions): F {
  const model = options.model ?? 'direct'
  if (model !== 'direct' && model !== 'fork') throw new TypeError('model must be: direct|fork')
  Object.defineProperty(fn, REMOTE, { value: { model }, configurable: true })
  return fn
}

/** The remote options of `fn`, or null when it is not remote. */
export function remoteOptions(fn: unknown): Required<RemoteOptions> | null {
  return typeof fn === 'function' ? ((fn as Marked)[REMOTE] ?? null) : null
}

function isDecoratorContext(value: unknown): value is ClassMethodDecoratorContext {
  return value !== null && typeof value === 'object' && typeof (value as { kind?: unknown }).kind === 'string'
}

/**
 * Expose a method or function for remote invocation.
 *
 * @example
 * export class Dog { @remote bark(words: string) { return `Ruf ${words}` } }
 * export class Cat { @remote({ model: 'direct' }) meow() { return 'meow' } }
 * export const echo = remote((thing: unknown) => thing)   // namespace = plugin name
 */
export function remote<F extends Function>(fn: F, context?: ClassMethodDecoratorContext): F
export function remote(options?: RemoteOptions): <F extends Function>(fn: F, context?: ClassMethodDecoratorContext) => F
export function remote(arg?: Function | RemoteOptions, context?: unknown): unknown {
  if (typeof arg === 'function') {
    if (context !== undefined && !isDecoratorContext(context)) throw new TypeError('remote(fn) takes one function')
    if (isDecoratorContext(context) && context.kind !== 'method') throw new TypeError(`@remote applies to methods, not a ${context.kind}`)
    return mark(arg, {})
  }
  const options = arg ?? {}
  return <F extends Function>(fn: F, ctx?: ClassMethodDecoratorContext): F => {
    if (ctx !== undefined && ctx.kind !== 'method') throw new TypeError(`@remote applies to methods, not a ${ctx.kind}`)
    return mark(fn, options)
  }
}
