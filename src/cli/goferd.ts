// `goferd`: the agent daemon, always in the foreground (systemd runs it as Type=simple).
// SIGTERM/SIGINT: stop consuming, finish calls in flight, send their replies, exit 0.
import { Command } from 'commander'
import { existsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Daemon } from '../agent/daemon.js'
import { logger } from '../log.js'

const log = logger('gofer.agent')

const program = new Command('goferd')
  .description('gofer agent daemon: loads plugins and serves their remote methods over AMQP')
  .option('-c, --config <dir>', 'configuration directory holding agent.conf and plugins/', process.env.GOFER_ETC ?? '/etc/gofer')
  .option('-f, --foreground', 'run in the foreground (always; accepted for compatibility with gofer)')
  .option('-u, --url <url>', 'use this broker URL for every plugin instead of its [messaging] url')
  .option('-P, --plugin-path <dirs>', 'colon-separated directories searched for plugin modules (before the defaults)')
  .option('--pid-file <path>', 'single instance: refuse to start while a live goferd holds this file (default: /var/run/goferd.pid for /etc/gofer, else <config>/goferd.pid)', process.env.GOFER_PID_FILE)
  .option('--no-pid-file', 'run without a pid file (no single-instance check)')
  .option('-s, --state-dir <dir>', 'where the pending journal lives (env GOFER_STATE_DIR; default: /var/lib/gofer for /etc/gofer, else <config>/state)')
  .parse(process.argv)

const options = program.opts<{ config: string; url?: string; pluginPath?: string; pidFile?: string | false; stateDir?: string }>()
// Through the environment, so every Daemon this file builds (and forked children) agree.
if (options.stateDir) process.env.GOFER_STATE_DIR = resolve(options.stateDir)
if (options.pluginPath) process.env.GOFER_PLUGIN_PATH = [options.pluginPath, process.env.GOFER_PLUGIN_PATH].filter(Boolean).join(':')

process.on('unhandledRejection', error => log.error({ err: error }, 'unhandled rejection (bug); goferd keeps running'))

if (!existsSync(options.config) || !statSync(options.config).isDirectory()) {
  process.stderr.write(`goferd: configuration directory "${options.config}" not found (use -c <dir>)\n`)
  process.exit(1)
}

// One goferd per configuration: gofer's /var/run/goferd.pid for the system one; any other
// configuration directory gets its own pid file, so test and demo daemons don't collide with it.
const explicitPidFile = typeof options.pidFile === 'string'
const pidFile = options.pidFile === false ? null
  : explicitPidFile ? (options.pidFile as string)
  : resolve(options.config) === '/etc/gofer' ? '/var/run/goferd.pid' : join(resolve(options.config), 'goferd.pid')

let daemon: Daemon
try {
  daemon = new Daemon({ etc: options.config, url: options.url, pidFile })
} catch (error) {
  process.stderr.write(`goferd: ${(error as Error).message}\n`)
  process.exit(1)
}
let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    log.warn(`${signal} again: exiting now`)
    process.exit(1)
  }
  stopping = true
  log.info(`${signal}: stopping`)
  try {
    await daemon.stop()
    process.exit(0)
  } catch (error) {
    log.error({ err: error }, 'stop failed')
    process.exit(1)
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

try {
  await daemon.start()
} catch (error) {
  const e = error as NodeJS.ErrnoException
  // A default pid file in a place we may not write (not root, read-only config) is not worth
  // refusing to run for; an explicit one, or another goferd holding it, is.
  if (!explicitPidFile && pidFile && (e.code === 'EACCES' || e.code === 'EROFS' || e.code === 'ENOENT') && e.path === pidFile) {
    log.warn({ pidFile, err: e.message }, 'pid file not writable: running without the single-instance check')
    daemon = new Daemon({ etc: options.config, url: options.url, pidFile: null })
    try {
      await daemon.start()
    } catch (again) {
      process.stderr.write(`goferd: ${(again as Error).message}\n`)
      process.exit(1)
    }
  } else {
    process.stderr.write(`goferd: ${e.message}\n`)
    process.exit(1)
  }
}
// A daemon stays up even with no plugin attached (descriptors may be loaded later).
setInterval(() => undefined, 1 << 30)
