// `gofer rmi`: call a remote method as gofer's CLI does (reference/gofer.md §6.3).
import { Command, Option } from 'commander'
import { InvalidArgument } from '../errors.js'
import { DEFAULT_URL } from '../messaging/url.js'
import { Agent, type AgentOptions } from '../rmi/agent.js'
import { seconds } from '../rmi/duration.js'
import { parseInput, parseTarget, splitArguments } from './arguments.js'
import { fail, show } from './output.js'

interface RmiOptions {
  url: string
  address?: string
  target?: string
  reply?: string
  input?: string
  wait?: string
  progress?: string
  data?: string
  ttl?: string
  cacert?: string
  clientcert?: string
  clientkey?: string
  hostValidation: boolean
}

export function rmiCommand(): Command {
  return new Command('rmi')
    .description('invoke a remote method on an agent')
    .usage('[options] [<argument>... [<keyword>=<value>...]]')
    .option('-u, --url <url>', 'broker URL ([adapter+]amqp://user:password@host:port/vhost)', process.env.GOFER_URL ?? DEFAULT_URL)
    .option('-a, --address <address>', 'agent address (its queue, or exchange/queue)')
    .option('-t, --target <class.method>', 'what to call, e.g. Dog.bark')
    .option('-r, --reply <address>', 'asynchronous: send replies to this address; prints the serial number')
    .option('-i, --input <json>', 'arguments as JSON [[args], {kwargs}] (replaces positional arguments)')
    .option('-w, --wait <seconds>', 'seconds to wait for the result (units s/m/h/d allowed); 0 = fire-and-forget')
    .option('-p, --progress <prefix>', 'print progress reports, each after this prefix')
    .option('-d, --data <json>', 'user data (JSON), round-tripped in every reply')
    .addOption(new Option('-T, --ttl <seconds>', 'request time-to-live (units s/m/h/d allowed)'))
    // Long options only: gofer's CLI has no TLS options, so no gofer option letter is taken.
    .option('--cacert <path>', 'amqps: CA certificate(s) (PEM) to verify the broker with')
    .option('--clientcert <path>', 'amqps: client certificate (PEM; may hold the key too)')
    .option('--clientkey <path>', 'amqps: client private key (PEM)')
    .option('--no-host-validation', "amqps: accept a broker certificate issued to another host name (the chain is still verified)")
    .argument('[arguments...]', 'positional arguments and keyword=value arguments')
    .allowExcessArguments(true)
    .action(async (words: string[], options: RmiOptions) => {
      try {
        await run(words, options)
      } catch (error) {
        fail(error)
      }
    })
}

async function run(words: string[], options: RmiOptions): Promise<void> {
  if (!options.address) throw new InvalidArgument('Address must be specified')
  const { classname, method } = parseTarget(options.target)
  const { args, kws } = options.input !== undefined ? parseInput(options.input) : splitArguments(words)
  const agentOptions: AgentOptions = {}
  if (options.wait !== undefined) agentOptions.wait = checked('Wait', () => seconds('wait', options.wait))
  if (options.ttl !== undefined) agentOptions.ttl = checked('TTL', () => seconds('ttl', options.ttl))
  if (options.reply) agentOptions.reply = options.reply
  agentOptions.tls = { cacert: options.cacert, clientcert: options.clientcert, clientkey: options.clientkey, hostValidation: options.hostValidation }
  if (options.data !== undefined) {
    try {
      agentOptions.data = JSON.parse(options.data)
    } catch {
      throw new InvalidArgument('data must be valid json')
    }
  }
  if (options.progress !== undefined) {
    const prefix = options.progress
    agentOptions.progress = report => process.stdout.write(prefix + show(report.details) + '\n')
  }
  const agent = new Agent(options.url, options.address, agentOptions)
  try {
    const result = await agent.call({ classname, method, args, kws })
    process.stdout.write(show(result) + '\n')
  } finally {
    await agent.close()
  }
}

function checked(what: string, parse: () => number): number {
  try {
    return parse()
  } catch (error) {
    throw new InvalidArgument(`${what} must be a number of seconds with an optional unit s/m/h/d: ${(error as Error).message}`)
  }
}
