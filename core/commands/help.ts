// `--help` text, rendered from the command table.
import type { ArgSpec, CommandSpec, FlagSpec } from './spec.ts'
import { COMMANDS, CONNECTION_FLAGS_HELP, EXIT_CODES, GLOBAL_FLAGS, JSON_FLAG } from './table.ts'

export function argUsage (arg: ArgSpec): string {
  return arg.required ? `<${arg.name}>` : `[${arg.name}]`
}

export function usageLine (spec: CommandSpec): string {
  const args = (spec.args ?? []).map(argUsage)
  const own = Object.keys(spec.flags ?? {}).length > 0 ? ['[options]'] : []
  return ['switchyard', spec.name, ...args, ...own].join(' ')
}

export function flagLabel (name: string, flag: FlagSpec): string {
  const long = `--${name}${flag.type === 'string' ? ` <${flag.value ?? 'value'}>` : ''}`
  return flag.short === undefined ? `    ${long}` : `-${flag.short}, ${long}`
}

function flagLines (flags: Readonly<Record<string, FlagSpec>>, width: number): string[] {
  return Object.entries(flags).map(([name, flag]) => `  ${flagLabel(name, flag).padEnd(width)}  ${flag.description}`)
}

function labelWidth (...tables: Array<Readonly<Record<string, FlagSpec>>>): number {
  return Math.max(0, ...tables.flatMap(t => Object.entries(t).map(([n, f]) => flagLabel(n, f).length)))
}

function exitCodeLines (): string[] {
  return ['Exit codes:', ...EXIT_CODES.map(([code, meaning]) => `  ${code}  ${meaning}`)]
}

export function commandHelp (spec: CommandSpec): string {
  const lines = [`Usage: ${usageLine(spec)}`, '', spec.summary]
  if (spec.details !== undefined) lines.push('', spec.details)
  if ((spec.aliases ?? []).length > 0) lines.push('', `Also: ${(spec.aliases ?? []).map(a => `switchyard ${a}`).join(', ')}`)
  const args = spec.args ?? []
  if (args.length > 0) {
    const width = Math.max(...args.map(a => argUsage(a).length))
    lines.push('', 'Arguments:', ...args.map(a => `  ${argUsage(a).padEnd(width)}  ${a.description}`))
  }
  const own = spec.flags ?? {}
  const connection = spec.admin ? CONNECTION_FLAGS_HELP : {}
  const general = { ...(spec.json ? JSON_FLAG : {}), ...GLOBAL_FLAGS }
  const width = labelWidth(own, connection, general)
  if (Object.keys(own).length > 0) lines.push('', 'Options:', ...flagLines(own, width))
  if (spec.admin) lines.push('', 'Connection (through the running gateway, else the backend opened here):', ...flagLines(connection, width))
  lines.push('', 'General:', ...flagLines(general, width))
  if ((spec.examples ?? []).length > 0) lines.push('', 'Examples:', ...(spec.examples ?? []).map(e => `  ${e}`))
  lines.push('', ...exitCodeLines())
  return lines.join('\n')
}

/** the commands whose name starts with these words, e.g. all of `dlq` */
export function commandsUnder (words: readonly string[]): CommandSpec[] {
  const prefix = words.join(' ')
  return COMMANDS.filter(c => c.name === prefix || c.name.startsWith(`${prefix} `))
}

function commandTable (specs: readonly CommandSpec[]): string[] {
  const labels = specs.map(s => [s.name, ...(s.args ?? []).map(argUsage)].join(' '))
  const width = Math.max(...labels.map(l => l.length))
  return specs.map((s, i) => `  ${(labels[i] ?? '').padEnd(width)}  ${s.summary}`)
}

export function groupHelp (words: readonly string[]): string {
  const specs = commandsUnder(words)
  return [`Usage: switchyard ${words.join(' ')} <command> [options]`, '', 'Commands:', ...commandTable(specs), '',
    `Run switchyard ${words.join(' ')} <command> --help for its options.`].join('\n')
}

export function globalHelp (): string {
  const width = labelWidth(GLOBAL_FLAGS, { version: { type: 'boolean', description: '' } })
  return [
    'Usage: switchyard <command> [arguments] [options]',
    '',
    'Commands:',
    ...commandTable(COMMANDS),
    '',
    'Options:',
    ...flagLines({ ...GLOBAL_FLAGS, version: { type: 'boolean', description: 'print the version of Switchyard and exit' } }, width),
    '',
    'Admin commands reach the deployment through its running gateway (mutual TLS, the client',
    'certificate in <dataDir>/certs unless --client-cert/--client-key say otherwise), else they',
    'open the backend in this process. Every admin command takes --json.',
    'Run switchyard <command> --help for the options of a command.',
    '',
    ...exitCodeLines()
  ].join('\n')
}

