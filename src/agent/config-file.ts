// Reading gofer configuration files (reference/gofer.md §4.2): `.conf`/`.ini` as INI, `.json` as
// {section: {key: value}}. INI follows gofer's reader, not a generic one: `key=value` or
// `key: value` split at the first separator, `#` and `;` comment lines, no inline comments, a
// repeated section header starts that section afresh, all values are strings. (The `ini` package
// neither splits on `:` nor keeps values as strings, so it is not used here.)
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { DescriptorError } from '../errors.js'

export type Sections = Record<string, Record<string, string>>

/** Parse INI text as gofer does. Lines before any section header are ignored. */
export function parseIni(text: string): Sections {
  const sections: Sections = Object.create(null)
  let current: Record<string, string> | null = null
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    if (line.startsWith('[') && line.endsWith(']')) {
      current = Object.create(null) as Record<string, string>
      sections[line.slice(1, -1).trim()] = current
      continue
    }
    if (!current) continue
    const eq = line.indexOf('=')
    const colon = line.indexOf(':')
    const at = eq < 0 ? colon : colon < 0 ? eq : Math.min(eq, colon)
    if (at < 0) current[line] = ''
    else current[line.slice(0, at).trim()] = line.slice(at + 1).trim()
  }
  return sections
}

/** Parse a JSON descriptor: an object of objects; values are kept as strings. */
export function parseJsonSections(file: string, text: string): Sections {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new DescriptorError(file, null, null, `not valid JSON (${(error as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DescriptorError(file, null, null, 'must be a JSON object of sections')
  }
  const sections: Sections = Object.create(null)
  for (const [name, body] of Object.entries(value as Record<string, unknown>)) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new DescriptorError(file, name, null, 'section must be an object of key: value')
    }
    const section: Record<string, string> = Object.create(null)
    for (const [key, v] of Object.entries(body as Record<string, unknown>)) {
      section[key] = v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)
    }
    sections[name] = section
  }
  return sections
}

/** Read a configuration file by extension (.json = JSON, anything else = INI). */
export function readSections(file: string): Sections {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new DescriptorError(file, null, null, `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  return extname(file).toLowerCase() === '.json' ? parseJsonSections(file, text) : parseIni(text)
}

/** Merge section by section; later sources win key by key. */
export function mergeSections(...sources: Sections[]): Sections {
  const out: Sections = Object.create(null)
  for (const source of sources) {
    for (const [name, body] of Object.entries(source)) {
      out[name] = Object.assign(out[name] ?? Object.create(null), body)
    }
  }
  return out
}
