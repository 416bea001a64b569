// The builtin `Admin` namespace on every plugin queue (reference/gofer.md §4.8): hello, echo,
// help, cancel. It runs on its own slots (gofer's builtin pool of 3) so it answers while plugins are busy,
// and shadows any plugin class named Admin.
import { collate } from '../rmi/catalog.js'
import { remote } from '../rmi/decorators.js'
import { tracker } from '../rmi/tracker.js'
import { container } from './container.js'
import { Executor } from './executor.js'
import { report } from './report.js'

export const BUILTIN_CLASS = 'Admin'

export class Admin {
  hello(): string {
    return 'Hello, I am gofer agent'
  }

  echo(text: unknown): unknown {
    return text
  }

  help(): string {
    return report(container.all())
  }

  /**
   * Cancel requests (§4.14): by serial number, or every request whose `data` matches gofer's
   * `criteria` (which then replaces `sn`). Returns the serial numbers newly cancelled; an
   * unknown `sn` raises `serial number (<sn>), not-found`.
   */
  cancel(sn: unknown = null, criteria: unknown = null): string[] {
    return tracker.cancelRequests({ sn, criteria })
  }
}
// Marked by hand (not with decorator syntax) so this file needs no decorator lowering.
for (const name of ['hello', 'echo', 'help', 'cancel'] as const) remote(Admin.prototype[name])

export const builtinCatalog = collate('gofer.agent.builtin', { Admin })
export const builtinExecutor = new Executor(3)
