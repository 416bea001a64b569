// The Shell helper (reference/gofer.md §4.17): no shell, output lines as progress
// ({stdout, stderr}: the latest of each), cancel by kill, gofer's [status, {stdout, stderr}] or
// [-1, error text]. Directly in a Context, and through a plugin (direct and fork) on the memory
// adapter, where the progress must reach the caller.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Context } from '../../src/rmi/context.js'
import { Agent } from '../../src/rmi/agent.js'
import { Shell, shell } from '../../src/rmi/shell.js'
import { startTestDaemon } from '../support/daemon.js'
import { ROOT } from '../support/paths.js'

const FORK_PLUGIN = join(ROOT, 'test', 'fixtures', 'forkplugin.ts')

function inContext<T>(fn: () => Promise<T>): { context: Context; seen: unknown[]; result: Promise<T> } {
  const seen: unknown[] = []
  const context = new Context('sn-shell', null, async (_total, _completed, details) => void seen.push(details))
  return { context, seen, result: Context.run(context, fn) }
}

describe('Shell', () => {
  it('returns [status, {stdout, stderr}] and reports each line as progress', async () => {
    const { seen, result } = inContext(() => new Shell().run('sh', '-c', 'echo one; echo oops >&2; echo two; exit 3'))
    assert.deepEqual(await result, [3, { stdout: 'one\ntwo\n', stderr: 'oops\n' }])
    assert.equal(seen.length, 3)
    assert.deepEqual(seen.at(-1), { stdout: 'two', stderr: 'oops' })
    assert.ok(seen.some(d => (d as { stdout: string }).stdout === 'one'))
  })

  it('runs no shell: arguments are passed as they are', async () => {
    assert.deepEqual(await shell('echo', '$HOME', '; ls', '*'), [0, { stdout: '$HOME ; ls *\n', stderr: '' }])
  })

  it('a command that cannot start gives [-1, why]', async () => {
    const [status, why] = await shell('/nonexistent/command', 'x')
    assert.equal(status, -1)
    assert.match(why as string, /ENOENT/)
    assert.deepEqual(await shell(), [-1, 'no command given'])
  })

  it('a cancel terminates the command: status is minus the signal number', async () => {
    const { context, result } = inContext(() => new Shell().run('sleep', '10'))
    const t0 = Date.now()
    setTimeout(() => context.cancel(), 100)
    const [status] = await result
    assert.equal(status, -15)
    assert.ok(Date.now() - t0 < 2000)
  })

  it('a command ignoring SIGTERM is killed after killAfterMs', async () => {
    const { context, result } = inContext(() => new Shell({ killAfterMs: 200 }).run('sh', '-c', 'trap "" TERM; sleep 10; echo late'))
    setTimeout(() => context.cancel(), 100)
    const [status, output] = await result
    assert.equal(status, -9)
    assert.equal((output as { stdout: string }).stdout, '')
  })

  it('progress: false reports nothing', async () => {
    const { seen, result } = inContext(() => new Shell({ progress: false }).run('echo', 'quiet'))
    assert.deepEqual(await result, [0, { stdout: 'quiet\n', stderr: '' }])
    assert.deepEqual(seen, [])
  })

  it('from a plugin, direct and fork: the caller sees each line as progress, then the result', async () => {
    const agentd = await startTestDaemon('memory://shell-unit', { plugin: FORK_PLUGIN })
    const seen: unknown[] = []
    const agent = new Agent('memory://shell-unit', agentd.queue, { wait: 30, progress: r => seen.push(r.details) })
    try {
      const argv = ['sh', '-c', 'echo a; echo b']
      assert.deepEqual(await agent.stub('Tools').run(argv), [0, { stdout: 'a\nb\n', stderr: '' }])
      assert.deepEqual(seen, [{ stdout: 'a', stderr: '' }, { stdout: 'b', stderr: '' }])
      seen.length = 0
      assert.deepEqual(await agent.stub('Tools').runForked(argv), [0, { stdout: 'a\nb\n', stderr: '' }])
      assert.deepEqual(seen, [{ stdout: 'a', stderr: '' }, { stdout: 'b', stderr: '' }])
    } finally {
      await agent.close()
      await agentd.stop()
    }
  })
})
