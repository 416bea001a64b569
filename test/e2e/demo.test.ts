// `npm run demo` as a new user runs it: with RabbitMQ (goferd as its own process) and with no
// broker answering (the in-process memory broker). Every reply kind must be printed, exit 0.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { AMQP_URL, ROOT } from '../support/paths.js'

function demo(url: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'demo.mjs')], {
    env: { ...process.env, GOFER_URL: url, GOFER_LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000,
  })
  return { status: r.status, out: r.stdout + r.stderr }
}

function assertReplies(out: string): void {
  assert.match(out, /> Dog\.bark\('howdy'\)\n {4}accepted\n {4}started\n {4}result: "Ruf howdy"\n/)
  assert.match(out, /progress 3\/3: "wag 3 of 3"\n {4}result: "wagged 3 times"/)
  assert.match(out, /exception: DogBite: you stepped on my tail \{"severity":3,"why":"you stepped on my tail"\}/)
  assert.match(out, /result: \{"age":5,"name":"rex"\}/)
  assert.match(out, /> await dog\.bark\('sync'\) {2}-> {2}Ruf sync/)
  assert.match(out, /goferd stopped/)
}

describe('npm run demo', () => {
  it('calls goferd over RabbitMQ and prints every reply', () => {
    const { status, out } = demo(AMQP_URL)
    assert.equal(status, 0, out)
    assert.match(out, /^broker: RabbitMQ at /m)
    assertReplies(out)
  })

  it('falls back to the in-process memory broker when no broker answers, and says so', () => {
    const { status, out } = demo('amqp://guest:guest@127.0.0.1:1')
    assert.equal(status, 0, out)
    assert.match(out, /^broker: none answered at amqp:\/\/127\.0\.0\.1:1; using the in-process memory broker/m)
    assertReplies(out)
  })
})
