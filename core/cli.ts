// The `switchyard` command. Every failure ends as one line on stderr (code and
// message), never a stack trace; SWITCHYARD_DEBUG=1 prints the stack as well.
import { parseArgs } from 'node:util'
import { isSwitchyardError } from './errors.ts'
import { runStart } from './commands/start.ts'
import { runEnqueue } from './commands/enqueue.ts'
import { runTasks } from './commands/tasks.ts'
import { runConfigCheck } from './commands/config-check.ts'
import { runCerts } from './commands/certs.ts'

const USAGE = `Usage: switchyard <command> [options]

Commands:
  start [--config file]            run workers (and the demo on the embedded default)
  worker [--config file]           run a worker only: no demo tasks
  enqueue <handler> [--payload json] [--queue q] [--delay 10s] [--key k] [--priority n] [--max-attempts n]
  tasks [--state s] [--queue q] [--handler h] [--query text] [--limit n]
  config check [file]              validate a config file and print the effective config
  certs [--dir d] [--force]        create a development CA, server and client certificates (default <dataDir>/certs)

Options:
  -c, --config <file>              config file (YAML or JSON); default: the embedded default
  -h, --help                       show this help`

export async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n')
    return command === undefined ? 1 : 0
  }
  switch (command) {
    case 'start':
      return await runStart(parse(rest, {}).values, { demo: 'config' })
    case 'worker':
      return await runStart(parse(rest, {}).values, { demo: 'off' })
    case 'enqueue': {
      const { values, positionals } = parse(rest, {
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
      return await runConfigCheck(positionals[0] ?? values.config)
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

type OptionSpec = Record<string, { type: 'string' | 'boolean', short?: string }>

function parse (args: string[], options: OptionSpec, allowPositionals = false): { values: Record<string, string | undefined>, positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: { config: { type: 'string', short: 'c' }, ...options },
      allowPositionals,
      strict: true
    })
    return { values: parsed.values as Record<string, string | undefined>, positionals: parsed.positionals }
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
