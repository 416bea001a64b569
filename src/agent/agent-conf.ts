// agent.conf (reference/gofer.md §4.2): `[management]` (enabled, host, port) and `[logging]`
// (`<logger>=<level>`, gofer's Python level names accepted), with every `conf.d/*.conf` (also
// .ini/.json) merged after it in sorted order, later values winning key by key. gofer documents
// conf.d but never read it (§10.4); we do. Bad values are refused naming file, section and key.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import { DescriptorError } from '../errors.js'
import { mergeSections, readSections, type Sections } from './config-file.js'

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

export interface AgentConf {
  management: { enabled: boolean; host: string; port: number }
  /** Logger name (`root` = all) -> level. */
  logging: Record<string, LogLevel>
  /** Every section as merged (unknown ones kept). */
  sections: Sections
  /** The files read, in merge order. */
  files: string[]
  /** Problems worth a log line (unknown log levels). */
  warnings: string[]
}

export const MANAGEMENT_DEFAULTS = { enabled: false, host: 'localhost', port: 5650 }

const LEVELS = new Set<string>(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
/** Python's level names as gofer's agent.conf uses them. */
const PYTHON_LEVELS: Record<string, LogLevel> = { warning: 'warn', critical: 'fatal', notset: 'trace' }

/** pino's level for a gofer/Python level name (case-insensitive), or null if unknown. */
export function logLevel(name: string): LogLevel | null {
  const wanted = name.trim().toLowerCase()
  const level = PYTHON_LEVELS[wanted] ?? wanted
  return LEVELS.has(level) ? (level as LogLevel) : null
}

const CONFIG_EXTENSIONS = ['.conf', '.ini', '.json']

/** agent.conf then conf.d/* (sorted), the files that exist. */
export function agentConfFiles(etc: string): string[] {
  const files: string[] = []
  const main = join(etc, 'agent.conf')
  if (existsSync(main)) files.push(main)
  const dir = join(etc, 'conf.d')
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    files.push(...readdirSync(dir)
      .filter(f => CONFIG_EXTENSIONS.includes(extname(f).toLowerCase()))
      .map(f => join(dir, f))
      .filter(f => statSync(f).isFile())
      .sort())
  }
  return files
}

/** Read and validate agent.conf + conf.d under `etc`. Throws DescriptorError. */
export function readAgentConf(etc: string): AgentConf {
  const files = agentConfFiles(etc)
  const sources = files.map(f => ({ file: f, sections: readSections(f) }))
  const sections = mergeSections(...sources.map(s => s.sections))
  // Errors name the last file that set the key, which is the one to fix.
  const origin = (section: string, key: string): string =>
    [...sources].reverse().find(s => s.sections[section]?.[key] !== undefined)?.file ?? join(etc, 'agent.conf')
  const m = sections.management ?? {}
  let enabled = MANAGEMENT_DEFAULTS.enabled
  if (m.enabled !== undefined) {
    if (!/^(yes|true|1|no|false|0|)$/i.test(m.enabled)) throw new DescriptorError(origin('management', 'enabled'), 'management', 'enabled', `value "${m.enabled}" must be one of: yes, true, 1, no, false, 0`)
    enabled = /^(yes|true|1)$/i.test(m.enabled)
  }
  let port = MANAGEMENT_DEFAULTS.port
  if (m.port !== undefined && m.port !== '') {
    if (!/^\d+$/.test(m.port) || Number(m.port) > 65535) throw new DescriptorError(origin('management', 'port'), 'management', 'port', `value "${m.port}" must be an integer from 0 to 65535`)
    port = Number(m.port)
  }
  const host = m.host?.trim() || MANAGEMENT_DEFAULTS.host
  const logging: Record<string, LogLevel> = {}
  const warnings: string[] = []
  for (const [name, value] of Object.entries(sections.logging ?? {})) {
    const level = logLevel(value)
    // An unknown level is reported and ignored rather than keeping goferd down over logging.
    if (!level) warnings.push(`${origin('logging', name)}: [logging] ${name}: unknown level "${value}" ignored (debug, info, warning, error, critical)`)
    else logging[name] = level
  }
  return { management: { enabled, host, port }, logging, sections, files, warnings }
}
