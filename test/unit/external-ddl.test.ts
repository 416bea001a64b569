// Reading external agent DDLs and the descriptor's [external] section: what loads, what is
// refused, and that every refusal names the file and the field.
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { externalSettings } from '../../src/agent/external/config.js'
import { parseDdl, readDdl, DdlError } from '../../src/agent/external/ddl.js'
import { ddlFiles, executableOf, goPlatform } from '../../src/agent/external/discover.js'
import { readDescriptor } from '../../src/agent/descriptor.js'
import { DescriptorError } from '../../src/errors.js'
import { ROOT } from '../support/paths.js'

const FIXTURES = join(ROOT, 'test', 'fixtures', 'external')

const metadata = { name: 'x', description: 'd', author: 'a', license: 'l', version: '1.0.0', url: 'u', timeout: 5, provider: 'external' }
const action = { action: 'ping', description: 'd', input: {}, output: {} }
const ddl = (patch: Record<string, unknown> = {}) => JSON.stringify({ metadata, actions: [action], ...patch })

function refused(text: string, fallback: number | null = null): string {
  try {
    parseDdl('/a/x.json', text, fallback)
  } catch (error) {
    assert.ok(error instanceof DdlError)
    return error.message
  }
  assert.fail('expected the DDL to be refused')
}

describe('external agent DDLs', () => {
  it('reads the parrot fixture: actions, inputs in DDL order, display normalised to failed', () => {
    const parrot = readDdl(join(FIXTURES, 'parrot.json'))
    assert.equal(parrot.name, 'parrot')
    assert.equal(parrot.timeout, 10)
    assert.ok(parrot.actions.has('echo') && parrot.actions.has('sleep'))
    assert.deepEqual([...parrot.actions.get('sleep')!.input.keys()], ['seconds', 'mode'])
    assert.equal(parrot.actions.get('echo')!.display, 'always')
    assert.equal(parrot.actions.get('crash')!.display, 'failed')
    assert.equal(parrot.actions.get('echo')!.output.get('repeated_by')!.default, 'parrot')
  })

  it('refuses text that is not JSON', () => {
    assert.match(refused('{"metadata": '), /^\/a\/x\.json: not valid JSON/)
  })

  const missing: Array<[string, string, RegExp]> = [
    ['metadata', JSON.stringify({ actions: [] }), /metadata: required/],
    ['metadata.name', ddl({ metadata: { ...metadata, name: undefined } }), /metadata\.name: required/],
    ['metadata.version', ddl({ metadata: { ...metadata, version: undefined } }), /metadata\.version: required/],
    ['metadata.timeout', ddl({ metadata: { ...metadata, timeout: undefined } }), /metadata\.timeout: required/],
    ['actions', JSON.stringify({ metadata }), /actions: required/],
    ['an action name', ddl({ actions: [{ ...action, action: undefined }] }), /actions\[0\]\.action: required/],
    ['an action input', ddl({ actions: [{ ...action, input: undefined }] }), /actions\[ping\]\.input: required/],
    ['an input type', ddl({ actions: [{ ...action, input: { m: { prompt: 'p', description: 'd', optional: true } } }] }), /actions\[ping\]\.input\.m\.type: required/],
    ['an input optional', ddl({ actions: [{ ...action, input: { m: { prompt: 'p', description: 'd', type: 'string' } } }] }), /input\.m\.optional: required/],
    ['an output display_as', ddl({ actions: [{ ...action, output: { o: { description: 'd' } } }] }), /output\.o\.display_as: required/],
  ]
  for (const [what, text, message] of missing) {
    it(`refuses a DDL without ${what}`, () => assert.match(refused(text), message))
  }

  it('refuses bad values: names, timeout below 1, unknown types, empty lists, bad regex', () => {
    assert.match(refused(ddl({ metadata: { ...metadata, name: 'Bad-Name' } })), /metadata\.name: "Bad-Name" must match/)
    assert.match(refused(ddl({ metadata: { ...metadata, timeout: 0 } })), /metadata\.timeout: 0 must be an integer/)
    assert.match(refused(ddl({ actions: [{ ...action, input: { m: { prompt: 'p', description: 'd', type: 'text', optional: true } } }] })), /type: "text" is not one of/)
    assert.match(refused(ddl({ actions: [{ ...action, input: { m: { prompt: 'p', description: 'd', type: 'list', optional: true } } }] })), /input\.m\.list: a list input needs/)
    assert.match(refused(ddl({ actions: [{ ...action, input: { m: { prompt: 'p', description: 'd', type: 'string', optional: true, validation: '^(' } } }] })), /validation: not a valid regular expression/)
    assert.match(refused(ddl({ actions: [action, action] })), /actions\[1\]\.action: "ping" is declared twice/)
  })

  it('takes the descriptor timeout when the DDL has none', () => {
    assert.equal(parseDdl('/a/x.json', ddl({ metadata: { ...metadata, timeout: undefined } }), 7).timeout, 7)
  })

  it('finds flat DDLs and D/D.json, skipping tmp; executables beside them; Go platform names', () => {
    const files = ddlFiles(FIXTURES).map(f => f.slice(FIXTURES.length + 1))
    assert.ok(files.includes('parrot.json') && files.includes('nested/nested.json'))
    assert.ok(!files.some(f => f.startsWith('tmp')))
    assert.equal(executableOf(readDdl(join(FIXTURES, 'parrot.json'))), join(FIXTURES, 'parrot'))
    assert.equal(executableOf(readDdl(join(FIXTURES, 'nested', 'nested.json'))), join(FIXTURES, 'nested', 'nested'))
    assert.match(goPlatform(), /^[a-z0-9]+_[a-z0-9]+$/)
    assert.notEqual(goPlatform().split('_')[1], 'x64')
  })
})

describe('descriptor [external] section', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gofer-external-'))
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  }

  it('reads agents (relative to the descriptor), environment, timeout and defaults', () => {
    const d = readDescriptor(write('ok.conf', '[main]\nenabled=1\n[external]\nagents=agents:/opt/more\nenvironment=LANG, TZ\ntimeout=30\n'))
    assert.deepEqual(d.external, {
      agents: [join(dir, 'agents'), '/opt/more'], environment: ['LANG', 'TZ'], timeout: 30,
      configDir: join(dirname(dir), 'plugin.d'), facts: null, collective: 'mcollective', inputDefaults: true, rescan: 20,
    })
    assert.equal(readDescriptor(write('none.conf', '[main]\nenabled=1\n')).external, null)
  })

  const bad: Array<[string, string, string, RegExp]> = [
    ['no agents', '[external]\nenvironment=X\n', 'agents', /required/],
    ['a bad variable name', '[external]\nagents=a\nenvironment=NOT-A-NAME\n', 'environment', /is not a variable name/],
    ['a protocol variable', '[external]\nagents=a\nenvironment=CHORIA_EXTERNAL_REPLY\n', 'environment', /always set by goferd/],
    ['a bad timeout', '[external]\nagents=a\ntimeout=0\n', 'timeout', /integer from 1 to 86400/],
    ['a bad rescan', '[external]\nagents=a\nrescan=soon\n', 'rescan', /integer from 0 to 86400/],
    ['an unknown key', '[external]\nagents=a\nagent=b\n', 'agent', /unknown key/],
  ]
  for (const [what, text, key, message] of bad) {
    it(`refuses ${what}, naming file, section and key`, () => {
      const path = write('bad.conf', `[main]\nenabled=1\n${text}`)
      assert.throws(() => readDescriptor(path), (error: unknown) => {
        assert.ok(error instanceof DescriptorError)
        assert.deepEqual([error.file, error.section, error.key], [path, 'external', key])
        assert.match(error.message, message)
        return true
      })
    })
  }

  it('externalSettings is null without the section', () => {
    assert.equal(externalSettings('/x.conf', { main: {} }), null)
  })
})
