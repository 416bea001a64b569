// Clients of goferd's management port for tests: our `gofer mgt` CLI spawned, a raw socket, and
// gofer's own Python client behaviour (send without half-closing, one recv(4096)).
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import type { CliRun as Run } from './cli.js'

export { gofer, type CliRun as Run } from './cli.js'

/** Send raw bytes (optionally half-closing) and read the reply to EOF. */
export function rawRequest(port: number, payload: string | Buffer, halfClose = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    socket.on('connect', () => {
      socket.write(payload)
      if (halfClose) socket.end()
    })
    socket.on('data', c => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
    socket.setTimeout(30_000, () => socket.destroy(new Error('raw request timed out')))
  })
}

/** What Python gofer's mgt Client does: connect (AF_INET), send, a single recv(4096), close. */
export function pythonGoferClient(port: number, name: string, args: unknown[] = []): Promise<Run> {
  const script = [
    'import json, socket, sys',
    'port, name, args = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])',
    "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.connect(('localhost', port))",
    "s.send(json.dumps({'name': name, 'args': args, 'kwargs': {}}, sort_keys=True).encode('utf-8'))",
    'reply = s.recv(4096); s.close()',
    'sys.stdout.write(reply.decode("utf-8"))',
  ].join('\n')
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, String(port), name, JSON.stringify(args)])
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', c => (stdout += c))
    child.stderr.on('data', c => (stderr += c))
    child.on('error', reject)
    child.on('exit', code => resolve({ code, stdout, stderr }))
  })
}
