// Queues as data: declare/bind/delete/check, and the remembered specs that are re-declared on
// every new connection (a broker restart loses non-durable queues; a new connection loses
// exclusive ones; auto-delete queues vanish with their last consumer).
import type { ChannelModel, Options } from 'amqplib'
import { NotFound } from '../../errors.js'
import { logger } from '../../log.js'
import type { QueueSpec } from '../adapter.js'
import { delay } from '../backoff.js'
import { brokerReason, isConnectionLoss, isNotFound, replyCode, RESOURCE_LOCKED, withChannel } from './channels.js'

const log = logger('gofer.messaging')

/** How long a restore keeps retrying an exclusive queue the broker still holds for our old connection. */
const LOCKED_RETRY_MS = 5000

/** The assertQueue options for a spec. Only x-expires as an argument, as gofer does. */
export function queueOptions(spec: QueueSpec): Options.AssertQueue {
  return {
    durable: spec.durable ?? true,
    autoDelete: spec.autoDelete ?? false,
    exclusive: spec.exclusive ?? false,
    arguments: spec.expires ? { 'x-expires': spec.expires } : undefined,
  }
}

/** Declare and (when spec.exchange is set) bind, on a throwaway channel. */
export async function declareQueue(model: ChannelModel, spec: QueueSpec): Promise<void> {
  try {
    await withChannel(model, `declare ${spec.name}`, async ch => {
      await ch.assertQueue(spec.name, queueOptions(spec))
      // Binding key = queue name, exactly as gofer binds (reference/gofer.md §2.3).
      if (spec.exchange) await ch.bindQueue(spec.name, spec.exchange, spec.name)
    })
  } catch (err) {
    // The only 404 here is a missing exchange in bindQueue.
    if (isNotFound(err)) throw new NotFound(spec.exchange ?? spec.name, brokerReason(err))
    throw err
  }
}

/** Delete a queue; a missing queue is fine (RabbitMQ 3.10 answers ok anyway, older ones 404). */
export async function deleteQueue(model: ChannelModel, name: string): Promise<void> {
  try {
    await withChannel(model, `delete ${name}`, ch => ch.deleteQueue(name))
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
}

/** Passive declare: a missing queue answers 404 (closing only the throwaway channel). */
export async function queueExists(model: ChannelModel, name: string): Promise<boolean> {
  try {
    await withChannel(model, `check ${name}`, ch => ch.checkQueue(name))
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    // Exclusive to another connection: it exists, we just may not touch it.
    if (replyCode(err) === RESOURCE_LOCKED) return true
    throw err
  }
}

/** The queues this connection declared, in declaration order, to re-declare after a reconnect. */
export class QueueRegistry {
  private readonly specs = new Map<string, QueueSpec>()

  remember(spec: QueueSpec): void {
    // Re-insert so the order follows the latest declaration.
    this.specs.delete(spec.name)
    this.specs.set(spec.name, { ...spec })
  }

  forget(name: string): void {
    this.specs.delete(name)
  }

  has(name: string): boolean {
    return this.specs.has(name)
  }

  /**
   * Re-declare every remembered queue on a fresh connection. A connection loss is thrown (the
   * caller reconnects again); a broker verdict on one queue is reported and the rest go on,
   * because one queue that can no longer be declared must not keep the whole connection down.
   */
  async restore(model: ChannelModel, report: (err: Error) => void): Promise<void> {
    for (const spec of [...this.specs.values()]) {
      const started = Date.now()
      for (;;) {
        try {
          await declareQueue(model, spec)
          break
        } catch (err) {
          if (isConnectionLoss(err)) throw err
          // An exclusive queue stays locked by our previous connection until the broker notices
          // that connection is gone (immediate on a reset socket, up to a heartbeat otherwise).
          if (replyCode(err) === RESOURCE_LOCKED && Date.now() - started < LOCKED_RETRY_MS) {
            await delay(200)
            continue
          }
          log.error({ queue: spec.name, err: (err as Error).message }, 'cannot re-declare queue after reconnect')
          report(err as Error)
          break
        }
      }
    }
  }
}
