// The `switchyard` command. The command table (core/commands/table.ts) says what
// exists; a command's module is imported only when it runs, so `--version` and
// `--help` load nothing else. Every failure ends as one line on stderr (code and
// message), never a stack trace; SWITCHYARD_DEBUG=1 prints the stack as well.
// Exit codes: 0 ok, 1 refused or failed, 2 usage.
import { parseCommandArgs, resolveCommand } from './commands/dispatch.ts'
import type { CommandIo } from './commands/spec.ts'
import { UsageError } from './commands/usage.ts'
import { coreVersion } from './commands/version.ts'

async function main (argv: readonly string[], io: CommandIo): Promise<number> {
  const [first] = argv
  if (first === '--version' || first === '-V') {
    io.stdout.write(argv.includes('--json') ? `${JSON.stringify({ version: coreVersion() })}\n` : `${coreVersion()}\n`)
    return 0
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const help = await import('./commands/help.ts')
    if (first === undefined) {
      io.stderr.write(help.globalHelp() + '\n')
      return 2
    }
    const topic = argv.slice(1)
    if (topic.length === 0) {
      io.stdout.write(help.globalHelp() + '\n')
      return 0
    }
    const resolved = resolveCommand(topic)
    io.stdout.write((resolved.kind === 'group' ? help.groupHelp(resolved.words) : help.commandHelp(resolved.spec)) + '\n')
    return 0
  }
  const resolved = resolveCommand(argv)
  if (resolved.kind === 'group') {
    const help = await import('./commands/help.ts')
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout.write(help.groupHelp(resolved.words) + '\n')
      return 0
    }
    io.stderr.write(`switchyard: ${resolved.words.join(' ')}: missing command\n${help.groupHelp(resolved.words)}\n`)
    return 2
  }
  const { spec } = resolved
  const { values, positionals } = parseCommandArgs(spec, resolved.rest, resolved.words)
  if (values.help === true) {
    io.stdout.write((await import('./commands/help.ts')).commandHelp(spec) + '\n')
    return 0
  }
  const handler = await spec.load()
  try {
    return await handler({ values, positionals, io, command: spec.name })
  } catch (err) {
    // a usage error names the command it is about
    if (err instanceof UsageError && !err.message.startsWith(spec.name)) throw new UsageError(`${spec.name}: ${err.message}`)
    throw err
  }
}

async function describe (err: unknown): Promise<string> {
  if (err instanceof UsageError) return `switchyard: ${err.message}`
  const { isSwitchyardError } = await import('./errors.ts')
  if (isSwitchyardError(err)) return `switchyard: ${err.code}: ${err.message}`
  const message = err instanceof Error ? err.message : String(err)
  return `switchyard: ${message.split('\n')[0] ?? message}`
}

try {
  process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
} catch (err) {
  process.stderr.write(await describe(err) + '\n')
  if (process.env.SWITCHYARD_DEBUG === '1' && err instanceof Error) process.stderr.write((err.stack ?? '') + '\n')
  process.exitCode = err instanceof UsageError ? 2 : 1
}
