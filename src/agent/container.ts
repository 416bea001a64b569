// The loaded plugins of this process, by name and by descriptor path (gofer's Container).
import type { Plugin } from './plugin.js'

class Container {
  private readonly plugins: Plugin[] = []

  add(plugin: Plugin): void {
    this.plugins.push(plugin)
  }

  remove(plugin: Plugin): void {
    const index = this.plugins.indexOf(plugin)
    if (index >= 0) this.plugins.splice(index, 1)
  }

  find(nameOrPath: string): Plugin | null {
    return this.plugins.find(p => p.name === nameOrPath || p.path === nameOrPath) ?? null
  }

  all(): Plugin[] {
    return [...this.plugins]
  }
}

export const container = new Container()
