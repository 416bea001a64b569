// The `[external]` section of a plugin descriptor: where a plugin's Choria external agents live
// and how they run. Validated with the descriptor, so a bad value is refused naming the file,
// section and key like every other descriptor error.
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { DescriptorError } from '../../errors.js'
import type { Sections } from '../config-file.js'

export const SECTION = 'external'

export interface ExternalSettings {
  /** Directories scanned for agents (absolute). */
  agents: string[]
  /** goferd environment variables passed to agents besides PATH (names). */
  environment: string[]
  /** Seconds, for DDLs without `metadata.timeout` (null: such DDLs are refused, as in Choria). */
  timeout: number | null
  /** CHORIA_EXTERNAL_CONFIG is `<config_dir>/<agent>`. */
  configDir: string
  /** A JSON file of facts handed to agents (null: `{}`). */
  facts: string | null
  /** The request's `collective`. */
  collective: string
  /** Fill in declared input defaults before validating, as Choria's clients do. */
  inputDefaults: boolean
  /** Seconds between re-scans of the agents directories (Choria: 20); 0 = never. */
  rescan: number
}

const KEYS = new Set(['agents', 'environment', 'timeout', 'config_dir', 'facts', 'collective', 'input_defaults', 'rescan'])
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The `[external]` settings of descriptor `path`, or null without that section. */
export function externalSettings(path: string, cfg: Sections): ExternalSettings | null {
  const section = cfg[SECTION]
  if (!section) return null
  const fail = (key: string | null, why: string): never => {
    throw new DescriptorError(path, SECTION, key, why)
  }
  const get = (key: string): string | null => {
    const value = section[key]
    return value === undefined || value === '' ? null : value
  }
  for (const key of Object.keys(section)) {
    if (!KEYS.has(key)) fail(key, `unknown key; known: ${[...KEYS].join(', ')}`)
  }
  const base = dirname(path)
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(base, p))
  const agentsText = get('agents')
  if (agentsText === null) return fail('agents', 'required: the directory (or colon-separated directories) holding the agents')
  const agents = agentsText.split(':').map(s => s.trim()).filter(Boolean).map(absolute)
  const environment = (get('environment') ?? '').split(',').map(s => s.trim()).filter(Boolean)
  for (const name of environment) {
    if (!ENV_NAME.test(name)) fail('environment', `"${name}" is not a variable name`)
    if (name.startsWith('CHORIA_EXTERNAL_') || name === 'PATH') fail('environment', `"${name}" is always set by goferd`)
  }
  let timeout: number | null = null
  const timeoutText = get('timeout')
  if (timeoutText !== null) {
    if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1 || Number(timeoutText) > 86_400) {
      fail('timeout', `value "${timeoutText}" must be an integer from 1 to 86400 (seconds)`)
    }
    timeout = Number(timeoutText)
  }
  const collective = get('collective') ?? 'mcollective'
  if (!/^[a-z0-9_]+$/.test(collective)) fail('collective', `value "${collective}" must match ^[a-z0-9_]+$`)
  const defaults = (get('input_defaults') ?? 'yes').toLowerCase()
  if (!/^(yes|true|1|no|false|0)$/.test(defaults)) fail('input_defaults', `value "${defaults}" must be one of: yes, true, 1, no, false, 0`)
  const rescanText = get('rescan') ?? '20'
  if (!/^\d+$/.test(rescanText) || Number(rescanText) > 86_400) fail('rescan', `value "${rescanText}" must be an integer from 0 to 86400 (seconds; 0 = never)`)
  const configDir = get('config_dir')
  const facts = get('facts')
  return {
    agents,
    environment,
    timeout,
    // Choria: `<dir of the server config>/plugin.d`; ours is the etc directory above plugins/.
    configDir: configDir ? absolute(configDir) : join(dirname(base), 'plugin.d'),
    facts: facts ? absolute(facts) : null,
    collective,
    inputDefaults: /^(yes|true|1)$/.test(defaults),
    rescan: Number(rescanText),
  }
}
