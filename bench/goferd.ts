// goferd as a separate process serving bench/plugin.ts on a fresh queue, exactly as an operator
// runs it (`node bin/goferd -c <etc> -u <url>`), plus a clean stop.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep, withDeadline } from './util.js'

export interface GoferdOptions {
  root: string
  url: string
  threads: number
  /** Extra node flags for the goferd process (e.g. --cpu-prof). */
  nodeArgs?: string[]
}

export class Goferd {
  readonly queue = `bench.${randomUUID()}`
  readonly etc: string
  private child: ChildProcess | null = null
  private exited: Promise<unknown> | null = null
  /** The last lines goferd wrote to stderr (shown when it fails). */
  private stderrTail: string[] = []

  constructor(private readonly options: GoferdOptions) {
    this.etc = mkdtempSync(join(tmpdir(), 'gofer-bench-etc-'))
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Write the descriptor and spawn goferd. Readiness is checked by the caller (an RMI probe). */
  spawn(): void {
    const { root, url, threads } = this.options
    const plugin = join(root, 'bench', 'plugin.ts')
    if (!existsSync(plugin)) throw new Error(`bench plugin not found: ${plugin}`)
    const goferd = join(root, 'bin', 'goferd')
    if (!existsSync(join(root, 'dist', 'src', 'cli', 'goferd.js'))) throw new Error('dist/src/cli/goferd.js missing: run `npx tsc -p tsconfig.json` first')
    mkdirSync(join(this.etc, 'plugins'))
    writeFileSync(join(this.etc, 'plugins', 'bench.conf'), [
      '[main]', 'enabled=1', `plugin=${plugin}`, `threads=${threads}`,
      '[messaging]', `url=${url}`,
      '[model]', `queue=${this.queue}`, 'managed=2', '',
    ].join('\n'))
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), goferd, '-c', this.etc, '-u', url], {
      cwd: root,
      env: { ...process.env, GOFER_LOG_LEVEL: process.env.BENCH_GOFERD_LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'inherit', 'pipe'],
    })
    this.child = child
    this.exited = once(child, 'exit')
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line) continue
        this.stderrTail.push(line)
        if (this.stderrTail.length > 20) this.stderrTail.shift()
        // warn and above are worth seeing live: they are unexpected during a benchmark.
        process.stderr.write(`[goferd] ${line}\n`)
      }
    })
  }

  /** Poll `probe` until it succeeds; fails early when goferd exits, or after `ms`. */
  async waitReady(probe: () => Promise<unknown>, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    let last: unknown = null
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`goferd exited during startup (code ${this.child?.exitCode})${this.tail()}`)
      try {
        await probe()
        return
      } catch (error) {
        last = error
        await sleep(200)
      }
    }
    throw new Error(`goferd did not answer within ${ms / 1000} s: ${(last as Error | null)?.message ?? 'no reply'}${this.tail()}`)
  }

  private tail(): string {
    return this.stderrTail.length ? `\n--- goferd stderr ---\n${this.stderrTail.join('\n')}` : ''
  }

  /** SIGTERM, wait for the exit (SIGKILL after `ms`), remove the etc dir. Never throws. */
  async stop(ms = 15_000): Promise<number | null> {
    let code: number | null = null
    const child = this.child
    if (child && this.running) {
      child.kill('SIGTERM')
      try {
        const [exitCode] = (await withDeadline(this.exited!, ms, 'goferd exit')) as [number | null]
        code = exitCode
      } catch {
        console.error(`warning: goferd (pid ${child.pid}) did not exit ${ms / 1000} s after SIGTERM; killing it`)
        child.kill('SIGKILL')
        await withDeadline(this.exited!, 5000, 'goferd kill').catch(() => undefined)
      }
    } else if (child) code = child.exitCode
    rmSync(this.etc, { recursive: true, force: true })
    return code
  }
}
