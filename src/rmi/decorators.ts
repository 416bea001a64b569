// The `remote` decorator (TC39 standard decorators: no experimentalDecorators, no metadata).
// It marks the function object itself, so collation can find remote methods by walking a class's
// prototype and remote functions among a module's exports, whatever compiled the plugin.

export type CallModel = 'direct' | 'fork'

export interface RemoteOptions {
  /** Where the call runs: in the daemon (`direct`) or in a child process (`fork`). @default 'direct' */
  model?: CallModel
  /**
   * `fork` only: seconds the child may run before it is killed and the caller gets a ChildFailed
   * exception reply. @default none (the call may run as long as it likes; Admin.cancel kills it)
   */
  timeout?: number
}

/** What a remote mark holds. */
export interface RemoteMark {
  model: CallModel
  timeout: number | null
}

const REMOTE = Symbol.for('gofer.remote')

interface Marked {
  [REMOTE]?: RemoteMark
}

function mark<F extends Function>(fn: F, options: RemoteOptions): F {
  const model = options.model ?? 'direct'
  if (model !== 'direct' && model !== 'fork') throw new TypeError('model must be: direct|fork')
  const timeout = options.timeout ?? null
  if (timeout !== null && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) throw new TypeError('timeout must be a number of seconds > 0')
  Object.defineProperty(fn, REMOTE, { value: { model, timeout } satisfies RemoteMark, configurable: true })
  return fn
}

/** The remote options of `fn`, or null when it is not remote. */
export function remoteOptions(fn: unknown): RemoteMark | null {
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

/**
 * `@fork`: a remote method run in a child process (crash, leak and hang isolation; a cancel kills
 * it). Same as `@remote({model: 'fork'})`; `@fork({timeout: 60})` adds a deadline in seconds.
 *
 * @example
 * export class Disk { @fork({ timeout: 600 }) scrub(device: string) { ... } }
 */
export function fork<F extends Function>(fn: F, context?: ClassMethodDecoratorContext): F
export function fork(options?: Omit<RemoteOptions, 'model'>): <F extends Function>(fn: F, context?: ClassMethodDecoratorContext) => F
export function fork(arg?: Function | Omit<RemoteOptions, 'model'>, context?: unknown): unknown {
  if (typeof arg === 'function') return remote({ model: 'fork' })(arg, context as ClassMethodDecoratorContext | undefined)
  return remote({ ...arg, model: 'fork' })
}

/** `@direct`: a remote method run inside goferd (the default; same as `@remote`). */
export function direct<F extends Function>(fn: F, context?: ClassMethodDecoratorContext): F {
  return remote({ model: 'direct' })(fn, context)
}

// @action, @load, @unload mark the function object the same way (symbols, no registry), so a
// reload's fresh import brings fresh marks and nothing leaks between plugins (gofer's global
// registries are why its report listed only the last plugin's actions).

/** When an action runs: a recurring interval, a cron pattern, or (neither) once at load. */
export interface ActionOptions {
  weeks?: number
  days?: number
  hours?: number
  minutes?: number
  seconds?: number
  /** A 5- or 6-field cron pattern, e.g. `*\/5 * * * *` (croner syntax). */
  cron?: string
}

const ACTION = Symbol.for('gofer.action')
const HOOK = Symbol.for('gofer.hook')

export type HookKind = 'load' | 'unload'

type MemberDecorator = <F extends Function>(fn: F, context?: ClassMethodDecoratorContext) => F

function checkAction(options: ActionOptions): void {
  const units = ['weeks', 'days', 'hours', 'minutes', 'seconds'] as const
  for (const unit of units) {
    const v = options[unit]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new TypeError(`action ${unit} must be a number >= 0`)
  }
  if (options.cron !== undefined && typeof options.cron !== 'string') throw new TypeError('action cron must be a string')
  if (options.cron !== undefined && units.some(u => options[u] !== undefined)) throw new TypeError('action takes either cron or an interval, not both')
}

function markAction<F extends Function>(fn: F, options: ActionOptions): F {
  if (typeof fn !== 'function') throw new TypeError('action() marks a function or a method')
  Object.defineProperty(fn, ACTION, { value: { ...options }, configurable: true })
  return fn
}

/** The action options of `fn`, or null when it is not an action. */
export function actionOptions(fn: unknown): ActionOptions | null {
  return typeof fn === 'function' ? ((fn as unknown as Record<symbol, ActionOptions>)[ACTION] ?? null) : null
}

/**
 * Run a function or method on a schedule while the plugin is loaded.
 *
 * @example
 * export class Heartbeat { @action({ seconds: 30 }) beat() { ... } }   // every 30 s
 * export const sweep = action({ cron: '0 3 * * *' })(function sweep() { ... })
 * export const once = action()(function warmUp() { ... })               // once, at load
 */
export function action<F extends Function>(fn: F, context?: ClassMethodDecoratorContext): F
export function action(options?: ActionOptions): MemberDecorator
export function action(arg?: Function | ActionOptions, _context?: unknown): unknown {
  if (typeof arg === 'function') return markAction(arg, {})
  const options = arg ?? {}
  checkAction(options)
  return <F extends Function>(fn: F): F => markAction(fn, options)
}

function markHook(kind: HookKind): { <F extends Function>(fn: F, context?: ClassMethodDecoratorContext): F } {
  return <F extends Function>(fn: F, context?: ClassMethodDecoratorContext): F => {
    if (typeof fn !== 'function') throw new TypeError(`${kind}() marks a function or a method`)
    if (context !== undefined && (!isDecoratorContext(context) || context.kind !== 'method')) throw new TypeError(`@${kind} applies to methods and functions`)
    Object.defineProperty(fn, HOOK, { value: kind, configurable: true })
    return fn
  }
}

/** Whether `fn` is a @load or @unload hook. */
export function hookKind(fn: unknown): HookKind | null {
  return typeof fn === 'function' ? ((fn as unknown as Record<symbol, HookKind>)[HOOK] ?? null) : null
}

/** Mark a hook run after the plugin is imported; returning false (or throwing) refuses the plugin. */
export const load = markHook('load')
/** Mark a hook run when the plugin is unloaded, reloaded, or goferd shuts down. */
export const unload = markHook('unload')
