// How the CLI prints values and errors: strings as they are, anything else as JSON; errors as
// `<Class>: <message>` on stderr with exit status 1.
import { GoferError, RemoteError } from '../errors.js'

export function show(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return 'null'
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

export function describeError(error: unknown): string {
  if (error instanceof RemoteError) return error.message
  if (error instanceof GoferError) return error.message
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}

export function fail(error: unknown): never {
  process.stderr.write(describeError(error) + '\n')
  process.exit(1)
}
