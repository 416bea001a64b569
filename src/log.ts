// Named pino loggers matching gofer's logger names (gofer.agent, gofer.messaging, gofer.rmi,
// plugin names). JSON to stderr; level from GOFER_LOG_LEVEL (default info) or setLogLevel().
import pino, { type Logger, type Level } from 'pino'

const root: Logger = pino({
  level: process.env.GOFER_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
}, pino.destination({ fd: 2, sync: true }))

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
