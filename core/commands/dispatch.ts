// From argv to a command of the table and its parsed flags. Everything wrong with
// the command line is a UsageError (exit 2), raised before any module of the command
// is loaded.
import { parseArgs } from 'node:util'
import type { CommandSpec, FlagValues } from './spec.ts'
import { COMMANDS, commandNames, flagsOf } from './table.ts'
import { UsageError } from './usage.ts'

export type Resolved =
  /** `words`: the name or alias argv used */
  | { kind: 'command', spec: CommandSpec, words: string[], rest: string[] }
  /** words that only start command names, e.g. `queue weight` */
  | { kind: 'group', words: string[] }

function startsWith (words: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= words.length && prefix.every((w, i) => words[i] === w)
}

/** the command named by the leading words of argv (the longest name or alias that matches) */
export function resolveCommand (argv: readonly string[]): Resolved {
  const leading: string[] = []
  for (const arg of argv) {
    if (arg.startsWith('-')) break
    leading.push(arg)
  }
  let best: { spec: CommandSpec, words: string[] } | null = null
  for (const spec of COMMANDS) {
    for (const words of commandNames(spec)) {
      if (startsWith(leading, words) && (best === null || words.length > best.words.length)) best = { spec, words }
    }
  }
  // `queue weight` is no command but starts `queue weight set`: show that group.
  for (let n = leading.length; n > (best?.words.length ?? 0); n--) {
    const prefix = leading.slice(0, n)
    if (COMMANDS.some(spec => commandNames(spec).some(words => words.length > n && startsWith(words, prefix)))) return { kind: 'group', words: prefix }
  }
  if (best === null) {
    if (leading.length === 0) throw new UsageError('missing command (run switchyard --help)')
    throw new UsageError(`unknown command "${leading[0] ?? ''}" (run switchyard --help)`)
  }
  return { kind: 'command', spec: best.spec, words: best.words, rest: argv.slice(best.words.length) }
}

export interface ParsedCommand {
  values: FlagValues
  positionals: string[]
}

/** the subcommands one level below a command, e.g. `list get stats replay delete` under `dlq` */
export function subcommandsOf (words: readonly string[]): string[] {
  const next = new Set<string>()
  for (const spec of COMMANDS) {
    for (const name of commandNames(spec)) {
      if (name.length > words.length && startsWith(name, words)) next.add(name[words.length] as string)
    }
  }
  return [...next]
}

/** `words`: the name or alias the command was called by */
export function parseCommandArgs (spec: CommandSpec, args: readonly string[], words: readonly string[] = spec.name.split(' ')): ParsedCommand {
  let parsed: { values: FlagValues, positionals: string[] }
  try {
    const result = parseArgs({ args: [...args], options: flagsOf(spec), allowPositionals: true, strict: true })
    parsed = { values: result.values as FlagValues, positionals: result.positionals }
  } catch (err) {
    // node's messages name the flag; the command makes them actionable
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\s*\n\s*/g, ' ')
    throw new UsageError(`${spec.name}: ${message} (see switchyard ${spec.name} --help)`)
  }
  if (parsed.values.help === true) return parsed
  const declared = spec.args ?? []
  const missing = declared.slice(parsed.positionals.length).find(a => a.required)
  if (missing !== undefined) throw new UsageError(`${spec.name}: missing <${missing.name}> (usage: switchyard ${spec.name} ${declared.map(a => a.required ? `<${a.name}>` : `[${a.name}]`).join(' ')})`)
  const extra = parsed.positionals[declared.length]
  if (extra !== undefined) {
    const subs = subcommandsOf(words)
    if (declared.length === 0 && subs.length > 0) throw new UsageError(`unknown command "${words.join(' ')} ${extra}" (${words.join(' ')} has: ${subs.join(', ')})`)
    throw new UsageError(`${spec.name}: unexpected argument "${extra}"${declared.length === 0 ? ' (it takes none)' : ''}`)
  }
  return parsed
}
