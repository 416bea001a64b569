// agent.conf: [management] defaults and validation, [logging] levels (gofer's Python names),
// conf.d/*.conf merged after agent.conf in sorted order; and the single-instance pid file.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { logLevel, readAgentConf } from '../../src/agent/agent-conf.js'
import { Daemon } from '../../src/agent/daemon.js'
import { AlreadyRunning, PidFile } from '../../src/agent/pidfile.js'
import { logger } from '../../src/log.js'

function etcWith(files: Record<string, string>): string {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-conf-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(etc, path, '..'), { recursive: true })
    writeFileSync(join(etc, path), text)
  }
  return etc
}

describe('agent.conf', () => {
  it('defaults: management off on localhost:5650, no logging levels', () => {
    const conf = readAgentConf(etcWith({}))
    assert.deepEqual(conf.management, { enabled: false, host: 'localhost', port: 5650 })
    assert.deepEqual(conf.logging, {})
  })

  it('reads gofer\'s functional-test agent.conf', () => {
    const conf = readAgentConf(etcWith({ 'agent.conf': '[management]\nenabled=1\nport=5651\n\n[logging]\ngofer.agent=info\ngofer.messaging=info\n' }))
    assert.deepEqual(conf.management, { enabled: true, host: 'localhost', port: 5651 })
    assert.deepEqual(conf.logging, { 'gofer.agent': 'info', 'gofer.messaging': 'info' })
  })

  it('merges conf.d/*.conf after agent.conf in sorted order, later values winning key by key', () => {
    const conf = readAgentConf(etcWith({
      'agent.conf': '[management]\nenabled=0\nport=5650\n[logging]\nroot=warning\n',
      'conf.d/20-port.conf': '[management]\nport=6000\n',
      'conf.d/10-enable.conf': '[management]\nenabled=1\nport=5999\n[logging]\ngofer.rmi=DEBUG\n',
      'conf.d/30-extra.json': '{"logging": {"demo": "critical"}, "custom": {"x": "1"}}',
      'conf.d/README': 'not a config file',
    }))
    assert.deepEqual(conf.management, { enabled: true, host: 'localhost', port: 6000 })
    assert.deepEqual(conf.logging, { root: 'warn', 'gofer.rmi': 'debug', demo: 'fatal' })
    assert.equal(conf.sections.custom?.x, '1')
    assert.deepEqual(conf.files.map(f => f.split('/').slice(-2).join('/')).slice(1), ['conf.d/10-enable.conf', 'conf.d/20-port.conf', 'conf.d/30-extra.json'])
  })

  it('maps Python level names and reports unknown ones without failing', () => {
    assert.deepEqual(['DEBUG', 'info', 'Warning', 'ERROR', 'critical', 'NOTSET', 'silent', 'loud'].map(logLevel), ['debug', 'info', 'warn', 'error', 'fatal', 'trace', 'silent', null])
    const conf = readAgentConf(etcWith({ 'agent.conf': '[logging]\ngofer.agent=loud\ngofer.rmi=error\n' }))
    assert.deepEqual(conf.logging, { 'gofer.rmi': 'error' })
    assert.match(conf.warnings[0]!, /\[logging\] gofer\.agent: unknown level "loud" ignored/)
  })

  it('applies [logging] levels to the named loggers', () => {
    new Daemon({ etc: etcWith({ 'agent.conf': '[logging]\nconftest.one=debug\nconftest.two=ERROR\n' }) })
    assert.equal(logger('conftest.one').level, 'debug')
    assert.equal(logger('conftest.two').level, 'error')
  })

  it('refuses a bad [management] value naming the file that set it', () => {
    const etc = etcWith({ 'agent.conf': '[management]\nport=5650\n', 'conf.d/bad.conf': '[management]\nport=fifty\n' })
    assert.throws(() => readAgentConf(etc), /conf\.d\/bad\.conf: \[management\] port: value "fifty" must be an integer/)
    assert.throws(() => readAgentConf(etcWith({ 'agent.conf': '[management]\nenabled=maybe\n' })), /agent\.conf: \[management\] enabled: value "maybe"/)
  })
})

describe('pid file', () => {
  it('lets one holder in, refuses a second while the first lives, and is removed on release', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gofer-pid-')), 'goferd.pid')
    const first = new PidFile(path)
    first.acquire()
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`)
    // Another process's view: a live pid (ours) holds it.
    const second = new PidFile(path, process.pid + 100000)
    assert.throws(() => second.acquire(), (e: Error) => e instanceof AlreadyRunning && e.message === `goferd already running (pid ${process.pid}, pid file ${path})`)
    first.release()
    assert.equal(existsSync(path), false)
  })

  it('replaces a stale pid file left by a dead process', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'gofer-pid-')), 'goferd.pid')
    const child = spawn(process.execPath, ['-e', ''])
    const deadPid = child.pid!
    await new Promise(r => child.on('exit', r))
    writeFileSync(path, `${deadPid}\n`)
    const pid = new PidFile(path)
    pid.acquire()
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`)
    pid.release()
  })

  it('is taken by Daemon.start and released by stop', async () => {
    const etc = etcWith({})
    const path = join(etc, 'goferd.pid')
    const one = new Daemon({ etc, pidFile: path })
    await one.start()
    const holder = new PidFile(path, process.pid + 100000)
    assert.throws(() => holder.acquire(), AlreadyRunning)
    await one.stop()
    assert.equal(existsSync(path), false)
  })
})
