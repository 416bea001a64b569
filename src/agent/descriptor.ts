// Plugin descriptors (reference/gofer.md §4.3): gofer's sections and defaults, validated strictly
// with errors that name the file, section and key. Unknown sections and keys are kept (plugin
// code reads them through Plugin.cfg).
import { basename, extname } from 'node:path'
import { DescriptorError } from '../errors.js'
import { parseUrl } from '../messaging/url.js'
import { mergeSections, readSections, type Sections } from './config-file.js'
import { externalSettings, type ExternalSettings } from './external/config.js'

export interface Descriptor {
  /** The file it was read from. */
  path: string
  name: string
  enabled: boolean
  /** Module to load instead of searching the plugin path for `name`. */
  plugin: string | null
  threads: number
  latency: number
  accept: string[]
  forward: string[]
  url: string | null
  messaging: { cacert: string | null; clientcert: string | null; clientkey: string | null; hostValidation: boolean; heartbeat: number }
  queue: string | null
  managed: 0 | 1 | 2
  expiration: number
  /** `[external]`: Choria external agents served by this plugin (docs/external-agents.md). */
  external: ExternalSettings | null
  /** Every section as read, defaults merged in. */
  cfg: Sections
}

const DEFAULTS: Sections = {
  main: { enabled: '0', threads: '1', latency: '0', accept: ',', forward: ',' },
  messaging: { heartbeat: '10' },
  model: { managed: '2', expiration: '0' },
}

const BOOL_TRUE = /^(yes|true|1)$/i
const BOOL = /^(yes|true|1|no|false|0|)$/i

/** Read and validate a descriptor file. Throws DescriptorError. */
export function readDescriptor(path: string): Descriptor {
  const sections = readSections(path)
  const name = basename(path, extname(path))
  return validateDescriptor(path, mergeSections(DEFAULTS, { main: { name } }, sections))
}

export function validateDescriptor(path: string, cfg: Sections): Descriptor {
  const get = (section: string, key: string): string | null => {
    const value = cfg[section]?.[key]
    return value === undefined || value === '' ? null : value
  }
  const fail = (section: string, key: string, why: string): never => {
    throw new DescriptorError(path, section, key, why)
  }
  const bool = (section: string, key: string): boolean => {
    const v = cfg[section]?.[key] ?? ''
    if (!BOOL.test(v)) fail(section, key, `value "${v}" must be one of: yes, true, 1, no, false, 0`)
    return BOOL_TRUE.test(v)
  }
  const integer = (section: string, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = get(section, key) ?? ''
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(section, key, `value "${v}" must be an integer from ${min} to ${max}`)
    return Number(v)
  }
  const float = (section: string, key: string): number => {
    const v = get(section, key) ?? ''
    if (!/^\d+(\.\d+)?$/.test(v)) fail(section, key, `value "${v}" must be a number of seconds (e.g. 0.5)`)
    return Number(v)
  }
  const list = (section: string, key: string): string[] =>
    (get(section, key) ?? '').split(',').map(s => s.trim()).filter(Boolean)

  const name = get('main', 'name')
  if (!name) return fail('main', 'name', 'must not be empty')
  if (!/^[\w.-]+$/.test(name)) fail('main', 'name', `value "${name}" may contain only letters, digits, "_", "." and "-"`)
  const url = get('messaging', 'url')
  if (url) {
    try {
      parseUrl(url)
    } catch (error) {
      fail('messaging', 'url', (error as Error).message)
    }
  }
  const managedText = get('model', 'managed') ?? ''
  if (!/^[012]$/.test(managedText)) fail('model', 'managed', `value "${managedText}" must be 0, 1 or 2`)
  const queue = get('model', 'queue')
  if (queue !== null && !/^[^/\s]+(\/[^/\s]+)?$/.test(queue)) {
    fail('model', 'queue', `value "${queue}" must be "queue" or "exchange/queue" without spaces`)
  }
  return {
    path,
    name: name!,
    enabled: bool('main', 'enabled'),
    plugin: get('main', 'plugin'),
    threads: integer('main', 'threads', 1, 1000),
    latency: float('main', 'latency'),
    accept: list('main', 'accept'),
    forward: list('main', 'forward'),
    url,
    messaging: {
      cacert: get('messaging', 'cacert'),
      clientcert: get('messaging', 'clientcert'),
      clientkey: get('messaging', 'clientkey'),
      hostValidation: bool('messaging', 'host_validation'),
      heartbeat: integer('messaging', 'heartbeat', 0, 3600),
    },
    queue,
    managed: Number(managedText) as 0 | 1 | 2,
    expiration: integer('model', 'expiration', 0),
    external: externalSettings(path, cfg),
    cfg,
  }
}

/** The queue part of `[model] queue` (`exchange/queue` or `queue`) and its exchange, if any. */
export function splitModelQueue(queue: string): { exchange: string | null; queue: string } {
  const slash = queue.indexOf('/')
  return slash < 0 ? { exchange: null, queue } : { exchange: queue.slice(0, slash), queue: queue.slice(slash + 1) }
}
