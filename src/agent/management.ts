// goferd's management server (reference/gofer.md §5): gofer's protocol, so the Python
// `gofer mgt` works against us. Plain TCP, one request per connection: a JSON document
// {"args": [...], "kwargs": {...}, "name": "<method>"} answered with {"code": 0|1, "result": ...}
// and the connection closed. Fixes over gofer: the request is read until it parses (gofer did
// one recv(4096)) or the client half-closes, with a size limit; replies of any size; connections
// are served concurrently (load/reload/unload are serialised by the daemon). Bad input of any kind
// gets code 1 and a message; nothing a client sends can stop goferd.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Logger } from '../log.js'

export interface ManagementHandlers {
  /** The report text (§5.3). */
  show(): string | Promise<string>
  load(path: string): Promise<unknown>
  reload(nameOrPath: string): Promise<unknown>
  unload(nameOrPath: string): Promise<unknown>
  /** Admin.cancel's work (sn or criteria); absent until the process has a request tracker. */
  cancel?(options: { sn?: string; criteria?: unknown }): unknown
}

export interface ManagementOptions {
  host: string
  port: number
  log: Logger
  /** Largest request accepted. @default 1 MiB */
  maxRequestBytes?: number
  /** A connection that sends no complete request within this is answered and closed. @default 10 s */
  idleMs?: number
}

export interface Reply {
  code: 0 | 1
  result: unknown
}

export const METHODS = ['show', 'load', 'reload', 'unload', 'cancel'] as const

function pathArgument(name: string, args: unknown[], kwargs: Record<string, unknown>): string {
  const value = args[0] ?? kwargs.path ?? kwargs.name
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${name}: a plugin ${name === 'load' ? 'descriptor path' : 'name or descriptor path'} is required`)
  return value.trim()
}

/** Answer one decoded request. Never throws. */
export async function handleRequest(handlers: ManagementHandlers, request: unknown): Promise<Reply> {
  try {
    if (request === null || typeof request !== 'object' || Array.isArray(request)) throw new Error('request must be a JSON object {"name": ..., "args": [...], "kwargs": {...}}')
    const { name, args = [], kwargs = {} } = request as { name?: unknown; args?: unknown; kwargs?: unknown }
    if (typeof name !== 'string') throw new Error('request has no "name" (the method: show, load, reload, unload, cancel)')
    if (!Array.isArray(args)) throw new Error('"args" must be a list')
    if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new Error('"kwargs" must be an object')
    const kw = kwargs as Record<string, unknown>
    let result: unknown
    switch (name) {
      case 'show':
        result = await handlers.show()
        break
      case 'load':
        result = await handlers.load(pathArgument(name, args, kw))
        break
      case 'reload':
        result = await handlers.reload(pathArgument(name, args, kw))
        break
      case 'unload':
        result = await handlers.unload(pathArgument(name, args, kw))
        break
      case 'cancel': {
        if (!handlers.cancel) throw new Error('cancel: not available in this goferd')
        const sn = kw.sn ?? args[0]
        const criteria = kw.criteria ?? args[1]
        if (sn !== undefined && sn !== null && typeof sn !== 'string') throw new Error('cancel: sn must be a string')
        result = await handlers.cancel({ sn: (sn as string | null) ?? undefined, criteria: criteria ?? undefined })
        break
      }
      default:
        throw new Error(`method "${name}" not supported (${METHODS.join(', ')})`)
    }
    return { code: 0, result: result === undefined ? null : result }
  } catch (error) {
    return { code: 1, result: error instanceof Error ? error.message : String(error) }
  }
}

/** A complete request if `text` holds one; undefined while more may come. Throws on bad JSON at EOF only. */
function tryParse(text: string): { value: unknown } | undefined {
  // Requests are objects, so nothing can be complete until the text ends with `}`.
  if (!text.trimEnd().endsWith('}')) return undefined
  try {
    return { value: JSON.parse(text) }
  } catch {
    return undefined
  }
}

export class ManagementServer {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()

  constructor(private readonly handlers: ManagementHandlers, private readonly options: ManagementOptions) {}

  /** Listen; resolves with the bound address (port 0 picks a free one). Rejects if it cannot bind. */
  async start(): Promise<AddressInfo> {
    // Half-open: a client that half-closes after its request (ours does) must still get the
    // reply, which is written later, after load/reload/unload finish.
    const server = createServer({ allowHalfOpen: true }, socket => this.serve(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // gofer's client (Python, AF_INET) connects to localhost as 127.0.0.1.
      const host = this.options.host === 'localhost' ? '127.0.0.1' : this.options.host
      server.listen({ host, port: this.options.port, backlog: 16 }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', error => this.options.log.error({ err: error }, 'management server error'))
    this.server = server
    const address = server.address() as AddressInfo
    this.options.log.info({ host: address.address, port: address.port }, 'management listening')
    return address
  }

  get address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = null
    if (!server) return
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  private serve(socket: Socket): void {
    const { log } = this.options
    const limit = this.options.maxRequestBytes ?? 1 << 20
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', error => log.debug({ err: error.message }, 'management connection error'))
    socket.setTimeout(this.options.idleMs ?? 10_000)
    const chunks: Buffer[] = []
    let size = 0
    let answered = false
    const answer = (reply: Promise<Reply> | Reply): void => {
      if (answered) return
      answered = true
      // No idle limit while a reload drains; whatever else the client sends is read and dropped
      // (closing with unread data would reset the connection and could lose the reply).
      socket.setTimeout(0)
      socket.removeAllListeners('data')
      void Promise.resolve(reply).then(r => {
        if (socket.destroyed) return
        socket.setTimeout(10_000)
        let text: string
        try {
          text = JSON.stringify(r)
        } catch (error) {
          text = JSON.stringify({ code: 1, result: `reply not serialisable: ${(error as Error).message}` })
        }
        socket.end(text)
      })
    }
    const text = (): string => Buffer.concat(chunks, size).toString('utf8')
    socket.on('data', chunk => {
      size += chunk.length
      if (size > limit) {
        log.warn({ remote: socket.remoteAddress, bytes: size }, 'management request too large')
        answer({ code: 1, result: `request too large (limit ${limit} bytes)` })
        return
      }
      chunks.push(chunk)
      const parsed = tryParse(text())
      if (parsed) answer(this.dispatch(parsed.value))
    })
    socket.on('end', () => {
      if (answered) return
      const all = text()
      if (all.trim() === '') return answer({ code: 1, result: 'empty request' })
      try {
        answer(this.dispatch(JSON.parse(all)))
      } catch (error) {
        answer({ code: 1, result: `request is not valid JSON: ${(error as Error).message}` })
      }
    })
    socket.on('timeout', () => {
      if (answered) socket.destroy()
      else answer({ code: 1, result: 'incomplete request (timed out waiting for a complete JSON document)' })
    })
  }

  private async dispatch(request: unknown): Promise<Reply> {
    const name = (request as { name?: unknown } | null)?.name
    const reply = await handleRequest(this.handlers, request)
    this.options.log.info({ method: typeof name === 'string' ? name : null, code: reply.code, ...(reply.code ? { error: reply.result } : {}) }, 'management request')
    return reply
  }
}
