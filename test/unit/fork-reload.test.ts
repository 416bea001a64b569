// A fork-model plugin across a reload (memory adapter): the spare child that imported the old code
// is discarded, so the first call after the reload already runs the new code.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { Agent } from '../../src/rmi/agent.js'

const URL = 'memory://fork-reload'

function pluginSource(version: number): string {
  return [
    "import { fork } from 'gofer'",
    `export class Version { @fork get(): number { return ${version} } }`,
  ].join('\n')
}

describe('fork model and reload', () => {
  it('the first call after a reload runs the new code in a new child', async () => {
    const etc = mkdtempSync(join(tmpdir(), 'gofer-fork-reload-'))
    mkdirSync(join(etc, 'plugins'))
    const module = join(etc, 'plugins', 'versioned.ts')
    writeFileSync(module, pluginSource(1))
    writeFileSync(join(etc, 'plugins', 'versioned.conf'), `[main]\nenabled=1\nplugin=./versioned.ts\n[messaging]\nurl=${URL}\n[model]\nqueue=versioned\n`)
    const daemon = new Daemon({ etc })
    const agent = new Agent(URL, 'versioned', { wait: 30 })
    try {
      const [plugin] = await daemon.start()
      await plugin!.attached()
      assert.equal(await agent.stub('Version').get(), 1)
      // Let the spare child finish importing version 1.
      await new Promise(r => setTimeout(r, 1000))
      writeFileSync(module, pluginSource(2))
      await daemon.ops.reload('versioned')
      assert.equal(await agent.stub('Version').get(), 2)
    } finally {
      await agent.close()
      await daemon.stop()
    }
  })
})
