// Finding and importing plugin modules (reference/gofer.md §4.4): `[main] plugin` names a file
// (relative to the descriptor) or a module; otherwise `<name>.{ts,mts,js,mjs}` is searched in the
// plugin path. TypeScript plugins and `import 'gofer'` work through loader-hooks.ts.
import { existsSync, statSync } from 'node:fs'
import { register } from 'node:module'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PluginError } from '../errors.js'

const here = dirname(fileURLToPath(import.meta.url))
/** The package root (dist/src/agent -> repo). */
export const PACKAGE_ROOT = resolve(here, '..', '..', '..')

/** Where plugins are searched by name, first hit wins. */
export function defaultPluginPath(): string[] {
  const fromEnv = (process.env.GOFER_PLUGIN_PATH ?? '').split(':').filter(Boolean)
  return [
    ...fromEnv,
    join(PACKAGE_ROOT, 'plugins'),
    '/usr/share/gofer/plugins',
    '/usr/lib/gofer/plugins',
    '/opt/gofer/plugins',
  ]
}

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs']

let hooksRegistered = false

function registerHooks(): void {
  if (hooksRegistered) return
  hooksRegistered = true
  const goferUrl = pathToFileURL(join(here, '..', 'index.js')).href
  register(pathToFileURL(join(here, 'loader-hooks.js')).href, { data: { goferUrl } })
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** The file to import for a plugin, or a PluginError naming where it looked. */
export function locatePlugin(name: string, module: string | null, descriptorPath: string, path: string[]): string {
  if (module && (module.includes('/') || EXTENSIONS.some(e => module.endsWith(e)))) {
    const file = isAbsolute(module) ? module : resolve(dirname(descriptorPath), module)
    if (!isFile(file)) throw new PluginError(`${descriptorPath}: [main] plugin: file "${file}" not found`)
    return file
  }
  const wanted = module ?? name
  const tried: string[] = []
  for (const dir of path) {
    for (const ext of EXTENSIONS) {
      const file = join(dir, wanted + ext)
      tried.push(file)
      if (isFile(file)) return file
    }
    const index = join(dir, wanted)
    if (existsSync(index) && statSync(index).isDirectory()) {
      for (const ext of EXTENSIONS) {
        const file = join(index, 'index' + ext)
        if (isFile(file)) return file
      }
    }
  }
  throw new PluginError(`${wanted}: plugin module not found in: ${path.join(', ')}`)
}

let generation = 0

/** Import a plugin module; `fresh` re-imports it (reload) instead of reusing the cached module. */
export async function importPlugin(file: string, fresh = false): Promise<Record<string, unknown>> {
  registerHooks()
  const url = pathToFileURL(file)
  if (fresh) url.search = `?gofer-load=${++generation}`
  try {
    return (await import(url.href)) as Record<string, unknown>
  } catch (error) {
    throw new PluginError(`${file}: import failed: ${(error as Error).message}`, { cause: error })
  }
}
