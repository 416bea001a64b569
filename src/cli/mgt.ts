// `gofer mgt`: talk to goferd's management port (reference/gofer.md §5, §6.2). One request per
// connection in gofer's JSON; the reply is read to EOF (gofer read 4 KiB and failed on larger
// reports). Prints the result when it is truthy; a code-1 reply prints its message on stderr
// and exits 1 (gofer exited 0 whatever happened).
import { Command } from 'commander'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { resolve } from 'node:path'
import { show } from './output.js'

interface MgtOptions {
  host: string
  port: string
  show?: boolean
  load?: string
  reload?: string
  unload?: string
}

export interface MgtReply {
  code: number
  result: unknown
}

/** Long enough for a reload that waits for calls in flight (goferd waits up to 30 s per plugin). */
const TIMEOUT_MS = 120_000

/** Send one request to goferd's manager and read its reply; connection failures become code 1. */
export function request(host: string, port: number, name: string, args: unknown[] = [], timeoutMs = TIMEOUT_MS): Promise<MgtReply> {
  return new Promise(done => {
    const socket = connect({ host, port })
    const chunks: Buffer[] = []
    let settled = false
    const finish = (reply: MgtReply) => {
      if (settled) return
      settled = true
      socket.destroy()
      done(reply)
    }
    socket.setTimeout(timeoutMs, () => finish({ code: 1, result: `no reply from goferd at ${host}:${port} within ${timeoutMs / 1000} s` }))
    socket.on('connect', () => socket.end(JSON.stringify({ args, kwargs: {}, name })))
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('error', error => {
      const code = (error as NodeJS.ErrnoException).code
      const hint = code === 'ECONNREFUSED' ? ' (is goferd running with [management] enabled=1?)' : ''
      finish({ code: 1, result: `cannot reach goferd management at ${host}:${port}: ${code ?? error.message}${hint}` })
    })
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      try {
        const reply = JSON.parse(text) as MgtReply
        if (reply === null || typeof reply !== 'object' || typeof reply.code !== 'number') throw new Error('not a {code, result} document')
        finish(reply)
      } catch (error) {
        finish({ code: 1, result: `bad reply from goferd at ${host}:${port}: ${(error as Error).message}` })
      }
    })
  })
}

/** A descriptor path as the server should see it: absolute when it names a file here. */
function descriptorPath(path: string): string {
  return existsSync(path) ? resolve(path) : path
}

export function mgtCommand(): Command {
  return new Command('mgt')
    .description('manage a running goferd: show, load, reload or unload plugins')
    .option('-H, --host <host>', 'goferd management host', 'localhost')
    .option('-p, --port <port>', 'goferd management port', '5650')
    .option('-s, --show', 'show loaded plugins, their classes, methods, functions and actions')
    .option('-l, --load <path>', 'load (and start) the plugin descriptor at <path>')
    .option('-r, --reload <path>', 'reload a plugin (by name or descriptor path) with fresh code')
    .option('-u, --unload <path>', 'unload a plugin (by name or descriptor path)')
    .action(async (options: MgtOptions, command: Command) => {
      if (!/^\d+$/.test(options.port) || Number(options.port) > 65535) {
        process.stderr.write(`Port must be an integer from 0 to 65535, not "${options.port}"\n`)
        process.exit(1)
      }
      // gofer's order: the first of show, load, reload, unload given is done.
      let call: [string, unknown[]] | null = null
      if (options.show) call = ['show', []]
      else if (options.load !== undefined) call = ['load', [descriptorPath(options.load)]]
      else if (options.reload !== undefined) call = ['reload', [options.reload.includes('/') ? descriptorPath(options.reload) : options.reload]]
      else if (options.unload !== undefined) call = ['unload', [options.unload.includes('/') ? descriptorPath(options.unload) : options.unload]]
      if (!call) {
        command.outputHelp()
        return
      }
      const reply = await request(options.host, Number(options.port), call[0], call[1])
      if (reply.code !== 0) {
        process.stderr.write(`${typeof reply.result === 'string' ? reply.result : show(reply.result)}\n`)
        process.exit(1)
      }
      if (reply.result) process.stdout.write(`${show(reply.result)}\n`)
    })
}
