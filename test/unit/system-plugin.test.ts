// The shipped system plugin (plugins/system.ts), reached by forwarding as gofer deploys it:
// Shell.run with output as progress, Service via systemctl, argument checks.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Daemon } from '../../src/agent/daemon.js'
import { Agent } from '../../src/rmi/agent.js'
import type { ProgressReport } from '../../src/rmi/reply-queue.js'
import { ROOT } from '../support/paths.js'

const URL = 'memory://system-plugin'

describe('system plugin', () => {
  const etc = mkdtempSync(join(tmpdir(), 'gofer-system-'))
  let daemon: Daemon
  const agents: Agent[] = []
  const agent = (options = {}): Agent => {
    const a = new Agent(URL, 'sys.front', { wait: 20, ...options })
    agents.push(a)
    return a
  }

  before(async () => {
    mkdirSync(join(etc, 'plugins'))
    // The shipped descriptor, enabled and pointed at the shipped module.
    const shipped = readFileSync(join(ROOT, 'etc', 'gofer', 'plugins', 'system.conf'), 'utf8')
    writeFileSync(join(etc, 'plugins', 'system.conf'), shipped.replace('enabled=0', `enabled=1\nplugin=${join(ROOT, 'plugins', 'system.ts')}`))
    writeFileSync(join(etc, 'front.ts'), "import { remote } from 'gofer'\nexport class Front { @remote hi() { return 'hi' } }\n")
    writeFileSync(join(etc, 'plugins', 'front.conf'), `[main]\nenabled=1\nplugin=${join(etc, 'front.ts')}\nforward=system\n[messaging]\nurl=${URL}\n[model]\nqueue=sys.front\n`)
    daemon = new Daemon({ etc })
    const loaded = await daemon.start()
    assert.deepEqual(loaded.map(p => p.name).sort(), ['front', 'system'])
    await Promise.all(loaded.map(p => p.attached()))
  })

  after(async () => {
    await Promise.all(agents.map(a => a.close()))
    await daemon.stop()
  })

  it('Shell.run returns [status, {stdout, stderr}] and streams lines as progress', async () => {
    const reports: ProgressReport[] = []
    const result = await agent({ progress: (r: ProgressReport) => reports.push(r) }).stub('Shell').run('echo one; echo two; echo oops >&2; exit 3')
    assert.deepEqual(result, [3, { stdout: 'one\ntwo\n', stderr: 'oops\n' }])
    assert.ok(reports.some(r => (r.details as { stdout: string }).stdout === 'two'), JSON.stringify(reports))
  })

  it('Service runs systemctl and returns its status and output, whatever systemd says', async () => {
    const [status, output] = await agent().stub('Service', ['gofer-test-no-such-unit']).status() as [number, { stdout: string; stderr: string } | string]
    assert.notEqual(status, 0)
    assert.ok(typeof output === 'string' || (typeof output.stdout === 'string' && typeof output.stderr === 'string'))
  })

  it('refuses names that would be options, and shutdown times it cannot read', async () => {
    await assert.rejects(agent().stub('Service', ['--now']).stop(), /service name must be letters/)
    await assert.rejects(agent().stub('Shell', ['root; rm']).run('id'), /user name must be letters/)
    await assert.rejects(agent().stub('System').halt('whenever'), /when must be now, \+minutes or hh:mm/)
  })
})
