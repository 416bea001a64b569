// A loopback TCP proxy in front of RabbitMQ, so a test can cut every connection (as a broker
// restart or a network failure does) and refuse new ones for a while, with a real broker behind.
import { createServer, connect, type Server, type Socket } from 'node:net'

export class TcpProxy {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  private refusing = false
  port = 0

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async start(): Promise<void> {
    this.server = createServer(client => {
      if (this.refusing) {
        client.destroy()
        return
      }
      const upstream = connect({ host: this.targetHost, port: this.targetPort })
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => s.destroy())
      }
      client.pipe(upstream)
      upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as { port: number }).port
  }

  /** Cut every open connection at once. */
  dropAll(): void {
    for (const s of this.sockets) s.destroy()
  }

  /** While refusing, new connections are closed at once (the broker looks down). */
  refuse(on: boolean): void {
    this.refusing = on
  }

  /** Connections open now (client and upstream sides). */
  get open(): number {
    return this.sockets.size
  }

  async stop(): Promise<void> {
    this.dropAll()
    await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
