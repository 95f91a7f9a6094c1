// Dead-letter commands: list, get, stats, replay, delete. `dlq replay` never acts on
// everything by default: it needs a selection (--ids, a filter, or --all), and then
// a confirmation (a question on a terminal, else --yes).
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminConnection } from './admin-connection.ts'
import { confirmBulk, confirmationFor } from './confirm.ts'
import { emit, fields, plural, table } from './format.ts'
import { readPayload, setPayload } from './payload.ts'
import type { CommandInput } from './spec.ts'
import { filters, formatTask, formatTasks, page } from './tasks.ts'
import { UsageError } from './usage.ts'
import { bool, idList, optionalInteger, str } from './values.ts'
import { withAdmin } from './with-admin.ts'

/** the contract's ceiling of one ReplayDLQ; the deployment's guardrail may be lower */
const REPLAY_LIMIT_MAX = 100_000
const REPLAY_LIMIT_DEFAULT = 100

export async function runDlqList (input: CommandInput): Promise<number> {
  const request: RequestOf<'ListDLQ'> = { ...page(input.values, 50), ...filters(input.values) }
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListDLQ', request)
    emit(input, result, () => formatTasks({ tasks: result.entries, total: result.total, offset: result.offset }))
  })
}

export async function runDlqGet (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('GetDLQEntry', { id: input.positionals[0] as string })
    emit(input, result, () => formatTask(result.entry))
  })
}

export async function runDlqStats (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const stats = await admin.call('GetDLQStats', {})
    emit(input, stats, () => {
      const counts = (by: Record<string, number>, what: string): string =>
        table([what, 'DEAD'], Object.entries(by).sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, String(n)]))
      return [
        fields([['dead', stats.total], ['oldest failure', stats.oldestFailedAt], ['newest failure', stats.newestFailedAt]]),
        ...(stats.total === 0 ? [] : ['', counts(stats.byQueue, 'QUEUE'), '', counts(stats.byHandler, 'HANDLER')])
      ].join('\n')
    })
  })
}

export async function runDlqDelete (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('DeleteDLQEntry', { id: input.positionals[0] as string })
    emit(input, result, () => result.deleted ? `deleted dead task ${result.id}` : `dead task ${result.id} was already gone; nothing changed`)
  })
}

type ReplaySelection =
  | { kind: 'ids', request: Omit<RequestOf<'ReplayDLQByID'>, 'dryRun'> }
  | { kind: 'filter', request: Omit<RequestOf<'ReplayDLQ'>, 'dryRun'>, label: string }

/** What `dlq replay` was told to replay; none, or a contradictory one, is a usage error. */
export function replaySelection (input: CommandInput): ReplaySelection {
  const { values } = input
  const ids = str(values, 'ids')
  const queue = str(values, 'queue')
  const handler = str(values, 'handler')
  const all = bool(values, 'all')
  const targetQueue = str(values, 'target-queue')
  const target = targetQueue === undefined ? {} : { targetQueue }
  if (ids !== undefined) {
    if (queue !== undefined || handler !== undefined || all) throw new UsageError('--ids names the tasks itself: drop --queue, --handler and --all')
    if (str(values, 'limit') !== undefined) throw new UsageError('--limit bounds a filter or --all; with --ids every named task is replayed')
    return { kind: 'ids', request: { ids: idList('ids', ids), ...target } }
  }
  if (str(values, 'payload') !== undefined) throw new UsageError('--payload replaces the payload of chosen tasks: use it with --ids')
  if (all && (queue !== undefined || handler !== undefined)) throw new UsageError('--all selects every dead task: drop it, or drop --queue/--handler')
  if (!all && queue === undefined && handler === undefined) {
    throw new UsageError('select what to replay: --ids a,b, a filter (--queue q, --handler h), or --all for every dead task (see switchyard dlq replay --help)')
  }
  const limit = optionalInteger(values, 'limit', 1, REPLAY_LIMIT_MAX) ?? REPLAY_LIMIT_DEFAULT
  const label = all ? 'of any queue and handler' : [queue === undefined ? '' : `of queue ${queue}`, handler === undefined ? '' : `of handler ${handler}`].filter(Boolean).join(' and ')
  return {
    kind: 'filter',
    request: { limit, ...(queue === undefined ? {} : { queue }), ...(handler === undefined ? {} : { handler }), ...target },
    label
  }
}

type ReplayResult = ResponseOf<'ReplayDLQ'>

function listIds (ids: string[], max = 10): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … ${ids.length - max} more`
}

function formatReplay (r: ReplayResult): string {
  const lines = [r.count === 0
    ? 'no dead task matched; nothing replayed'
    : `${r.dryRun ? 'would replay' : 'replayed'} ${plural(r.count, 'dead task')}: ${listIds(r.replayed)}`]
  if (r.skipped.length > 0) lines.push(`skipped ${r.skipped.length} not in the DLQ: ${r.skipped.map(s => `${s.id} (${s.reason === 'wrong_state' ? s.state ?? 'not dead' : 'not found'})`).join(', ')}`)
  return lines.join('\n')
}

export async function runDlqReplay (input: CommandInput): Promise<number> {
  const selection = replaySelection(input)
  const decision = confirmationFor(input)
  const payloadFlag = str(input.values, 'payload')
  if (payloadFlag === '-' && decision === 'ask') throw new UsageError('--payload - reads stdin, which is the terminal that would answer the question: pass --yes, or the payload as @file')
  let replay: (dryRun: boolean) => (admin: AdminConnection) => Promise<ReplayResult>
  let what: string
  if (selection.kind === 'ids') {
    const request: RequestOf<'ReplayDLQByID'> = { ...selection.request }
    if (payloadFlag !== undefined) setPayload(request, await readPayload(payloadFlag, input.io.stdin))
    replay = dryRun => async admin => await admin.call('ReplayDLQByID', { ...request, dryRun })
    what = 'of the named ids'
  } else {
    replay = dryRun => async admin => await admin.call('ReplayDLQ', { ...selection.request, dryRun })
    what = selection.label
  }
  return await withAdmin(input, async (admin) => await confirmBulk<ReplayResult>(input, decision, {
    preview: async () => await replay(true)(admin),
    act: async () => await replay(false)(admin),
    count: r => r.count,
    describe: r => `replay ${plural(r.count, 'dead task')} ${what}${selection.request.targetQueue === undefined ? '' : ` into queue ${selection.request.targetQueue}`} (${listIds(r.replayed, 5)})`,
    print: r => emit(input, r, () => formatReplay(r))
  }))
}
