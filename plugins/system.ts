// The system plugin (gofer's plugins/system.py): run shell commands, manage services through
// systemctl, halt or reboot the host. Disabled by default (etc/gofer/plugins/system.conf): it
// hands the broker's callers root's shell. With `accept=*` and no queue of its own, other plugins
// reach it by forwarding (`forward=system` in their descriptor), as in gofer.
//
//   gofer rmi -a demo -t Shell.run 'uptime'         (demo.conf with forward=system)
//
// Every method returns gofer's [status, {stdout, stderr}] (or [-1, "<why>"] when the command
// cannot be started), with each output line sent to the caller as progress, and stops the
// command when the request is cancelled (the Shell helper does all three).
import { remote, Shell as Runner } from 'gofer'

/** Unit and user names go on a command line: no option injection (`--now`), no odd characters. */
function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_@.:-]+$/.test(name) || name.startsWith('-')) {
    throw new TypeError(`${kind} name must be letters, digits and _ @ . : - not starting with "-", got ${JSON.stringify(name)}`)
  }
  return name
}

/** `when` for shutdown(8): `now`, `+m` (minutes) or `hh:mm`; gofer's default is 1 (minute). */
function checkWhen(when: unknown): string {
  const text = typeof when === 'number' ? `+${when}` : String(when)
  if (!/^(now|\+?\d+|\d{1,2}:\d{2})$/.test(text)) throw new TypeError(`when must be now, +minutes or hh:mm, got ${JSON.stringify(when)}`)
  return text
}

export class System {
  /** Halt the host at `when` (shutdown -h). With `now` the reply may never be sent. */
  @remote halt(when: string | number = 1) {
    return new Runner().run('shutdown', '-h', checkWhen(when))
  }

  /** Reboot the host at `when` (shutdown -r). */
  @remote reboot(when: string | number = 1) {
    return new Runner().run('shutdown', '-r', checkWhen(when))
  }

  /** Cancel a scheduled halt or reboot. */
  @remote cancel() {
    return new Runner().run('shutdown', '-c')
  }
}

/** A systemd unit: `Service('httpd').restart()`. */
export class Service {
  readonly name: string
  constructor(name: string) {
    this.name = checkName('service', name)
  }

  private systemctl(verb: string) {
    return new Runner().run('systemctl', verb, this.name)
  }

  @remote start() {
    return this.systemctl('start')
  }

  @remote stop() {
    return this.systemctl('stop')
  }

  @remote restart() {
    return this.systemctl('restart')
  }

  /** systemctl's exit status says it: 0 active, 3 inactive, 4 no such unit. */
  @remote status() {
    return this.systemctl('status')
  }
}

/**
 * A shell command line. As gofer's `Shell(user)`, the command runs as `su - <user> -c <cmd>`
 * (goferd runs as root); without a user it runs under /bin/sh as goferd's own user.
 */
export class Shell {
  readonly user: string | null
  constructor(user: string | null = null) {
    this.user = user === null || user === undefined ? null : checkName('user', user)
  }

  @remote run(cmd: string) {
    if (typeof cmd !== 'string' || cmd.trim() === '') throw new TypeError('cmd must be a non-empty command line')
    const shell = new Runner()
    return this.user ? shell.run('su', '-', this.user, '-c', cmd) : shell.run('/bin/sh', '-c', cmd)
  }
}
