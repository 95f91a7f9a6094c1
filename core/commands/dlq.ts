// Dead-letter commands: list, get, stats, replay, delete. `dlq replay` never acts on
// everything by default: it needs a selection (--ids, a filter, or --all), and then
// a confirmation (a question on a terminal, else --yes).
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminConnection } from './admin-connection.ts'
import { confirmBulk, confirmationFor, expectedSelection, selectionLine } from './confirm.ts'
import { emit, fields, plural, table } from './format.ts'
import { readPayload, setPayload } from './payload.ts'
import type { CommandInput } from './spec.ts'
import { filters, formatTask, formatTasks, page } from './tasks.ts'
import { UsageError } from './usage.ts'
import { bool, durationMs, idList, optionalInteger, str } from './values.ts'
import { withAdmin } from './with-admin.ts'
import { windowOf } from './time-window.ts'

/** the contract's ceiling of one ReplayDLQ; the deployment's guardrail may be lower */
const REPLAY_LIMIT_MAX = 100_000
const REPLAY_LIMIT_DEFAULT = 100
/** the contract's ceiling of one PurgeDLQ; the deployment's guardrail (admin.guardrails.purgeLimitMax) may be lower */
const PURGE_LIMIT_MAX = 100_000

export async function runDlqList (input: CommandInput): Promise<number> {
  const request: RequestOf<'ListDLQ'> = { ...page(input.values, 50), ...filters(input.values), ...windowOf(input.values) }
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListDLQ', request)
    emit(input, result, () => formatTasks({ tasks: result.entries, total: result.total, offset: result.offset, nextCursor: result.nextCursor }, request.cursor !== undefined))
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
  const query = str(values, 'query')
  const owner = ownerOf(values)
  const window = windowOf(values)
  const all = bool(values, 'all')
  const targetQueue = str(values, 'target-queue')
  const target = targetQueue === undefined ? {} : { targetQueue }
  const filtered = queue !== undefined || handler !== undefined || query !== undefined || owner.tenant !== undefined || owner.correlationId !== undefined || window.since !== undefined || window.until !== undefined
  if (ids !== undefined) {
    if (filtered || all) throw new UsageError('--ids names the tasks itself: drop --queue, --handler, --query, --tenant, --correlation-id, --since, --until and --all')
    if (str(values, 'limit') !== undefined) throw new UsageError('--limit bounds a filter or --all; with --ids every named task is replayed')
    return { kind: 'ids', request: { ids: idList('ids', ids), ...target } }
  }
  if (str(values, 'payload') !== undefined) throw new UsageError('--payload replaces the payload of chosen tasks: use it with --ids')
  if (str(values, 'payloads') !== undefined) throw new UsageError('--payloads edits the payloads of chosen tasks: use it with --ids')
  if (all && filtered) throw new UsageError('--all selects every dead task: drop it, or drop the filter flags')
  if (!all && !filtered) {
    throw new UsageError('select what to replay: --ids a,b, a filter (--queue q, --handler h, --query text, --tenant t, --correlation-id c, --since 24h, --until t), or --all for every dead task (see switchyard dlq replay --help)')
  }
  const limit = optionalInteger(values, 'limit', 1, REPLAY_LIMIT_MAX) ?? REPLAY_LIMIT_DEFAULT
  return {
    kind: 'filter',
    request: { limit, ...(queue === undefined ? {} : { queue }), ...(handler === undefined ? {} : { handler }), ...(query === undefined ? {} : { query }), ...owner, ...window, ...target },
    label: all ? 'of any queue and handler' : selectionLabel({ queue, handler, query, ...owner, ...window })
  }
}

/** --tenant and --correlation-id of a DLQ action, as request fields (absent when not given) */
function ownerOf (values: CommandInput['values']): { tenant?: string, correlationId?: string } {
  const tenant = str(values, 'tenant')
  const correlationId = str(values, 'correlation-id')
  return { ...(tenant === undefined ? {} : { tenant }), ...(correlationId === undefined ? {} : { correlationId }) }
}

/** the filter of a DLQ action in words, e.g. "of queue emails and failed since 2026-…" */
function selectionLabel (filter: { queue?: string, handler?: string, query?: string, tenant?: string, correlationId?: string, since?: string, until?: string, timeField?: string }): string {
  const on = filter.timeField === 'created' ? 'created' : 'failed'
  return [
    filter.queue === undefined ? '' : `of queue ${filter.queue}`,
    filter.handler === undefined ? '' : `of handler ${filter.handler}`,
    filter.query === undefined ? '' : `matching "${filter.query}"`,
    filter.tenant === undefined ? '' : `of tenant ${filter.tenant}`,
    filter.correlationId === undefined ? '' : `with correlation id ${filter.correlationId}`,
    filter.since === undefined ? '' : `${on} at or after ${filter.since}`,
    filter.until === undefined ? '' : `${on} at or before ${filter.until}`
  ].filter(Boolean).join(' and ')
}

/** ReplayDLQ's answer, or ReplayDLQByID's (the same without a selection) */
type ReplayResult = ResponseOf<'ReplayDLQByID'> & { selection?: string }

function listIds (ids: string[], max = 10): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … ${ids.length - max} more`
}

function formatReplay (r: ReplayResult): string {
  const lines = [r.count === 0
    ? 'no dead task matched; nothing replayed'
    : `${r.dryRun ? 'would replay' : 'replayed'} ${plural(r.count, 'dead task')}: ${listIds(r.replayed)}`]
  if (r.skipped.length > 0) lines.push(`skipped ${r.skipped.length} not in the DLQ: ${r.skipped.map(s => `${s.id} (${s.reason === 'wrong_state' ? s.state ?? 'not dead' : 'not found'})`).join(', ')}`)
  lines.push(...selectionLine(r))
  return lines.join('\n')
}

export async function runDlqReplay (input: CommandInput): Promise<number> {
  const selection = replaySelection(input)
  const decision = confirmationFor(input)
  const payloadFlag = str(input.values, 'payload')
  if (payloadFlag === '-' && decision === 'ask') throw new UsageError('--payload - reads stdin, which is the terminal that would answer the question: pass --yes, or the payload as @file')
  let replay: (dryRun: boolean, preview: ReplayResult | null) => (admin: AdminConnection) => Promise<ReplayResult>
  let what: string
  if (selection.kind === 'ids') {
    if (input.values['expect-selection'] !== undefined) throw new UsageError('--expect-selection confirms a selection by filter; --ids names the tasks itself')
    const request: RequestOf<'ReplayDLQByID'> = { ...selection.request }
    if (payloadFlag !== undefined) setPayload(request, await readPayload(payloadFlag, input.io.stdin))
    const payloadsFlag = str(input.values, 'payloads')
    if (payloadsFlag !== undefined) {
      if (payloadsFlag === '-' && (payloadFlag === '-' || decision === 'ask')) throw new UsageError('--payloads - reads stdin: pass --yes, give --payload as @file, or --payloads as @file')
      const payloads = await readPayload(payloadsFlag, input.io.stdin, 'payloads')
      if (payloads === null || typeof payloads !== 'object' || Array.isArray(payloads)) throw new UsageError('--payloads: must be a JSON object from task id to its payload, e.g. {"17":{"to":"a@b.c"}}')
      request.payloads = payloads
    }
    replay = dryRun => async admin => await admin.call('ReplayDLQByID', { ...request, dryRun })
    what = 'of the named ids'
  } else {
    replay = (dryRun, preview) => async admin => await admin.call('ReplayDLQ', { ...selection.request, dryRun, ...(dryRun ? {} : expectedSelection(input, preview)) })
    what = selection.label
  }
  return await withAdmin(input, async (admin) => await confirmBulk<ReplayResult>(input, decision, {
    preview: async () => await replay(true, null)(admin),
    act: async preview => await replay(false, preview)(admin),
    count: r => r.count,
    describe: r => `replay ${plural(r.count, 'dead task')} ${what}${selection.request.targetQueue === undefined ? '' : ` into queue ${selection.request.targetQueue}`} (${listIds(r.replayed, 5)})`,
    print: r => emit(input, r, () => formatReplay(r))
  }))
}

type PurgeResult = ResponseOf<'PurgeDLQ'>

/** `dlq purge`: deletes dead tasks for good; like replay it needs a selection and a confirmation */
export function purgeRequest (input: CommandInput): { request: Omit<RequestOf<'PurgeDLQ'>, 'dryRun'>, label: string } {
  const { values } = input
  const queue = str(values, 'queue')
  const handler = str(values, 'handler')
  const query = str(values, 'query')
  const olderThan = str(values, 'older-than')
  const owner = ownerOf(values)
  const window = windowOf(values)
  const all = bool(values, 'all')
  const filtered = queue !== undefined || handler !== undefined || query !== undefined || owner.tenant !== undefined || owner.correlationId !== undefined || olderThan !== undefined || window.since !== undefined || window.until !== undefined
  if (all && filtered) throw new UsageError('--all selects every dead task: drop it, or drop the filter flags')
  if (!all && !filtered) {
    throw new UsageError('select what to purge: a filter (--queue, --handler, --query, --tenant, --correlation-id, --since, --until), an age (--older-than 7d), or --all for every dead task (see switchyard dlq purge --help)')
  }
  if (olderThan !== undefined && durationMs(olderThan) === null) throw new UsageError(`--older-than: "${olderThan}" is not a duration (e.g. 30m, 36h, 7d)`)
  const limit = optionalInteger(values, 'limit', 1, PURGE_LIMIT_MAX)
  const request: Omit<RequestOf<'PurgeDLQ'>, 'dryRun'> = {
    ...(queue === undefined ? {} : { queue }),
    ...(handler === undefined ? {} : { handler }),
    ...(query === undefined ? {} : { query }),
    ...owner,
    ...window,
    ...(olderThan === undefined ? {} : { olderThan }),
    ...(limit === undefined ? {} : { limit })
  }
  const label = all ? 'of any queue and handler' : [selectionLabel({ queue, handler, query, ...owner, ...window }), olderThan === undefined ? '' : `that failed more than ${olderThan} ago`].filter(Boolean).join(' and ')
  return { request, label }
}

function formatPurge (r: PurgeResult): string {
  const lines = [r.count === 0
    ? 'no dead task matched; nothing deleted'
    : `${r.dryRun ? 'would delete' : 'deleted'} ${plural(r.count, 'dead task')} for good: ${listIds(r.sample)}${r.count > r.sample.length ? ` (${r.count - r.sample.length} more not shown)` : ''}`]
  if (r.more) lines.push(`more dead tasks match than the limit of ${r.limit}: run it again to ${r.dryRun ? 'see' : 'delete'} the rest`)
  lines.push(...selectionLine(r))
  return lines.join('\n')
}

export async function runDlqPurge (input: CommandInput): Promise<number> {
  const { request, label } = purgeRequest(input)
  const decision = confirmationFor(input)
  return await withAdmin(input, async (admin) => await confirmBulk<PurgeResult>(input, decision, {
    preview: async () => await admin.call('PurgeDLQ', { ...request, dryRun: true }),
    act: async preview => await admin.call('PurgeDLQ', { ...request, dryRun: false, ...expectedSelection(input, preview) }),
    count: r => r.count,
    describe: r => `delete ${plural(r.count, 'dead task')} ${label} for good (${listIds(r.sample, 5)})`,
    print: r => emit(input, r, () => formatPurge(r))
  }))
}
