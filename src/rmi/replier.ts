// Sends an agent's replies for one request to its `replyto` (reference/gofer.md §1.4):
// accepted, started, progress, then the result. No replyto, no replies. Replies are published in
// call order on the shared connection, so progress can never overtake the result.
import type { Connection } from '../messaging/adapter.js'
import type { Logger } from '../log.js'
import { encodeProgress, encodeRejected, encodeResult, encodeStatus, type ReplyHead, type ResultBody } from './envelope.js'
import { failureOf } from './failure.js'
import { NotSerializable } from './json.js'
import type { Rejection } from './validate.js'

export class Replier {
  private readonly head: ReplyHead | null
  constructor(
    private readonly connection: Connection,
    private readonly log: Logger,
    sn: unknown,
    data: unknown,
    replyto: string | null,
  ) {
    this.head = replyto ? { sn, data, replyto } : null
  }

  /** Whether the caller asked for replies. */
  get wanted(): boolean {
    return this.head !== null
  }

  private send(kind: string, encode: (head: ReplyHead) => string): Promise<void> {
    const head = this.head
    if (!head) return Promise.resolve()
    let body: string
    try {
      body = encode(head)
    } catch (error) {
      this.log.error({ err: error, sn: head.sn, kind }, 'reply not serialisable; dropped')
      return Promise.resolve()
    }
    return this.connection.send(head.replyto, Buffer.from(body, 'utf8')).catch(error => {
      this.log.warn({ err: error, sn: head.sn, replyto: head.replyto, kind }, 'reply not delivered')
    })
  }

  accepted(): Promise<void> {
    return this.send('accepted', head => encodeStatus(head, 'accepted'))
  }

  started(): Promise<void> {
    return this.send('started', head => encodeStatus(head, 'started'))
  }

  rejected(rejection: Rejection): Promise<void> {
    return this.send('rejected', head => encodeRejected(head, rejection.code, rejection.description, rejection.details))
  }

  progress(total: number, completed: number, details: unknown): Promise<void> {
    return this.send('progress', head => encodeProgress(head, total, completed, details))
  }

  /**
   * The final reply. A return value that JSON cannot carry becomes gofer's TypeError exception
   * reply instead (Python gofer does the same check), so the caller always gets an answer.
   */
  result(result: ResultBody, module: string): Promise<void> {
    return this.send('result', head => {
      try {
        return encodeResult(head, result)
      } catch (error) {
        if (!(error instanceof NotSerializable)) throw error
        return encodeResult(head, failureOf(error, module))
      }
    })
  }
}
