// Runs goferd's Daemon in this process with the test plugin bound to a fresh queue, for tests
// that exercise the RMI path on a given broker URL (memory or RabbitMQ).
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Daemon } from '../../src/agent/daemon.js'
import { ROOT } from './paths.js'

export interface RunningDaemon {
  daemon: Daemon
  queue: string
  etc: string
  stop(): Promise<void>
}

export const TEST_PLUGIN = join(ROOT, 'test', 'fixtures', 'testplugin.ts')

/** Start a daemon serving test/fixtures/testplugin.ts on a unique queue at `url`. */
export async function startTestDaemon(url: string, options: { threads?: number; queue?: string; managed?: number; plugin?: string; latency?: number } = {}): Promise<RunningDaemon> {
  const queue = options.queue ?? `test.agent.${randomUUID()}`
  const etc = mkdtempSync(join(tmpdir(), 'gofer-etc-'))
  mkdirSync(join(etc, 'plugins'))
  writeFileSync(join(etc, 'plugins', 'testplugin.conf'), [
    '[main]', 'enabled=1', `plugin=${options.plugin ?? TEST_PLUGIN}`, `threads=${options.threads ?? 4}`, `latency=${options.latency ?? 0}`,
    '[messaging]', `url=${url}`,
    '[model]', `queue=${queue}`, `managed=${options.managed ?? 2}`, '',
  ].join('\n'))
  const daemon = new Daemon({ etc })
  const plugins = await daemon.start()
  if (plugins.length !== 1) throw new Error('test plugin did not load')
  await plugins[0]!.attached()
  return {
    daemon, queue, etc,
    stop: async () => {
      // Delete the queue on the way out so RabbitMQ keeps no test queues.
      await Promise.all(plugins.map(p => p.stop(true)))
      await daemon.stop()
    },
  }
}
