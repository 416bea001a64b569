// The loaded plugins of this process, by name and by descriptor path (gofer's Container).
import type { Plugin } from './plugin.js'

class Container {
  private readonly plugins: Plugin[] = []
  /** Plugins being imported and activated: not served yet, but their code may Plugin.find them. */
  private readonly loading: Plugin[] = []

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

  /** Mark `plugin` as loading (its module's top level and @load hooks run now) or done. */
  setLoading(plugin: Plugin, loading: boolean): void {
    const index = this.loading.indexOf(plugin)
    if (loading && index < 0) this.loading.push(plugin)
    if (!loading && index >= 0) this.loading.splice(index, 1)
  }

  /** The plugin being loaded under this name or path, or null. */
  findLoading(nameOrPath: string): Plugin | null {
    return this.loading.find(p => p.name === nameOrPath || p.path === nameOrPath) ?? null
  }
}

export const container = new Container()
