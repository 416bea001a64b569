// One goferd per pid file (gofer's /var/run/goferd.pid lock, reference/gofer.md §4.1). The file
// is created with O_EXCL and holds our pid; if it exists and names a live process, this goferd
// refuses to start ("already running"); if that process is gone (SIGKILL, crash, reboot) the
// stale file is replaced. Node has no flock, so liveness is checked with kill(pid, 0); the one
// race left (two goferds replacing the same stale file at the same instant) needs a crash and a
// double start together, and the loser's pid check on release keeps the winner's file.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'

export class AlreadyRunning extends Error {
  constructor(readonly path: string, readonly pid: number) {
    super(`goferd already running (pid ${pid}, pid file ${path})`)
    this.name = 'AlreadyRunning'
  }
}

/** Whether a process with this pid exists (EPERM: exists, owned by someone else). */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readPid(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim()
    return /^\d+$/.test(text) ? Number(text) : null
  } catch {
    return null
  }
}

export class PidFile {
  private held = false

  constructor(readonly path: string, readonly pid: number = process.pid) {}

  /** Take the pid file; throws AlreadyRunning, or the fs error (EACCES, ENOENT dir...). */
  acquire(): void {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(this.path, 'wx', 0o644)
        try {
          writeSync(fd, `${this.pid}\n`)
        } finally {
          closeSync(fd)
        }
        this.held = true
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const owner = readPid(this.path)
      if (owner === this.pid) {
        this.held = true
        return
      }
      // An empty file may be another goferd between create and write: give it a moment.
      if (owner === null && attempt === 0) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
        continue
      }
      if (owner !== null && alive(owner)) throw new AlreadyRunning(this.path, owner)
      try {
        unlinkSync(this.path)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }
    throw new Error(`pid file ${this.path}: could not be taken (another goferd starting?)`)
  }

  /** Remove the file if it is still ours. */
  release(): void {
    if (!this.held) return
    this.held = false
    if (readPid(this.path) !== this.pid) return
    try {
      unlinkSync(this.path)
    } catch {
      // Already gone: nothing to release.
    }
  }
}
