// Plugin descriptors: gofer's defaults, INI and JSON, and refusals naming file, section and key.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseIni } from '../../src/agent/config-file.js'
import { readDescriptor, splitModelQueue } from '../../src/agent/descriptor.js'
import { DescriptorError } from '../../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'gofer-descriptor-'))
function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('INI reading (gofer rules)', () => {
  it('splits at the first "=" or ":" and trims', () => {
    const s = parseIni('# comment\nignored=before-section\n[main]\nenabled = 1\nurl: amqp://h:5672/v\nempty=\n[ model ]\nqueue=a=b\n')
    assert.deepEqual({ ...s.main }, { enabled: '1', url: 'amqp://h:5672/v', empty: '' })
    assert.deepEqual({ ...s.model }, { queue: 'a=b' })
    assert.equal(s.ignored, undefined)
  })

  it('a repeated section header starts that section afresh', () => {
    const s = parseIni('[a]\nx=1\n[a]\ny=2\n')
    assert.deepEqual({ ...s.a }, { y: '2' })
  })
})

describe('readDescriptor', () => {
  it('fills gofer defaults and takes the name from the file', () => {
    const d = readDescriptor(file('dog.conf', '[main]\nenabled=1\n[messaging]\nurl=amqp://localhost\n[model]\nqueue=dogs\n[custom]\ncolour=brown\n'))
    assert.equal(d.name, 'dog')
    assert.equal(d.enabled, true)
    assert.equal(d.threads, 1)
    assert.equal(d.latency, 0)
    assert.equal(d.managed, 2)
    assert.equal(d.expiration, 0)
    assert.equal(d.queue, 'dogs')
    assert.equal(d.cfg.custom!.colour, 'brown')
    assert.deepEqual(d.accept, [])
  })

  it('is disabled unless enabled is set', () => {
    assert.equal(readDescriptor(file('off.conf', '[main]\nname=off\n')).enabled, false)
  })

  it('reads a JSON descriptor like an INI one (all values strings)', () => {
    const d = readDescriptor(file('builtin.json', '{"main": {"enabled": "1", "accept": "*", "threads": 3}, "messaging": {"url": ""}, "model": {"queue": ""}}'))
    assert.equal(d.name, 'builtin')
    assert.equal(d.threads, 3)
    assert.deepEqual(d.accept, ['*'])
    assert.equal(d.url, null)
  })

  const refusals: Array<[string, string, RegExp]> = [
    ['badbool.conf', '[main]\nenabled=maybe\n', /badbool\.conf: \[main\] enabled: value "maybe"/],
    ['threads.conf', '[main]\nenabled=1\nthreads=zero\n', /\[main\] threads: value "zero" must be an integer/],
    ['threads0.conf', '[main]\nenabled=1\nthreads=0\n', /\[main\] threads: value "0" must be an integer from 1/],
    ['latency.conf', '[main]\nenabled=1\nlatency=-1\n', /\[main\] latency/],
    ['managed.conf', '[main]\nenabled=1\n[model]\nmanaged=3\n', /\[model\] managed: value "3" must be 0, 1 or 2/],
    ['expiration.conf', '[main]\nenabled=1\n[model]\nexpiration=soon\n', /\[model\] expiration/],
    ['url.conf', '[main]\nenabled=1\n[messaging]\nurl=http://h\n', /\[messaging\] url: invalid broker URL "http:\/\/h"/],
    ['queue.conf', '[main]\nenabled=1\n[model]\nqueue=a/b/c\n', /\[model\] queue/],
    ['name.conf', '[main]\nenabled=1\nname=../evil\n', /\[main\] name/],
    ['broken.json', '{"main": ', /broken\.json: not valid JSON/],
    ['array.json', '[1]', /array\.json: must be a JSON object/],
  ]
  for (const [name, text, message] of refusals) {
    it(`refuses ${name} naming file, section and key`, () => {
      const path = file(name, text)
      assert.throws(() => readDescriptor(path), (e: unknown) => e instanceof DescriptorError && message.test(e.message) && e.file === path)
    })
  }

  it('refuses a missing file naming it', () => {
    assert.throws(() => readDescriptor(join(dir, 'absent.conf')), /absent\.conf: cannot read \(ENOENT\)/)
  })
})

describe('splitModelQueue', () => {
  it('splits exchange/queue at the first slash', () => {
    assert.deepEqual(splitModelQueue('amq.direct/agent-1'), { exchange: 'amq.direct', queue: 'agent-1' })
    assert.deepEqual(splitModelQueue('agent-1'), { exchange: null, queue: 'agent-1' })
  })
})
