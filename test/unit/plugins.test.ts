// Plugin loading: TS and JS modules, `import 'gofer'`, search by name, and refusals that name
// the descriptor and leave the daemon serving the other plugins.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { Plugin } from '../../src/agent/plugin.js'
import { Agent } from '../../src/rmi/agent.js'

const URL = 'memory://plugins-unit'

describe('plugin loading', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-plugins-'))
  const lib = join(etc, 'lib')
  let daemon: Daemon
  let loaded: Plugin[]
  const agents: Agent[] = []

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    mkdirSync(lib)
    // A JavaScript plugin found by name in the plugin path, using remote() without decorators.
    writeFileSync(join(lib, 'jsplug.mjs'), [
      "import { remote, Plugin } from 'gofer'",
      'export class Cat { meow() { return `meow from ${Plugin.find("jsplug").cfg.custom.colour}` } }',
      'remote(Cat.prototype.meow)',
      'export const add = remote(function add(a, b) { return a + b })',
    ].join('\n'))
    // A TypeScript plugin named by a relative [main] plugin path.
    writeFileSync(join(etc, 'plugins', 'tsplug.ts'), [
      "import { remote } from 'gofer'",
      'interface Point { x: number; y: number }',
      'export class Geo { @remote norm(p: Point): number { return Math.hypot(p.x, p.y) } }',
    ].join('\n'))
    writeFileSync(join(etc, 'plugins', 'jsplug.conf'), `[main]\nenabled=1\n[messaging]\nurl=${URL}\n[model]\nqueue=jsplug\n[custom]\ncolour=grey\n`)
    writeFileSync(join(etc, 'plugins', 'tsplug.json'), JSON.stringify({ main: { enabled: '1', plugin: './tsplug.ts' }, messaging: { url: URL }, model: { queue: 'tsplug' } }))
    writeFileSync(join(etc, 'plugins', 'missing.conf'), `[main]\nenabled=1\n[messaging]\nurl=${URL}\n[model]\nqueue=missing\n`)
    writeFileSync(join(etc, 'plugins', 'broken.conf'), `[main]\nenabled=1\nplugin=${join(lib, 'broken.mjs')}\n`)
    writeFileSync(join(lib, 'broken.mjs'), 'export const x = ;\n')
    writeFileSync(join(etc, 'plugins', 'off.conf'), '[main]\nenabled=0\n')
    writeFileSync(join(etc, 'plugins', 'invalid.conf'), '[main]\nenabled=1\n[model]\nmanaged=7\n')
    daemon = new Daemon({ etc, pluginPath: [lib] })
    loaded = await daemon.start()
    await Promise.all(loaded.map(p => p.attached()))
  })

  after(async () => {
    await Promise.all(agents.map(a => a.close()))
    await daemon.stop()
  })

  it('loads the good plugins and refuses the others without stopping', () => {
    assert.deepEqual(loaded.map(p => p.name).sort(), ['jsplug', 'tsplug'])
    assert.equal(Plugin.find('missing'), null)
    assert.equal(Plugin.find('broken'), null)
    assert.equal(Plugin.find('off'), null)
  })

  it('serves a JavaScript plugin that reads its descriptor through Plugin.find', async () => {
    const agent = new Agent(URL, 'jsplug', { wait: 5 })
    agents.push(agent)
    assert.equal(await agent.stub('Cat').meow(), 'meow from grey')
    assert.equal(await agent.stub('jsplug').add(2, 3), 5)
  })

  it('serves a TypeScript plugin transpiled at load', async () => {
    const agent = new Agent(URL, 'tsplug', { wait: 5 })
    agents.push(agent)
    assert.equal(await agent.stub('Geo').norm({ x: 3, y: 4 }), 5)
  })

  it('finds plugins by name and by descriptor path', () => {
    const byName = Plugin.find('jsplug')
    assert.ok(byName)
    assert.equal(Plugin.find(byName.path), byName)
    assert.equal(byName.descriptor.queue, 'jsplug')
  })
})
