// The `switchyard` command. Every failure ends as one line on stderr (code and
// message), never a stack trace; SWITCHYARD_DEBUG=1 prints the stack as well.
import { parseArgs } from 'node:util'
import { isSwitchyardError } from './errors.ts'
import { runStart } from './commands/start.ts'
import { runGateway } from './commands/gateway.ts'
import { runEnqueue } from './commands/enqueue.ts'
import { runTasks } from './commands/tasks.ts'
import { runConfigCheck } from './commands/config-check.ts'
import { runCerts } from './commands/certs.ts'
import { runDlq, runOverview, runPause, runQueues } from './commands/operate.ts'
import { CONNECTION_FLAGS } from './commands/connection-flags.ts'
import { runSchedules } from './commands/schedules.ts'

const USAGE = `Usage: switchyard <command> [options]

Commands:
  start [--config file]            run workers and the admin listeners (and the demo on the embedded default)
  worker [--config file]           run a worker only: no admin listeners, no demo tasks
  gateway [--config file]          run the HTTPS gateway alone in front of admin.grpcTarget (WORKER_ADMIN_GRPC_TARGET): no backend, no worker
  enqueue <handler> [--payload json] [--queue q] [--delay 10s] [--key k] [--priority n] [--max-attempts n]
  tasks [--state s] [--queue q] [--handler h] [--query text] [--limit n] [--offset n]
  queues                           queues with counts, weights and pause flags
  schedules                        schedules: spec, time zone, paused, next/previous run, last status
  overview                         totals, workers and coordination state
  pause [queue] | resume [queue]   a queue, or global dequeue without a queue
  dlq [list|stats|replay|delete]   dead tasks: list (--queue --handler --query), replay (--ids a,b | --limit n) [--dry-run] [--target-queue q], delete <id>
  config check [file]              validate a config file and print the effective config
  certs [--dir d] [--force]        create a development CA, server and client certificates (default <dataDir>/certs)

Options:
  -c, --config <file>              config file (YAML or JSON); default: the embedded default
  Admin commands (enqueue, tasks, queues, schedules, overview, pause, resume, dlq) go through the running
  gateway with the client certificate from <dataDir>/certs, else open the backend here:
  --url https://host:port --client-cert f --client-key f --cacert f   another gateway (env SWITCHYARD_GATEWAY_URL,
                                   SWITCHYARD_CLIENT_CERT, SWITCHYARD_CLIENT_KEY)
  --approval <token>               X-Admin-Approval (env SWITCHYARD_APPROVAL_TOKEN)
  --local                          skip the gateway and open the backend in this process
  --json                           print JSON instead of a table
  -h, --help                       show this help`

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n')
    return command === undefined ? 1 : 0
  }
  switch (command) {
    case 'start':
      return await runStart(parse(rest, {}).values, { demo: 'config', listen: true })
    case 'worker':
      return await runStart(parse(rest, {}).values, { demo: 'off', listen: false })
    case 'gateway':
      return await runGateway(parse(rest, {}).values)
    case 'enqueue': {
      const { values, positionals } = parse(rest, {
        ...CONNECTION_FLAGS,
        payload: { type: 'string' },
        queue: { type: 'string' },
        delay: { type: 'string' },
        key: { type: 'string' },
        priority: { type: 'string' },
        'max-attempts': { type: 'string' }
      }, true)
      return await runEnqueue(values, positionals)
    }
    case 'tasks': {
      const { values } = parse(rest, {
        ...CONNECTION_FLAGS,
        state: { type: 'string' },
        queue: { type: 'string' },
        handler: { type: 'string' },
        query: { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' }
      })
      return await runTasks(values)
    }
    case 'config': {
      const [sub, ...args] = rest
      if (sub !== 'check') throw new CliUsageError(`unknown config subcommand "${sub ?? ''}" (expected: config check [file])`)
      const { values, positionals } = parse(args, {}, true)
      return await runConfigCheck(positionals[0] ?? (typeof values.config === 'string' ? values.config : undefined))
    }
    case 'schedules':
      return await runSchedules(parse(rest, CONNECTION_FLAGS).values)
    case 'queues':
      return await runQueues(parse(rest, CONNECTION_FLAGS).values)
    case 'overview':
      return await runOverview(parse(rest, CONNECTION_FLAGS).values)
    case 'pause':
    case 'resume': {
      const { values, positionals } = parse(rest, CONNECTION_FLAGS, true)
      return await runPause(values, positionals, command === 'pause')
    }
    case 'dlq': {
      const { values, positionals } = parse(rest, {
        ...CONNECTION_FLAGS,
        queue: { type: 'string' },
        handler: { type: 'string' },
        query: { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' },
        ids: { type: 'string' },
        'target-queue': { type: 'string' },
        'dry-run': { type: 'boolean' }
      }, true)
      return await runDlq(values, positionals)
    }
    case 'certs': {
      const { values } = parse(rest, { dir: { type: 'string' }, force: { type: 'boolean' } })
      return await runCerts(values)
    }
    default:
      throw new CliUsageError(`unknown command "${command}" (run switchyard --help)`)
  }
}

export class CliUsageError extends Error {}

type OptionSpec = Readonly<Record<string, { readonly type: 'string' | 'boolean', readonly short?: string }>>

function parse (args: string[], options: OptionSpec, allowPositionals = false): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { config: { type: 'string', short: 'c' }, ...options },
      allowPositionals,
      strict: true
    })
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals }
  } catch (err) {
    throw new CliUsageError((err as Error).message)
  }
}

function describe (err: unknown): string {
  if (isSwitchyardError(err)) return `switchyard: ${err.code}: ${err.message}`
  if (err instanceof CliUsageError) return `switchyard: ${err.message}`
  const message = err instanceof Error ? err.message : String(err)
  return `switchyard: ${message.split('\n')[0] ?? message}`
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err: unknown) => {
    process.stderr.write(describe(err) + '\n')
    if (process.env.SWITCHYARD_DEBUG === '1' && err instanceof Error) process.stderr.write((err.stack ?? '') + '\n')
    process.exitCode = err instanceof CliUsageError ? 2 : 1
  }
)
