// How gofer addresses become AMQP 1.0 node addresses, per broker family. AMQP 1.0 leaves
// addressing to the broker, so we look at the broker's `open` frame and pick a dialect.
//
// RabbitMQ 3.x (the rabbitmq_amqp1_0 plugin, "v1" addresses; brokers.md §4.1):
//   queue `Q`         → `/amq/queue/Q`: an existing queue only. `/queue/Q` would declare a missing
//                       queue (non-durable), turning a send to a missing agent into a silent
//                       success and clashing with gofer's durable queues (precondition-failed).
//                       A sender on `/amq/queue/Q` attaches even when Q is missing and the broker
//                       then drops every message, so the adapter checks that Q exists before the
//                       first send (see topology.ts) and caches the answer per connection.
//   `EX/KEY`          → `/exchange/EX/KEY` (a missing exchange ends the session: amqp:not-found).
//   consume `Q`       → `/amq/queue/Q` (a missing queue ends the session: amqp:not-found).
// Any other broker (Qpid Proton brokers, qpidd, dispatch router, Artemis, RabbitMQ 4 with its own
// address scheme): the gofer address is the node address, unchanged, as Python gofer's proton
// adapter does.
import type { Connection as RheaConnection } from 'rhea'
import { splitAddress } from '../adapter.js'

export type DialectName = 'rabbitmq-v1' | 'plain'

export interface Dialect {
  readonly name: DialectName
  /** The sender target for a gofer address, and the queue that must exist first (if any). */
  target(address: string): { node: string; queue: string | null; exchange: string | null }
  /** The receiver source for a queue. */
  source(queue: string): string
}

const rabbitmqV1: Dialect = {
  name: 'rabbitmq-v1',
  target(address) {
    const { exchange, key } = splitAddress(address)
    if (exchange === '') return { node: `/amq/queue/${key}`, queue: key, exchange: null }
    return { node: `/exchange/${exchange}/${key}`, queue: null, exchange }
  },
  source: queue => `/amq/queue/${queue}`,
}

const plain: Dialect = {
  name: 'plain',
  target: address => ({ node: address, queue: null, exchange: null }),
  source: queue => queue,
}

/** The broker's product and version from its open frame (not in rhea's typings). */
export function peerProduct(conn: RheaConnection): { product: string | null; version: string | null } {
  const props = (conn as unknown as { remote?: { open?: { properties?: Record<string, unknown> } } }).remote?.open?.properties ?? {}
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : v != null ? String(v) : null)
  return { product: text(props.product), version: text(props.version) }
}

/** The dialect for the broker behind an open connection. */
export function dialectOf(conn: RheaConnection): Dialect {
  const { product, version } = peerProduct(conn)
  if (product === 'RabbitMQ' && (version === null || /^3\./.test(version))) return rabbitmqV1
  return plain
}
