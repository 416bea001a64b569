// The demo plugin (etc/gofer/plugins/demo.conf, queue `demo`): what a gofer plugin looks like.
//   gofer rmi -a demo -t Dog.bark howdy
//   gofer rmi -a demo -t Dog.wag 3 -p 'progress: '
//   gofer rmi -a demo -t demo.echo hello
import { Context, remote } from 'gofer'

/** A plugin error: its own fields travel to the caller as `xstate`. */
export class DogBite extends Error {
  constructor(readonly why: string, readonly severity: number) {
    super(why)
    this.name = 'DogBite'
  }
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export class Dog {
  constructor(readonly name = 'rover', readonly age = 1) {}

  @remote
  bark(words: string): string {
    return `Ruf ${words}`
  }

  /** Wags n times, reporting progress after each wag. */
  @remote
  async wag(n: number): Promise<string> {
    const { progress } = Context.current()
    progress.total = n
    for (let i = 1; i <= n; i++) {
      progress.completed = i
      progress.details = `wag ${i} of ${n}`
      await progress.report()
    }
    return `wagged ${n} times`
  }

  @remote
  bite(why = 'you stepped on my tail'): never {
    throw new DogBite(why, 3)
  }

  /** Sleeps, stopping early if the call is cancelled. */
  @remote
  async sleep(seconds: number): Promise<string> {
    const until = Date.now() + seconds * 1000
    while (Date.now() < until && !Context.current().cancelled()) await sleep(Math.min(50, until - Date.now()))
    return `slept ${seconds}s`
  }

  /** Who am I: shows the constructor arguments the caller sent (`cntr`). */
  @remote
  describe(): { name: string; age: number } {
    return { name: this.name, age: this.age }
  }

  /** Not remote: callers get MemberNotFound. */
  scratch(): string {
    return 'scratch'
  }
}

/** Module functions: the namespace is the plugin's name (`demo.echo`). */
export const echo = remote(function echo(thing: unknown): unknown {
  return thing
})

export const add = remote(function add(a: number, b: number): number {
  return a + b
})
