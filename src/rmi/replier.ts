// Sends an agent's replies for one request to its `replyto` (reference/gofer.md §1.4):
// accepted, started, progress, then the result. No replyto, no replies. Replies are published in
// call order on the shared connection, so progress can never overtake the result.
import type { Connection } from '../messaging/adapter.js'
import type { Logger } from '../log.js'
import { ReplyEncoder, type ResultBody } from './envelope.js'
import { failureOf } from './failure.js'
import { NotSerializable } from './json.js'
import type { Rejection } from './validate.js'

const BATCH = { batch: true } as const

export class Replier {
  private readonly encoder: ReplyEncoder | null
  constructor(
    private readonly connection: Connection,
    private readonly log: Logger,
    private readonly sn: unknown,
    data: unknown,
    private readonly replyto: string | null,
  ) {
    this.encoder = replyto ? new ReplyEncoder({ sn, data, replyto }) : null
  }

  /** Whether the caller asked for replies. */
  get wanted(): boolean {
    return this.encoder !== null
  }

  /** `batch`: a status reply, which may share a socket write with the reply after it (SendOptions.batch). */
  private send(kind: string, encode: (encoder: ReplyEncoder) => string, batch = false): Promise<void> {
    const encoder = this.encoder
    if (!encoder) return Promise.resolve()
    let body: string
    try {
      body = encode(encoder)
    } catch (error) {
      this.log.error({ err: error, sn: this.sn, kind }, 'reply not serialisable; dropped')
      return Promise.resolve()
    }
    return this.connection.send(this.replyto!, Buffer.from(body, 'utf8'), batch ? BATCH : undefined).catch(error => {
      this.log.warn({ err: error, sn: this.sn, replyto: this.replyto, kind }, 'reply not delivered')
    })
  }

  accepted(): Promise<void> {
    return this.send('accepted', e => e.status('accepted'), true)
  }

  started(): Promise<void> {
    return this.send('started', e => e.status('started'), true)
  }

  rejected(rejection: Rejection): Promise<void> {
    return this.send('rejected', e => e.rejected(rejection.code, rejection.description, rejection.details))
  }

  progress(total: number, completed: number, details: unknown): Promise<void> {
    return this.send('progress', e => e.progress(total, completed, details))
  }

  /**
   * The final reply. A return value that JSON cannot carry becomes gofer's TypeError exception
   * reply instead (Python gofer does the same check), so the caller always gets an answer.
   */
  result(result: ResultBody, module: string): Promise<void> {
    return this.send('result', e => {
      try {
        return e.result(result)
      } catch (error) {
        if (!(error instanceof NotSerializable)) throw error
        return e.result(failureOf(error, module))
      }
    })
  }
}
