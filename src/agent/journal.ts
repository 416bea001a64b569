// The pending journal (reference/gofer.md §4.12): one JSON file per accepted request under
// <state>/messaging/pending/<plugin>/, named like gofer's (`<seconds>-<microseconds>-<NNNN>.json`,
// so Python gofer's files replay here and sort chronologically), holding the request document.
//
// Written and fsynced before the broker ack, deleted after the final reply is confirmed: a goferd
// killed at any point either never acked (the broker redelivers) or finds the file on restart
// and answers again (at-least-once). Writes arriving together share one directory fsync (group
// commit): under load a batch costs about one disk flush instead of one per request.
//
// Where: GOFER_STATE_DIR, else /var/lib/gofer for the system configuration (/etc/gofer), else
// <config dir>/state, so test, demo and per-user daemons need no root and keep their own state.
import { constants } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Logger } from '../log.js'
import type { Document } from '../rmi/envelope.js'
import { dumps } from '../rmi/json.js'

/** The state directory for the configuration directory `etc` (see the file comment). */
export function defaultStateDir(etc: string): string {
  const fromEnv = process.env.GOFER_STATE_DIR
  if (fromEnv) return resolve(fromEnv)
  return resolve(etc) === '/etc/gofer' ? '/var/lib/gofer' : join(resolve(etc), 'state')
}

/** A plugin's pending directory inside a state directory. */
export function pendingDir(stateDir: string, plugin: string): string {
  return join(stateDir, 'messaging', 'pending', plugin)
}

/** A journaled request found at startup. */
export interface PendingEntry {
  file: string
  document: Document
  /** Admin.cancel reached it before the restart: answer Cancelled, do not run it. */
  cancelled: boolean
}

interface Queued {
  file: string
  body: string
  resolve: (file: string) => void
  reject: (error: unknown) => void
}

const ENTRY = /^\d+-\d{6}-\d{4}\.json$/
const CANCELLED = '.cancelled'

export class Journal {
  private static readonly open = new Map<string, Journal>()

  /**
   * The journal of directory `dir`, one per directory in a process: a reloaded plugin gets the
   * same instance, so it does not replay the files of calls its predecessor still runs.
   */
  static at(dir: string, log: Logger): Journal {
    let journal = Journal.open.get(dir)
    if (!journal) Journal.open.set(dir, (journal = new Journal(dir, log)))
    return journal
  }

  /** Files of requests being answered by this process (never replayed while it runs them). */
  private readonly active = new Set<string>()
  /** Files with a `.cancelled` marker beside them (removed with the file). */
  private readonly marked = new Set<string>()
  private lastMicros = 0
  private counter = 0
  private batch: Queued[] = []
  private flushing = false
  /** The directory, open for fsync (kept open: one sync per batch, no open/close each time). */
  private dirHandle: Promise<FileHandle> | null = null

  constructor(readonly dir: string, private readonly log: Logger) {}

  /** gofer's name: time with microseconds, plus a counter when the clock did not advance. */
  private nextName(): string {
    let micros = Math.floor((performance.timeOrigin + performance.now()) * 1000)
    if (micros <= this.lastMicros) {
      micros = this.lastMicros
      this.counter++
    } else {
      this.counter = 0
    }
    this.lastMicros = micros
    const seconds = Math.floor(micros / 1e6)
    const fraction = String(micros % 1e6).padStart(6, '0')
    return `${seconds}-${fraction}-${String(this.counter).padStart(4, '0')}.json`
  }

  /**
   * Persist `document` durably (file and directory entry fsynced). Resolves with the file to
   * pass to remove(); rejects when the disk refuses (the caller must then not ack early).
   */
  write(document: Document): Promise<string> {
    let body: string
    try {
      body = dumps(document)
    } catch (error) {
      // Called from a timer in the pipeline: a throw here would be uncaught.
      return Promise.reject(error)
    }
    const file = join(this.dir, this.nextName())
    this.active.add(file)
    return new Promise<string>((resolve, reject) => {
      this.batch.push({ file, body, resolve, reject })
      if (!this.flushing) {
        this.flushing = true
        // Let the rest of this loop turn's deliveries join the batch.
        setImmediate(() => void this.flush())
      }
    })
  }

  private directory(): Promise<FileHandle> {
    this.dirHandle ??= mkdir(this.dir, { recursive: true }).then(() => open(this.dir, 'r')).catch(error => {
      this.dirHandle = null
      throw error
    })
    return this.dirHandle
  }

  private async flush(): Promise<void> {
    while (this.batch.length > 0) {
      const group = this.batch.splice(0)
      let outcomes: PromiseSettledResult<void>[]
      try {
        const dir = await this.directory()
        outcomes = await Promise.allSettled(group.map(q => writeDurably(q.file, q.body)))
        // The files' own data is synced; one sync of the directory makes all their names durable.
        await dir.sync()
      } catch (error) {
        outcomes = group.map(() => ({ status: 'rejected', reason: error }))
      }
      group.forEach((q, i) => {
        const outcome = outcomes[i]!
        if (outcome.status === 'fulfilled') q.resolve(q.file)
        else {
          this.active.delete(q.file)
          q.reject(outcome.reason)
        }
      })
    }
    this.flushing = false
  }

  /** Forget a request that has its final reply (or was discarded). Never throws. */
  async remove(file: string): Promise<void> {
    this.active.delete(file)
    if (this.marked.delete(file)) await unlink(`${file}${CANCELLED}`).catch(() => undefined)
    try {
      await unlink(file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: error, file }, 'journal: cannot delete a finished request')
    }
  }

  /**
   * Remember that the request in `file` was cancelled, so a restart answers it Cancelled instead
   * of running it again (gofer keeps /var/lib/gofer/messaging/canceled/<sn> for the same reason).
   * Best effort, not fsynced: losing it to a power cut means the call runs once more.
   */
  async markCancelled(file: string): Promise<void> {
    if (!this.active.has(file) || this.marked.has(file)) return
    this.marked.add(file)
    await writeFile(`${file}${CANCELLED}`, '').catch(error => this.log.warn({ err: error, file }, 'journal: cannot record a cancel'))
  }

  /**
   * The journaled requests, oldest first. A file that is not a JSON object is reported and
   * renamed `<file>.corrupt` (kept for a human, never replayed again); it never stops the rest.
   */
  async pending(): Promise<PendingEntry[]> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
    const entries: PendingEntry[] = []
    const present = new Set(names)
    // A marker whose request is gone (answered just before the stop) has nothing left to say.
    for (const name of names) {
      if (name.endsWith(CANCELLED) && !present.has(name.slice(0, -CANCELLED.length))) await unlink(join(this.dir, name)).catch(() => undefined)
    }
    for (const name of names.filter(n => ENTRY.test(n)).sort()) {
      const file = join(this.dir, name)
      if (this.active.has(file)) continue
      let document: unknown
      try {
        document = JSON.parse(await readFile(file, 'utf8'))
      } catch (error) {
        document = undefined
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      }
      if (document === null || typeof document !== 'object' || Array.isArray(document)) {
        await this.setAside(file, 'not a JSON object')
        continue
      }
      this.active.add(file)
      const cancelled = present.has(name + CANCELLED)
      if (cancelled) this.marked.add(file)
      entries.push({ file, document: document as Document, cancelled })
    }
    return entries
  }

  /** Move a journal file that cannot be replayed out of the way, saying so. */
  async setAside(file: string, why: string): Promise<void> {
    this.active.delete(file)
    this.log.error({ file, why }, 'journal: unreadable request file set aside (renamed .corrupt)')
    await rename(file, `${file}.corrupt`).catch(error => this.log.error({ err: error, file }, 'journal: cannot rename a corrupt file'))
  }

  /** Delete the plugin's pending directory (unload). Leftover .corrupt files go with it. */
  async destroy(): Promise<void> {
    const dir = this.dirHandle
    this.dirHandle = null
    await dir?.then(h => h.close()).catch(() => undefined)
    await rm(this.dir, { recursive: true, force: true })
  }
}

// O_EXCL: names are unique by construction, never overwrite another request's file. O_DSYNC: the
// write returns once the data is on disk, one system call instead of write + fdatasync (measured:
// about half the time and CPU of open/write/fdatasync/close plus a directory open/fsync/close).
const CREATE_DURABLE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC

async function writeDurably(file: string, body: string): Promise<void> {
  const handle = await open(file, CREATE_DURABLE, 0o600)
  try {
    await handle.write(body, null, 'utf8')
  } finally {
    await handle.close()
  }
}
