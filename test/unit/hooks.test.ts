// @load and @unload hooks: refusal by false or by throwing (reason logged, plugin not started),
// unload hooks after the calls in flight on unload, reload and shutdown; Plugin.find in hooks.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { Hooks } from '../../src/agent/hooks.js'
import { Plugin } from '../../src/agent/plugin.js'
import { Agent } from '../../src/rmi/agent.js'
import { load, unload } from '../../src/rmi/decorators.js'
import { recordingLogger } from '../support/fake-clock.js'

const URL = 'memory://hooks-unit'

describe('Hooks', () => {
  it('refuses when a load hook returns false, resolves false or throws, naming the hook', async () => {
    const { log } = recordingLogger()
    await assert.rejects(Hooks.fromExports('p', { a: load(() => false) }).runLoad(null, log), /@load p\.a refused activation \(returned false\)/)
    await assert.rejects(Hooks.fromExports('p', { b: load(async () => false) }).runLoad(null, log), /@load p\.b refused activation \(returned false\)/)
    await assert.rejects(Hooks.fromExports('p', { c: load(() => { throw new Error('no licence') }) }).runLoad(null, log), /@load p\.c refused activation: no licence/)
    await Hooks.fromExports('p', { d: load(() => undefined), e: load(() => true) }).runLoad(null, log)
  })

  it('gives each hook the plugin, and a hung hook a deadline', async () => {
    const { log } = recordingLogger()
    let got: unknown
    await Hooks.fromExports('p', { a: load((p: unknown) => { got = p }) }).runLoad('the plugin', log)
    assert.equal(got, 'the plugin')
    const hung = new Hooks(Hooks.fromExports('p', { h: load(() => new Promise(() => undefined)) }).onLoad, [], 50)
    await assert.rejects(hung.runLoad(null, log), /@load p\.h refused activation: did not finish within 0\.05 s/)
  })

  it('logs a failing unload hook and runs the others', async () => {
    const { log, records } = recordingLogger()
    const ran: string[] = []
    await Hooks.fromExports('p', { a: unload(() => { throw new Error('oops') }), b: unload(() => void ran.push('b')) }).runUnload(null, log)
    assert.deepEqual(ran, ['b'])
    assert.match(String(records.find(r => r.level === 'error')!.args[1]), /@unload p\.a failed: oops/)
  })
})

describe('hooks in goferd', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-hooks-'))
  const lib = join(etc, 'lib')
  const events: string[] = []
  let daemon: Daemon
  const agents: Agent[] = []

  before(async () => {
    ;(globalThis as { hookEvents?: string[] }).hookEvents = events
    mkdirSync(join(etc, 'plugins'))
    mkdirSync(lib)
    const conf = (name: string) => `[main]\nenabled=1\nplugin=${join(lib, name + '.ts')}\n[messaging]\nurl=${URL}\n[model]\nqueue=hooks.${name}\n`
    writeFileSync(join(lib, 'good.ts'), [
      "import { Plugin, load, remote, unload } from 'gofer'",
      'const events = (globalThis as any).hookEvents as string[]',
      // gofer's idiom: the module finds its own descriptor at import time.
      'events.push(`import ${Plugin.find("good")?.cfg.custom?.colour}`)',
      'export class Setup {',
      '  @load static start(p: Plugin) { events.push(`load ${p.name} found=${Plugin.find("good") === p}`) }',
      '  @unload static stop(p: Plugin) { events.push(`unload ${p.name}`) }',
      '}',
      'export class Slow { @remote async nap(ms: number) { await new Promise(r => setTimeout(r, ms)); events.push("nap done"); return ms } }',
    ].join('\n'))
    writeFileSync(join(lib, 'refuses.ts'), [
      "import { load, remote, unload } from 'gofer'",
      'const events = (globalThis as any).hookEvents as string[]',
      "export const check = load(function check() { events.push('refuses checked'); return false })",
      "export const never = unload(function never() { events.push('refuses unloaded (wrong)') })",
      'export class Nope { @remote hi() { return 1 } }',
    ].join('\n'))
    writeFileSync(join(lib, 'throws.ts'), [
      "import { load } from 'gofer'",
      "export const check = load(function check() { throw new Error('no licence for this host') })",
    ].join('\n'))
    for (const name of ['good', 'refuses', 'throws']) writeFileSync(join(etc, 'plugins', `${name}.conf`), conf(name) + '[custom]\ncolour=grey\n')
    daemon = new Daemon({ etc })
    await daemon.start()
    await Plugin.find('good')!.attached()
  })

  after(async () => {
    await Promise.all(agents.map(a => a.close()))
    await daemon.stop()
  })

  it('runs load hooks with the plugin findable, and refuses plugins whose hooks say no', () => {
    assert.deepEqual(events.slice(0, 2), ['import grey', 'load good found=true'])
    assert.ok(events.includes('refuses checked'))
    assert.equal(Plugin.find('refuses'), null)
    assert.equal(Plugin.find('throws'), null)
    assert.deepEqual(Plugin.all().map(p => p.name), ['good'])
  })

  it('runs unload hooks on reload after the call in flight is answered, and load hooks again', async () => {
    const agent = new Agent(URL, 'hooks.good', { wait: 10 })
    agents.push(agent)
    const call = agent.stub('Slow').nap(200)
    await new Promise(r => setTimeout(r, 50))
    events.length = 0
    await daemon.ops.reload('good')
    assert.equal(await call, 200)
    assert.ok(events.includes('import grey'), 'the new code found its plugin at import')
    assert.deepEqual(events.filter(e => e !== 'import grey'), ['nap done', 'unload good', 'load good found=true'])
  })

  it('runs unload hooks on unload and never for a refused plugin', async () => {
    events.length = 0
    await daemon.ops.unload('good')
    assert.deepEqual(events, ['unload good'])
    assert.equal(Plugin.find('good'), null)
    await assert.rejects(daemon.ops.load(join(etc, 'plugins', 'refuses.conf')), /load failed: @load refuses\.check refused activation \(returned false\)/)
    assert.ok(!events.includes('refuses unloaded (wrong)'))
  })

  it('runs unload hooks at shutdown', async () => {
    await daemon.ops.load(join(etc, 'plugins', 'good.conf'))
    events.length = 0
    await daemon.stop()
    assert.deepEqual(events, ['unload good'])
  })
})
