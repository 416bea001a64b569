// Reload re-imports the plugin and the modules it imports relatively (helpers beside it), so a
// change to either is picked up; a reload whose new code fails to import keeps the old serving.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { Plugin } from '../../src/agent/plugin.js'
import { Agent } from '../../src/rmi/agent.js'

const URL = 'memory://reload-unit'

describe('reload', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-reload-'))
  const lib = join(etc, 'lib')
  let daemon: Daemon
  let agent: Agent
  const answer = () => agent.stub('Main').answer() as Promise<string>

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    mkdirSync(join(lib, 'util'), { recursive: true })
    writeFileSync(join(lib, 'main.ts'), "import { remote } from 'gofer'\nimport { word } from './util/helper.ts'\nexport class Main { @remote answer() { return `main v1, ${word()}` } }\n")
    writeFileSync(join(lib, 'util', 'helper.ts'), "export const word = () => 'helper v1'\n")
    writeFileSync(join(etc, 'plugins', 'main.conf'), `[main]\nenabled=1\nplugin=${join(lib, 'main.ts')}\n[messaging]\nurl=${URL}\n[model]\nqueue=reload.main\n`)
    daemon = new Daemon({ etc })
    await daemon.start()
    await Plugin.find('main')!.attached()
    agent = new Agent(URL, 'reload.main', { wait: 5 })
  })

  after(async () => {
    await agent.close()
    await daemon.stop()
  })

  it('picks up changes to the plugin and to the helpers it imports', async () => {
    assert.equal(await answer(), 'main v1, helper v1')
    writeFileSync(join(lib, 'util', 'helper.ts'), "export const word = () => 'helper v2'\n")
    await daemon.ops.reload('main')
    await Plugin.find('main')!.attached()
    assert.equal(await answer(), 'main v1, helper v2')
  })

  it('keeps the old code serving when the new code does not import', async () => {
    writeFileSync(join(lib, 'main.ts'), 'export class Main { broken( }\n')
    await assert.rejects(daemon.ops.reload('main'), /plugin: main, reload failed \(still running the old code\): .*import failed/)
    assert.equal(await answer(), 'main v1, helper v2')
  })
})

describe('shutdown during a load', () => {
  it('waits for a load under way and stops the plugin it started', async () => {
    const etc = mkdtempSync(join(tmpdir(), 'gofer-reload-stop-'))
    mkdirSync(join(etc, 'plugins'))
    // A @load hook slow enough that stop() arrives while the load is under way.
    writeFileSync(join(etc, 'slow.ts'), "import { load, remote } from 'gofer'\nexport class Slow { @remote hi() { return 1 } @load static async warm() { await new Promise(r => setTimeout(r, 200)) } }\n")
    writeFileSync(join(etc, 'slow.conf'), `[main]\nenabled=1\nplugin=${join(etc, 'slow.ts')}\n[messaging]\nurl=${URL}\n[model]\nqueue=reload.slow\n`)
    const daemon = new Daemon({ etc })
    await daemon.start()
    const loading = daemon.ops.load(join(etc, 'slow.conf'))
    await new Promise(r => setTimeout(r, 20))
    await daemon.stop()
    await loading
    assert.equal(Plugin.find('slow'), null)
  })
})
