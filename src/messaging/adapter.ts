// The adapter contract: what the RMI layer needs from a broker, and nothing more.
// Every adapter (memory, amqp-0-9-1, amqp-1-0) implements it and runs the same contract tests.
//
// Addresses are gofer's: `queue` (default exchange, routing key = queue) or `exchange/queue`
// (exchange = first segment, routing key = last segment).
import type { BrokerUrl } from './url.js'

/** Options for one outgoing message. */
export interface SendOptions {
  /** Message time-to-live in milliseconds; absent or 0 = no TTL. */
  ttl?: number
  /** Persistent (delivery_mode 2 / durable header). @default true */
  durable?: boolean
  /**
   * A hint, not a promise: the message may wait until the end of the current event-loop turn so
   * that it shares one socket write with the messages sent right after it (an agent's accepted
   * and started replies, which its result usually follows within microseconds). Without it the
   * message is written at once. Adapters that cannot coalesce ignore it. @default false
   */
  batch?: boolean
}

/** One received message. Exactly one of ack/reject must be called, once. */
export interface Delivery {
  /** The message body as bytes (UTF-8 JSON for gofer). */
  readonly body: Buffer
  /** True when the broker delivered this message before (it was not acked then). */
  readonly redelivered: boolean
  /** Remove the message from the queue: the request is safe (answered or journaled). */
  ack(): void
  /** Give the message back (`requeue`) or drop it. */
  reject(requeue: boolean): void
}

/** A queue as data; re-declared after every reconnect while it is declared. */
export interface QueueSpec {
  name: string
  /** @default true */
  durable?: boolean
  /** @default false */
  autoDelete?: boolean
  /** @default false */
  exclusive?: boolean
  /** Delete the queue after it has been unused for this many ms (x-expires). */
  expires?: number
  /** Bind the queue to this (existing) exchange with binding key = queue name. */
  exchange?: string
}

export interface ConsumeOptions {
  /** Unacked deliveries the broker may push at once. @default 100 */
  prefetch?: number
}

/** A running subscription; re-established after every reconnect until cancelled. */
export interface Subscription {
  readonly queue: string
  cancel(): Promise<void>
  /**
   * Stop deliveries but keep settling those already delivered (their acks still reach the
   * broker); cancel() ends the subscription. Lets a plugin drain its calls in flight on reload
   * or unload without the broker redelivering them. Optional: adapters without it are cancelled.
   */
  pause?(): Promise<void>
}

export type MessageHandler = (delivery: Delivery) => void

/**
 * A temporary, broker-named reply node owned by one connection (an AMQP 1.0 dynamic receiver).
 * It dies with its link, so after a reconnect it is a new node: read `address` for every call.
 */
export interface ReplyEndpoint extends Subscription {
  /** The address to put in `replyto` now. */
  readonly address: string
}

export type ConnectionEvent = 'connected' | 'disconnected' | 'error'

/**
 * A long-lived connection to one broker URL. Implementations reconnect by themselves with
 * jittered backoff, re-declare declared queues and resubscribe consumers.
 */
export interface Connection {
  readonly url: BrokerUrl
  /** Resolves when connected (first time); rejects with ConnectionError when it cannot connect within the adapter's deadline. */
  ready(): Promise<void>
  /**
   * Publish one message. Resolves when the broker has taken responsibility (publisher confirm);
   * rejects NotFound when the address does not route to a queue, ConnectionError when the broker
   * cannot be reached before the send deadline, ConnectionClosed after close().
   */
  send(address: string, body: Buffer, options?: SendOptions): Promise<void>
  /** Declare (and remember) a queue; binds it when `exchange` is set. */
  declareQueue(spec: QueueSpec): Promise<void>
  /** Delete a queue (missing queue is not an error) and forget its spec. */
  deleteQueue(name: string): Promise<void>
  /** True when the queue exists. */
  queueExists(name: string): Promise<boolean>
  /** Consume a queue with manual acknowledgement. Rejects NotFound when the queue is missing. */
  consume(queue: string, handler: MessageHandler, options?: ConsumeOptions): Promise<Subscription>
  /**
   * Optional (AMQP 1.0): a temporary reply node the broker names, consumed with `handler`; null
   * when the broker has none (RabbitMQ 3.10). Callers then declare a named reply queue instead.
   * Adapters without it (0-9-1, memory) always use the named queue.
   */
  replyEndpoint?(handler: MessageHandler, options?: ConsumeOptions): Promise<ReplyEndpoint | null>
  on(event: 'connected' | 'disconnected', listener: () => void): this
  on(event: 'error', listener: (error: Error) => void): this
  off(event: ConnectionEvent, listener: (...args: any[]) => void): this
  /** Close for good: subscriptions end, pending sends reject with ConnectionClosed. */
  close(): Promise<void>
}

/** TLS files and checks, from `[messaging]` of a descriptor or the caller's options. */
export interface TlsOptions {
  cacert?: string
  clientcert?: string
  clientkey?: string
  hostValidation?: boolean
}

export interface ConnectOptions {
  tls?: TlsOptions
  /** Heartbeat in seconds. @default 10 */
  heartbeat?: number
  /** How long send() waits for a (re)connection before failing, ms. @default 10000 */
  sendTimeout?: number
  /** Give up the first connect after this many ms (ready() rejects). @default 10000 */
  connectTimeout?: number
  /** Keep retrying after the first connect failed (daemons). @default true */
  retry?: boolean
}

/** A messaging adapter: a named factory of connections. */
export interface Adapter {
  /** Canonical name (`amqp-0-9-1`, `amqp-1-0`, `memory`). */
  readonly name: string
  /** Every URL prefix that selects this adapter. */
  readonly provides: readonly string[]
  connect(url: BrokerUrl, options?: ConnectOptions): Connection
}

/** Split a gofer address into exchange and routing key. */
export function splitAddress(address: string): { exchange: string; key: string } {
  if (!address.includes('/')) return { exchange: '', key: address }
  const parts = address.split('/')
  return { exchange: parts[0]!, key: parts[parts.length - 1]! }
}
