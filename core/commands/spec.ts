// The shape of one row of the command table (core/commands/table.ts). The table is
// the single description of the command line: the dispatcher parses with it, and
// `--help`, shell completion and the README section are rendered from it. Nothing
// here may import a command's implementation: `switchyard --version` and `--help`
// load the table only, each command's module is imported when it runs.
import type { RpcName } from '../contract/rpcs.ts'

export interface FlagSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  readonly description: string
  /** placeholder in usage lines, e.g. `n`, `file`, `duration` */
  readonly value?: string
  /** values shell completion proposes; 'file' completes file names */
  readonly complete?: readonly string[] | 'file'
}

export type FlagTable = Readonly<Record<string, FlagSpec>>

export interface ArgSpec {
  readonly name: string
  readonly required: boolean
  readonly description: string
  /** values shell completion proposes */
  readonly complete?: readonly string[]
}

export interface CommandIo {
  readonly stdin: NodeJS.ReadStream
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WriteStream
}

export type FlagValues = Record<string, string | boolean | undefined>

export interface CommandInput {
  readonly values: FlagValues
  readonly positionals: readonly string[]
  readonly io: CommandIo
  /** the full command name, e.g. `dlq replay` (for messages) */
  readonly command: string
}

/** Runs a command; the number is the exit code. Usage errors are thrown as UsageError. */
export type CommandHandler = (input: CommandInput) => Promise<number>

export interface CommandSpec {
  /** words of the command, e.g. `queue weight set` */
  readonly name: string
  /** other spellings that run the same command, e.g. `dlq` for `dlq list` */
  readonly aliases?: readonly string[]
  readonly summary: string
  /** more help text, shown by `switchyard <command> --help` */
  readonly details?: string
  readonly args?: readonly ArgSpec[]
  readonly flags?: FlagTable
  /** reaches a deployment through the admin contract: takes the connection flags */
  readonly admin: boolean
  /** --json prints stable machine-readable output */
  readonly json: boolean
  /** the admin RPCs this command calls (a test checks every RPC has a command) */
  readonly rpcs: readonly RpcName[]
  readonly examples?: readonly string[]
  /** imports the command's module (lazily) and returns its handler */
  readonly load: () => Promise<CommandHandler>
}
