// Named pino loggers matching gofer's logger names (gofer.agent, gofer.messaging, gofer.rmi,
// plugin names). JSON lines on stderr for machines; one readable line per record when stderr is
// a terminal (GOFER_LOG_FORMAT=json|text forces either). Level from GOFER_LOG_LEVEL (default
// info) or setLogLevel() (agent.conf [logging]).
import pino, { type DestinationStream, type Level, type Logger } from 'pino'

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const HIDDEN = new Set(['level', 'time', 'pid', 'name', 'msg'])

/** `12:00:01.234 WARN  gofer.agent: message key=value ...` */
function textLine(json: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(json)
  } catch {
    return json
  }
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : ''
  const level = (LEVEL_NAMES[record.level as number] ?? String(record.level)).padEnd(5)
  const extras = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => {
      if (key === 'err' && value && typeof value === 'object') return `err=${(value as { message?: string }).message}`
      return `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`
    })
  return `${time} ${level} ${record.name ?? ''}: ${record.msg ?? ''}${extras.length ? '  ' + extras.join(' ') : ''}\n`
}

function destination(): DestinationStream {
  const sink = pino.destination({ fd: 2, sync: true })
  const format = process.env.GOFER_LOG_FORMAT ?? (process.stderr.isTTY ? 'text' : 'json')
  if (format !== 'text') return sink
  return { write: (line: string) => sink.write(textLine(line)) }
}

const root: Logger = pino({
  level: process.env.GOFER_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
}, destination())

const loggers = new Map<string, Logger>()

/** The logger named `name` (created once; shares the root's destination). */
export function logger(name: string): Logger {
  let log = loggers.get(name)
  if (!log) {
    log = root.child({ name })
    loggers.set(name, log)
  }
  return log
}

/** Set the level of one named logger, or of all when name is `root`. */
export function setLogLevel(name: string, level: Level | 'silent'): void {
  if (name === 'root') {
    root.level = level
    for (const log of loggers.values()) log.level = level
  } else logger(name).level = level
}

export type { Logger }
