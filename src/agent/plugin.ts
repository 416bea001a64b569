// A loaded plugin: its descriptor, its module's catalog, and its binding to a broker queue
// (reference/gofer.md §4.4, §4.18, §2.7). Plugin.find(name) gives plugin code its descriptor.
import type { Connection, QueueSpec, Subscription } from '../messaging/adapter.js'
import { acquireConnection, type ConnectionLease } from '../messaging/registry.js'
import { ConnectionClosed, NotFound, PluginError } from '../errors.js'
import { logger, type Logger } from '../log.js'
import { collate, type Catalog } from '../rmi/catalog.js'
import { Dispatcher } from '../rmi/dispatcher.js'
import { builtinCatalog, BUILTIN_CLASS, builtinExecutor } from './builtin.js'
import type { Descriptor } from './descriptor.js'
import { splitModelQueue } from './descriptor.js'
import { Executor } from './executor.js'
import { importPlugin, locatePlugin } from './loader.js'
import { RequestHandler } from './request-handler.js'
import { container } from './container.js'
import type { Sections } from './config-file.js'
import { loadExternalAgents, type ExternalAgents } from './external/discover.js'
import { addToCatalog } from './external/namespace.js'
import { ExternalWatcher } from './external/watch.js'
import { ActionScheduler } from './actions.js'
import { ForwardingDispatcher } from './forwarding.js'
import { Hooks } from './hooks.js'
import { Journal, pendingDir } from './journal.js'
import { runForked } from './fork/call.js'
import { discardSpares } from './fork/spares.js'
import { registerCallModel } from '../rmi/dispatcher.js'

registerCallModel('fork', runForked)

/** How long stop() waits for calls in flight to be answered. */
const DRAIN_MS = 30_000

export class Plugin {
  /** The loaded plugin named `name` (or loaded from descriptor path `name`), or null. */
  static find(name: string): Plugin | null {
    // While a plugin loads (gofer's `Plugin.find(__name__)` at import time), or reloads, it is
    // the one its code means.
    return container.findLoading(name) ?? container.find(name)
  }

  /** Every loaded plugin, in load order. */
  static all(): Plugin[] {
    return container.all()
  }

  readonly log: Logger
  catalog: Catalog = new Map()
  modulePath: string | null = null
  /** Choria external agents from `[external]` (set by load()), active, declined and refused. */
  external: ExternalAgents | null = null
  private externalWatcher: ExternalWatcher | null = null
  /** The module's @action schedule (set by load()). */
  actions: ActionScheduler | null = null
  /** The module's @load/@unload hooks (set by load()). */
  hooks = new Hooks([], [])
  private activated = false
  private lease: ConnectionLease | null = null
  private subscription: Subscription | null = null
  private handler: RequestHandler | null = null
  private stopping = false
  private attachDone: Promise<void> | null = null

  constructor(readonly descriptor: Descriptor, private readonly options: { url?: string; pluginPath: string[]; stateDir?: string | null; journalAfterMs?: number }) {
    this.log = logger(descriptor.name)
  }

  get name(): string {
    return this.descriptor.name
  }

  get path(): string {
    return this.descriptor.path
  }

  /** The descriptor's sections: `plugin.cfg.main.threads`, custom sections included. */
  get cfg(): Sections {
    return this.descriptor.cfg
  }

  /** Plugins this one accepts forwarded calls from (`[main] accept`, `*` = all). */
  get accept(): string[] {
    return this.descriptor.accept
  }

  /** Plugins this one may forward calls to (`[main] forward`, `*` = all). */
  get forward(): string[] {
    return this.descriptor.forward
  }

  /** The broker URL in use (the daemon may override the descriptor's). */
  get url(): string | null {
    return this.options.url ?? this.descriptor.url
  }

  /** Import the module and collate its remote namespaces. Throws PluginError. */
  async load(fresh = false): Promise<void> {
    // A descriptor with [external] and no [main] plugin serves external agents only.
    const moduleless = this.descriptor.external !== null && this.descriptor.plugin === null
    this.modulePath = moduleless ? null : locatePlugin(this.name, this.descriptor.plugin, this.descriptor.path, this.options.pluginPath)
    const exports = this.modulePath === null ? {} : await importPlugin(this.modulePath, fresh)
    this.catalog = collate(this.name, exports)
    this.hooks = Hooks.fromExports(this.name, exports)
    this.actions = ActionScheduler.fromExports(this.name, exports, this.log)
    // A fork-model call imports the module again in its child process.
    for (const ns of this.catalog.values()) ns.source = this.modulePath
    if (this.descriptor.external) {
      this.external = await loadExternalAgents(this.descriptor.external, this.log, new Set(this.catalog.keys()))
      addToCatalog(this.catalog, this.external)
    }
    this.log.info({ module: this.modulePath, namespaces: [...this.catalog.keys()] }, 'plugin loaded')
  }

  /** Run the @load hooks; throws PluginError when one refuses (the plugin must not start). */
  async activate(): Promise<void> {
    await this.hooks.runLoad(this, this.log)
    this.activated = true
  }

  /** Start the actions, connect and consume `[model] queue` (if the plugin has a URL and a queue). */
  start(): void {
    this.actions?.start()
    if (this.external) {
      // Choria re-scans its agent directories: new, changed and removed agents while running.
      this.externalWatcher = new ExternalWatcher(this.external, this.catalog, this.log)
      this.externalWatcher.start(this.external.settings.rescan)
    }
    const url = this.url
    if (!url || !this.descriptor.queue) {
      this.log.info('no [messaging] url or [model] queue: not attached to a broker')
      return
    }
    const d = this.descriptor
    this.lease = acquireConnection(url, {
      heartbeat: d.messaging.heartbeat,
      tls: {
        cacert: d.messaging.cacert ?? undefined,
        clientcert: d.messaging.clientcert ?? undefined,
        clientkey: d.messaging.clientkey ?? undefined,
        hostValidation: d.messaging.hostValidation,
      },
    })
    const connection = this.lease.connection
    this.handler = new RequestHandler({
      connection,
      log: this.log,
      module: this.name,
      // Its own classes, then other plugins' as `[main] forward`/`accept` allow (§4.10).
      dispatcher: new ForwardingDispatcher(this, () => container.all()),
      executor: new Executor(d.threads),
      builtin: { classname: BUILTIN_CLASS, dispatcher: new Dispatcher([{ module: 'gofer.agent.builtin', catalog: builtinCatalog }]), executor: builtinExecutor },
      latency: d.latency,
      // With a state directory, requests are journaled before the ack and replayed at start.
      journal: this.options.stateDir ? Journal.at(pendingDir(this.options.stateDir, this.name), this.log) : null,
      journalAfterMs: this.options.journalAfterMs,
    })
    const handler = this.handler
    // Journaled requests first (they are older than anything the queue will deliver).
    this.attachDone = handler.replay().then(() => this.attach(connection))
  }

  /** Resolves once the plugin consumes its queue (tests and the demo wait on it). */
  async attached(): Promise<void> {
    await this.attachDone
  }

  private queueSpec(): QueueSpec {
    const { exchange, queue } = splitModelQueue(this.descriptor.queue!)
    const expiration = this.descriptor.expiration
    return {
      name: queue,
      durable: true,
      autoDelete: expiration > 0,
      expires: expiration > 0 ? expiration * 1000 : undefined,
      exchange: exchange ?? undefined,
    }
  }

  /** Declare (managed >= 1) and consume, retrying until it works or the plugin stops. */
  private async attach(connection: Connection): Promise<void> {
    const spec = this.queueSpec()
    let delay = 500
    while (!this.stopping) {
      try {
        if (this.descriptor.managed >= 1) await connection.declareQueue(spec)
        this.subscription = await connection.consume(spec.name, this.handler!.onDelivery, {
          prefetch: Math.max(100, this.descriptor.threads * 2),
        })
        if (this.stopping) await this.subscription.cancel()
        else this.log.info({ queue: spec.name, url: connection.url.host }, 'consuming')
        return
      } catch (error) {
        if (error instanceof ConnectionClosed || this.stopping) return
        const why = error instanceof NotFound ? 'queue not found (managed=0?)' : (error as Error).message
        this.log.warn({ queue: spec.name, retryIn: delay }, `attach failed: ${why}`)
        await new Promise(resolve => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, 10_000)
      }
    }
  }

  /**
   * Stop consuming, let calls in flight finish and send their replies, then release the
   * connection. With `teardown` and managed=2 the queue is deleted (unload).
   */
  async stop(teardown = false): Promise<void> {
    this.stopping = true
    await this.actions?.stop()
    await this.externalWatcher?.stop()
    // Pause rather than cancel where the adapter can: the calls in flight are then acked when
    // answered, instead of being redelivered (and run again) once the channel closes.
    const subscription = this.subscription
    if (subscription?.pause) await subscription.pause().catch(error => this.log.warn({ err: error }, 'pause failed'))
    else await subscription?.cancel().catch(error => this.log.warn({ err: error }, 'cancel failed'))
    if (this.handler && this.handler.pending > 0) {
      this.log.info({ pending: this.handler.pending }, 'waiting for calls in flight')
      const done = await this.handler.drain(DRAIN_MS)
      if (!done) this.log.warn({ pending: this.handler.pending }, 'calls still running after the drain deadline')
    }
    if (subscription?.pause) await subscription.cancel().catch(error => this.log.warn({ err: error }, 'cancel failed'))
    this.subscription = null
    // Unload forgets the plugin's pending store (kept while a call is still running).
    if (teardown) await this.handler?.discardJournal()
    // Spare fork children hold this code: a reload must not serve calls with it.
    if (this.modulePath) discardSpares(this.modulePath)
    if (teardown && this.descriptor.managed === 2 && this.lease && this.descriptor.queue) {
      await this.lease.connection.deleteQueue(this.queueSpec().name).catch(error => this.log.warn({ err: error }, 'queue delete failed'))
    }
    await this.lease?.release()
    this.lease = null
    // After the last reply went out, so a hook releasing resources cannot break a call in flight.
    if (this.activated) {
      this.activated = false
      await this.hooks.runUnload(this, this.log)
    }
  }
}

export { BUILTIN_CLASS }
