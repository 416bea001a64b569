// Dispatch: namespaces, construction with cntr, keyword binding, and every failure as gofer's
// exception result. Only @remote members are ever reachable.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collate } from '../../src/rmi/catalog.js'
import { Context } from '../../src/rmi/context.js'
import { remote } from '../../src/rmi/decorators.js'
import { Dispatcher } from '../../src/rmi/dispatcher.js'
import { checkRequest, type ValidRequest } from '../../src/rmi/validate.js'

class Hurt extends Error {
  constructor(message: string, readonly level: number) {
    super(message)
    this.name = 'Hurt'
  }
}

class Base {
  @remote inherited(): string {
    return 'from base'
  }
}

class Dog extends Base {
  constructor(readonly name = 'rover', readonly age = 1) {
    super()
  }
  @remote bark(words: string, loud = false): string {
    return `${this.name} says ${loud ? words.toUpperCase() : words}`
  }
  @remote async later(ms: number): Promise<number> {
    await new Promise(r => setTimeout(r, ms))
    return ms
  }
  @remote hurt(): never {
    throw new Hurt('ouch', 7)
  }
  @remote typeError(): never {
    throw new TypeError('bad type')
  }
  @remote throwString(): never {
    throw 'just a string' // eslint-disable-line no-throw-literal
  }
  @remote progress(n: number): Promise<string> {
    const { progress } = Context.current()
    progress.total = n
    const sends: Promise<void>[] = []
    for (let i = 1; i <= n; i++) {
      progress.completed = i
      progress.details = { step: i }
      sends.push(progress.report())
    }
    return Promise.all(sends).then(() => Context.current().sn ?? 'none')
  }
  @remote options(first: string, { loud = false, times = 1 } = {}): string {
    return `${first}:${loud}:${times}`
  }
  @remote returnsMap(): Map<string, number> {
    return new Map([['a', 1]])
  }
  notRemote(): string {
    return 'secret'
  }
}

const echo = remote(function echo(thing: unknown) {
  return thing
})

const dispatcher = new Dispatcher([{ module: 'testplugin', catalog: collate('testplugin', { Dog, Base: class NotExported {}, echo, helper: () => 1 }) }])

function request(classname: string, method: string, args: unknown[] = [], kws: Record<string, unknown> = {}, cntr: ValidRequest['cntr'] = null): ValidRequest {
  return { sn: 'sn-1', data: null, replyto: null, classname, method, args, kws, cntr }
}

async function call(req: ValidRequest, sink: ((t: number, c: number, d: unknown) => Promise<void>) | null = null) {
  return dispatcher.dispatch(req, new Context('sn-1', null, sink))
}

describe('dispatch', () => {
  it('calls a remote method with positional and keyword arguments', async () => {
    assert.deepEqual(await call(request('Dog', 'bark', ['hi'])), { retval: 'rover says hi' })
    assert.deepEqual(await call(request('Dog', 'bark', [], { words: 'hi', loud: true })), { retval: 'rover says HI' })
  })

  it('constructs the class per request with cntr args and kwargs', async () => {
    assert.deepEqual(await call(request('Dog', 'bark', ['hi'], {}, { args: ['rex'], kws: {} })), { retval: 'rex says hi' })
    assert.deepEqual(await call(request('Dog', 'bark', ['hi'], {}, { args: [], kws: { name: 'fido' } })), { retval: 'fido says hi' })
  })

  it('awaits async methods and reaches inherited @remote methods', async () => {
    assert.deepEqual(await call(request('Dog', 'later', [5])), { retval: 5 })
    assert.deepEqual(await call(request('Dog', 'inherited')), { retval: 'from base' })
  })

  it('answers a method that returns at once without a promise, and an async one with a promise', async () => {
    const now = dispatcher.dispatch(request('Dog', 'bark', ['hi']), new Context('sn-1', null, null))
    assert.deepEqual(now, { retval: 'rover says hi' }, 'a plain body: started and the result can leave together')
    const thrown = dispatcher.dispatch(request('Dog', 'hurt'), new Context('sn-1', null, null))
    assert.equal((thrown as { xclass?: string }).xclass, 'Hurt', 'a synchronous throw is a plain exception body')
    const later = dispatcher.dispatch(request('Dog', 'later', [1]), new Context('sn-1', null, null))
    assert.ok(later instanceof Promise)
    assert.deepEqual(await later, { retval: 1 })
  })

  it('puts unknown keywords into a trailing options object', async () => {
    assert.deepEqual(await call(request('Dog', 'options', ['a'], { loud: true, times: 3 })), { retval: 'a:true:3' })
  })

  it('calls module functions under the plugin name', async () => {
    assert.deepEqual(await call(request('testplugin', 'echo', [{ a: [1, null] }])), { retval: { a: [1, null] } })
  })

  it('answers missing, extra and duplicate arguments with Python TypeErrors', async () => {
    const missing = await call(request('Dog', 'bark'))
    assert.ok('exval' in missing)
    assert.equal(missing.xclass, 'TypeError')
    assert.equal(missing.xmodule, 'builtins')
    assert.deepEqual(missing.xargs, ["Dog.bark() missing 1 required positional argument: 'words'"])
    const extra = await call(request('Dog', 'bark', [1, 2, 3]))
    assert.ok('exval' in extra && /takes 2 positional arguments but 3 were given/.test(String(extra.xargs![0])))
    const dup = await call(request('Dog', 'bark', ['a'], { words: 'b' }))
    assert.ok('exval' in dup && /multiple values for argument 'words'/.test(String(dup.xargs![0])))
    const unexpected = await call(request('Dog', 'bark', ['a'], { nosuch: 1 }))
    assert.ok('exval' in unexpected && /unexpected keyword argument 'nosuch'/.test(String(unexpected.xargs![0])))
  })

  it('reports NamespaceNotFound and MemberNotFound as gofer does', async () => {
    const ns = await call(request('Cat', 'meow'))
    assert.ok('exval' in ns)
    assert.equal(ns.xclass, 'NamespaceNotFound')
    assert.equal(ns.xmodule, 'gofer.rmi.dispatcher')
    assert.deepEqual(ns.xargs, ['"Cat" not provided by plugin.'])
    const member = await call(request('Dog', 'nosuch'))
    assert.ok('exval' in member)
    assert.equal(member.xclass, 'MemberNotFound')
    assert.deepEqual(member.xargs, ['"Dog.nosuch()" not provided by plugin.'])
  })

  it('never reaches non-remote members, prototypes or Object builtins', async () => {
    for (const [classname, method] of [
      ['Dog', 'notRemote'], ['Dog', 'constructor'], ['Dog', '__proto__'], ['Dog', 'toString'], ['Dog', 'hasOwnProperty'],
      ['Dog', 'prototype'], ['__proto__', 'bark'], ['constructor', 'name'], ['Object', 'keys'], ['testplugin', 'helper'],
      ['toString', 'call'], ['Base', 'inherited'],
    ]) {
      const result = await call(request(classname!, method!))
      assert.ok('exval' in result, `${classname}.${method} must not be callable`)
      assert.match(result.xclass, /^(NamespaceNotFound|MemberNotFound)$/, `${classname}.${method}`)
    }
  })

  it('carries a plugin exception with its class, module, state and trace', async () => {
    const result = await call(request('Dog', 'hurt'))
    assert.ok('exval' in result)
    assert.equal(result.xclass, 'Hurt')
    assert.equal(result.xmodule, 'testplugin')
    assert.deepEqual(result.xargs, ['ouch'])
    assert.equal(result.xstate.level, 7)
    assert.equal(result.xstate.trace, result.exval)
    assert.match(result.exval, /^Traceback \(most recent call last\):\n/)
    assert.match(result.exval, /Hurt: ouch\n$/)
  })

  it('maps JavaScript builtin errors to the Python builtins a Python caller re-raises', async () => {
    const result = await call(request('Dog', 'typeError'))
    assert.ok('exval' in result)
    assert.deepEqual([result.xmodule, result.xclass], ['builtins', 'TypeError'])
    const thrown = await call(request('Dog', 'throwString'))
    assert.ok('exval' in thrown)
    assert.deepEqual(thrown.xargs, ['just a string'])
  })

  it('sends progress through the context and exposes the sn', async () => {
    const seen: unknown[] = []
    const result = await call(request('Dog', 'progress', [3]), async (total, completed, details) => {
      seen.push([total, completed, details])
    })
    assert.deepEqual(result, { retval: 'sn-1' })
    assert.deepEqual(seen, [[3, 1, { step: 1 }], [3, 2, { step: 2 }], [3, 3, { step: 3 }]])
  })
})

describe('checkRequest', () => {
  const good = { sn: 'x', version: '2.0', routing: [null, 'q'], replyto: 'r', data: { d: 1 }, request: { classname: 'Dog', method: 'bark', args: [], kws: {}, cntr: null } }

  it('accepts a well-formed request and reads kwargs when kws is absent', () => {
    const checked = checkRequest({ ...good, request: { classname: 'Dog', method: 'bark', kwargs: { n: 7 } } })
    assert.ok(checked.ok)
    assert.deepEqual(checked.request.kws, { n: 7 })
    assert.deepEqual(checked.request.args, [])
  })

  it('rejects a wrong version with gofer\'s code, description and details', () => {
    const checked = checkRequest({ ...good, version: '1.0' })
    assert.ok(!checked.ok)
    assert.deepEqual(checked.rejection, { code: 'model.version', description: 'MODEL: document version not matched', details: 'expected:2.0, found:1.0' })
    assert.equal(checked.replyto, 'r')
    assert.deepEqual(checked.data, { d: 1 })
  })

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['sn', { sn: 5 }, /^sn:/],
    ['replyto', { replyto: 5 }, /^replyto:/],
    ['request', { request: 'x' }, /^request: expected an object/],
    ['classname', { request: { classname: 1, method: 'm' } }, /^request\.classname/],
    ['method', { request: { classname: 'C', method: null } }, /^request\.method/],
    ['args', { request: { classname: 'C', method: 'm', args: 'a' } }, /^request\.args/],
    ['kws', { request: { classname: 'C', method: 'm', kws: [] } }, /^request\.kws/],
    ['cntr', { request: { classname: 'C', method: 'm', cntr: [1, 2] } }, /^request\.cntr/],
    ['huge classname', { request: { classname: 'C'.repeat(10000), method: 'm' } }, /^request\.classname/],
  ]
  for (const [what, patch, details] of bad) {
    it(`rejects a wrong ${what} naming the field`, () => {
      const checked = checkRequest({ ...good, ...patch })
      assert.ok(!checked.ok)
      assert.equal(checked.rejection.code, 'model.request')
      assert.match(checked.rejection.details, details)
    })
  }
})
