// `gofer`: the command-line client (rmi now; mgt talks to goferd's management port).
import { Command } from 'commander'
import { mgtCommand } from './mgt.js'
import { rmiCommand } from './rmi.js'

const program = new Command('gofer')
  .description('gofer command-line client')
  .addCommand(mgtCommand())
  .addCommand(rmiCommand())
  .showHelpAfterError('(see gofer <command> --help)')

// No command: usage, exit 0 (as gofer does); an unknown command is an error (exit 1).
if (process.argv.length <= 2) {
  program.outputHelp()
  process.exit(0)
}
await program.parseAsync(process.argv)
// Connections are closed by then; exit without waiting for stray timers.
process.exit(0)
