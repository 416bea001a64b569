// Node module hooks for plugins (registered once by loader.ts, run on the hooks thread):
//   - `import ... from 'gofer'` in a plugin resolves to this running daemon's own package, so
//     decorators and Context share one registry whatever node_modules the plugin sits beside;
//   - `.ts`/`.mts` plugins are transpiled by esbuild (types stripped, TC39 decorators lowered,
//     which Node 20 cannot run natively).
import { readFile } from 'node:fs/promises'
import { transform } from 'esbuild'

interface InitData {
  goferUrl: string
}

let goferUrl = ''

export function initialize(data: InitData): void {
  goferUrl = data.goferUrl
}

type NextResolve = (specifier: string, context: unknown) => Promise<{ url: string }>
type NextLoad = (url: string, context: unknown) => Promise<{ format?: string; source?: unknown }>

/** The query loader.ts adds to re-import a plugin on reload. */
const FRESH = 'gofer-load'

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === 'gofer') return { url: goferUrl, shortCircuit: true }
  const resolved = await next(specifier, context)
  // A reloaded plugin's relative imports carry its reload mark, so helper modules beside the
  // plugin are re-evaluated with their current code too; packages (bare specifiers) stay shared.
  const parent = (context as { parentURL?: string }).parentURL
  if (parent?.startsWith('file:') && /^\.\.?\//.test(specifier) && resolved.url.startsWith('file:')) {
    const mark = new URL(parent).searchParams.get(FRESH)
    const url = new URL(resolved.url)
    if (mark && !url.searchParams.has(FRESH)) {
      url.searchParams.set(FRESH, mark)
      return { ...resolved, url: url.href }
    }
  }
  return resolved
}

const TS = /\.(ts|mts)$/

export async function load(url: string, context: unknown, next: NextLoad): Promise<{ format?: string; source?: unknown; shortCircuit?: boolean }> {
  if (!url.startsWith('file:') || !TS.test(new URL(url).pathname)) return next(url, context)
  const path = new URL(url).pathname
  const source = await readFile(path, 'utf8')
  const result = await transform(source, {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: decodeURIComponent(path),
    sourcemap: 'inline',
  })
  return { format: 'module', source: result.code, shortCircuit: true }
}
