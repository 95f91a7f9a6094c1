// Bulk actions ask before they act. On a terminal (stdin and stdout both a TTY) the
// command first runs the action as a dry run, shows what it would change and asks;
// anywhere else (a script, a pipe, CI) nobody can answer, so it needs --yes.
// --dry-run only reports, and is always allowed.
import { createInterface } from 'node:readline'
import type { CommandInput, CommandIo } from './spec.ts'
import { UsageError } from './usage.ts'

export type ConfirmDecision = 'dry-run' | 'act' | 'ask' | 'refuse'

export function decideConfirmation (options: { dryRun: boolean, yes: boolean, interactive: boolean }): ConfirmDecision {
  if (options.dryRun) return 'dry-run'
  if (options.yes) return 'act'
  return options.interactive ? 'ask' : 'refuse'
}

export function isInteractive (io: CommandIo): boolean {
  return io.stdin.isTTY === true && io.stdout.isTTY === true
}

/** true only for an explicit yes */
export function isYes (answer: string): boolean {
  return /^\s*(y|yes)\s*$/i.test(answer)
}

/** Asks one question on stderr and reads one line from stdin; end of input is a no. */
export function ask (io: CommandIo, question: string): Promise<string> {
  return new Promise(resolve => {
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true })
    let answered = false
    rl.question(question, answer => { answered = true; rl.close(); resolve(answer) })
    rl.on('close', () => { if (!answered) { io.stderr.write('\n'); resolve('') } })
  })
}

export interface BulkAction<R> {
  /** the action with dryRun set: what it would change */
  preview: () => Promise<R>
  /** the action itself; after a confirmed preview, that preview (null with --yes), so the call can change exactly what was shown */
  act: (preview: R | null) => Promise<R>
  /** how many things the result changed (or would) */
  count: (result: R) => number
  /** one line naming what would change, for the question, e.g. "replay 3 dead tasks (a, b, c)" */
  describe: (result: R) => string
  /** prints a result (text or --json) */
  print: (result: R) => void
}

/**
 * How a bulk command proceeds; without --yes, --dry-run or a terminal it is a usage
 * error, raised before anything is called.
 */
export function confirmationFor (input: CommandInput): Exclude<ConfirmDecision, 'refuse'> {
  const decision = decideConfirmation({ dryRun: input.values['dry-run'] === true, yes: input.values.yes === true, interactive: isInteractive(input.io) })
  if (decision === 'refuse') {
    throw new UsageError(`${input.command} acts in bulk and there is no terminal to ask on: pass --yes to do it, or --dry-run to see what it would do`)
  }
  return decision
}

export async function confirmBulk<R> (input: CommandInput, decision: Exclude<ConfirmDecision, 'refuse'>, action: BulkAction<R>): Promise<number> {
  switch (decision) {
    case 'dry-run':
      action.print(await action.preview())
      return 0
    case 'act':
      action.print(await action.act(null))
      return 0
    case 'ask': {
      const preview = await action.preview()
      if (action.count(preview) === 0) {
        action.print(preview)
        return 0
      }
      const answer = await ask(input.io, `${input.command}: ${action.describe(preview)}. Go ahead? [y/N] `)
      if (!isYes(answer)) {
        input.io.stderr.write(`${input.command}: not confirmed; nothing changed\n`)
        return 1
      }
      action.print(await action.act(preview))
      return 0
    }
  }
}

/**
 * The expectedSelection of a confirmed "all matching" action: the previewed set the
 * operator just said yes to, else --expect-selection (a --dry-run's answer, for scripts);
 * the server then changes exactly that set or refuses with SELECTION_CHANGED.
 */
export function expectedSelection (input: CommandInput, preview: { selection?: string } | null): { expectedSelection?: string } {
  const flag = input.values['expect-selection']
  const selection = preview?.selection ?? (typeof flag === 'string' ? flag : undefined)
  return selection === undefined ? {} : { expectedSelection: selection }
}

/** the dry run's line naming its selection, for --expect-selection */
export function selectionLine (result: { dryRun: boolean, count: number, selection?: string }): string[] {
  if (!result.dryRun || result.count === 0 || result.selection === undefined) return []
  return [`selection ${result.selection}: to change exactly these, run the same command with --yes --expect-selection ${result.selection}`]
}
