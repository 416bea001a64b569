// Forwarding (gofer §4.10): rules, and calls through goferd reaching another plugin's class.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { findProvider, mayForward, type Peer } from '../../src/agent/forwarding.js'
import { Plugin } from '../../src/agent/plugin.js'
import { errors } from '../../src/index.js'
import type { Catalog } from '../../src/rmi/catalog.js'
import { Agent } from '../../src/rmi/agent.js'

const URL = 'memory://forwarding-unit'

function peer(name: string, accept: string[], forward: string[], classes: string[]): Peer {
  const catalog: Catalog = new Map(classes.map(c => [c, { name: c, kind: 'class' as const, cls: null, ctorParams: null, members: new Map() }]))
  return { name, accept, forward, catalog }
}

describe('forwarding rules', () => {
  const system = peer('system', ['*'], [], ['Shell'])
  const picky = peer('picky', ['demo'], [], ['Lion'])

  it('needs the receiver to forward and the provider to accept', () => {
    assert.equal(mayForward(peer('demo', [], ['*'], []), system), true)
    assert.equal(mayForward(peer('demo', [], ['system'], []), system), true)
    assert.equal(mayForward(peer('demo', [], [], []), system), false, 'receiver does not forward')
    assert.equal(mayForward(peer('other', [], ['*'], []), picky), false, 'provider does not accept it')
    assert.equal(mayForward(peer('demo', [], ['*'], []), picky), true)
  })

  it('takes the first provider in load order, and only if the rules allow it', () => {
    const demo = peer('demo', [], ['*'], [])
    const refusing = peer('refusing', [], [], ['Shell'])
    assert.equal(findProvider(demo, [demo, system], 'Shell'), system)
    assert.equal(findProvider(demo, [demo, system], 'Nothing'), null)
    assert.equal(findProvider(demo, [refusing, system], 'Shell'), null)
  })
})

describe('forwarding in goferd', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-fwd-'))
  const lib = join(etc, 'lib')
  let daemon: Daemon
  const agents: Agent[] = []
  const agent = (queue: string): Agent => {
    const a = new Agent(URL, queue, { wait: 5 })
    agents.push(a)
    return a
  }

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    mkdirSync(lib)
    writeFileSync(join(lib, 'front.ts'), "import { remote } from 'gofer'\nexport class Front { @remote hi() { return 'front' } }\n")
    writeFileSync(join(lib, 'back.ts'), "import { remote } from 'gofer'\nexport class Back { @remote hi(who: string) { return `back to ${who}` } @remote boom() { throw new RangeError('deep') } }\n")
    writeFileSync(join(lib, 'closed.ts'), "import { remote } from 'gofer'\nexport class Closed { @remote hi() { return 'closed' } }\n")
    const conf = (name: string, main: string, queue: string) => `[main]\nenabled=1\nplugin=${join(lib, name + '.ts')}\n${main}\n[messaging]\nurl=${URL}\n[model]\nqueue=${queue}\n`
    writeFileSync(join(etc, 'plugins', 'a-front.conf'), conf('front', 'name=front\nforward=*', 'fwd.front'))
    writeFileSync(join(etc, 'plugins', 'b-back.conf'), conf('back', 'name=back\naccept=front', 'fwd.back'))
    writeFileSync(join(etc, 'plugins', 'c-closed.conf'), conf('closed', 'name=closed', 'fwd.closed'))
    daemon = new Daemon({ etc })
    const loaded = await daemon.start()
    await Promise.all(loaded.map(p => p.attached()))
  })

  after(async () => {
    await Promise.all(agents.map(a => a.close()))
    await daemon.stop()
  })

  it('serves another plugin\'s class when forward and accept allow it', async () => {
    assert.equal(await agent('fwd.front').stub('Back').hi('you'), 'back to you')
    assert.equal(await agent('fwd.front').stub('Front').hi(), 'front')
  })

  it('reports the provider\'s exceptions as the provider\'s', async () => {
    await assert.rejects(agent('fwd.front').stub('Back').boom(), (e: Error) => e instanceof errors.RemoteError && /deep/.test(e.message))
  })

  it('refuses when the provider does not accept or the receiver does not forward', async () => {
    await assert.rejects(agent('fwd.front').stub('Closed').hi(), /"Closed" not provided by plugin/)
    await assert.rejects(agent('fwd.back').stub('Front').hi(), /"Front" not provided by plugin/)
  })

  it('follows a reloaded provider\'s new code', async () => {
    writeFileSync(join(lib, 'back.ts'), "import { remote } from 'gofer'\nexport class Back { @remote hi(who: string) { return `new back to ${who}` } }\n")
    await daemon.ops.reload('back')
    await Plugin.find('back')!.attached()
    assert.equal(await agent('fwd.front').stub('Back').hi('you'), 'new back to you')
  })
})
