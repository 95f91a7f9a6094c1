// Bulk task commands: `task bulk <action>` (BulkTaskAction), `queue drain <name>`
// (DrainQueue) and `task reschedule <id>` (RescheduleTask). Bulk commands never act on
// everything by default: they need a selection (--ids, a filter, or --all), then a
// confirmation (a question showing the dry run on a terminal, else --yes).
import { TASK_STATES } from '../backend/types.ts'
import { TASK_ACTION_NAMES } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { confirmBulk, confirmationFor, expectedSelection, selectionLine } from './confirm.ts'
import { emit, plural } from './format.ts'
import type { CommandInput } from './spec.ts'
import { filters } from './tasks.ts'
import { UsageError } from './usage.ts'
import { bool, idList, oneOf, optionalInteger, str, time } from './values.ts'
import { withAdmin } from './with-admin.ts'

type BulkResult = ResponseOf<'BulkTaskAction'>
type Action = RequestOf<'BulkTaskAction'>['action']

/** the contract's bound of a filter's limit; the deployment's admin.guardrails.bulkMax may be lower */
const FILTER_LIMIT_MAX = 1000

const VERB: Readonly<Record<Action, [string, string]>> = {
  cancel: ['cancel', 'canceled'],
  retry: ['retry', 'retried'],
  delete: ['delete', 'deleted'],
  run_now: ['run now', 'made ready'],
  reschedule: ['reschedule', 'rescheduled'],
  move: ['move', 'moved']
}

function listIds (ids: string[], max = 10): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … ${ids.length - max} more`
}

export function formatBulk (r: BulkResult): string {
  const [verb, done] = VERB[r.action as Action] ?? [r.action, r.action]
  const lines = [r.count === 0
    ? `no task matched; nothing ${done}`
    : `${r.dryRun ? `would ${verb}` : done} ${plural(r.count, 'task')}: ${listIds(r.changed)}`]
  if (r.skipped.length > 0) {
    lines.push(`skipped ${r.skipped.length}: ${listIds(r.skipped.map(s => `${s.id} (${s.reason === 'wrong_state' ? s.state ?? 'wrong state' : 'not found'})`))}`)
  }
  if (r.limitReached) lines.push('the selection reached its limit: more tasks may match (run it again, or raise --limit)')
  lines.push(...selectionLine(r))
  return lines.join('\n')
}

/** --run-at, --priority, --max-attempts: what a reschedule changes */
function rescheduleFields (input: CommandInput): { runAt?: string, priority?: number, maxAttempts?: number } {
  const out: { runAt?: string, priority?: number, maxAttempts?: number } = {}
  const runAt = str(input.values, 'run-at')
  if (runAt !== undefined) out.runAt = time('run-at', runAt)
  const priority = optionalInteger(input.values, 'priority', -1000, 1000)
  if (priority !== undefined) out.priority = priority
  const maxAttempts = optionalInteger(input.values, 'max-attempts', 1, 1000)
  if (maxAttempts !== undefined) out.maxAttempts = maxAttempts
  return out
}

/** the request `task bulk` was given; no selection, or a contradictory one, is a usage error */
export function bulkRequest (input: CommandInput): { request: Omit<RequestOf<'BulkTaskAction'>, 'dryRun'>, label: string } {
  const { values } = input
  const action = oneOf('action', input.positionals[0] as string, TASK_ACTION_NAMES)
  const changes = rescheduleFields(input)
  const targetQueue = str(values, 'target-queue')
  if (action === 'reschedule' && Object.keys(changes).length === 0) throw new UsageError('reschedule needs --run-at, --priority or --max-attempts')
  if (action !== 'reschedule' && Object.keys(changes).length > 0) throw new UsageError('--run-at, --priority and --max-attempts belong to reschedule')
  if (action === 'move' && targetQueue === undefined) throw new UsageError('move needs --target-queue')
  if (action !== 'move' && targetQueue !== undefined) throw new UsageError('--target-queue belongs to move')
  const extra = { ...changes, ...(targetQueue === undefined ? {} : { targetQueue }) }
  const ids = str(values, 'ids')
  const filter: RequestOf<'ListTasks'> = { ...filters(values) }
  const state = str(values, 'state')
  if (state !== undefined) filter.state = oneOf('state', state, TASK_STATES)
  const filtered = Object.keys(filter).length > 0
  const all = bool(values, 'all')
  if (ids !== undefined) {
    if (filtered || all) throw new UsageError('--ids names the tasks itself: drop --state, --queue, --handler, --query and --all')
    if (str(values, 'limit') !== undefined) throw new UsageError('--limit bounds a filter or --all; with --ids every named task is selected')
    return { request: { action, ids: idList('ids', ids), ...extra }, label: 'of the named ids' }
  }
  if (all && filtered) throw new UsageError('--all selects tasks of every queue and handler: drop it, or drop the filter')
  if (!all && !filtered) throw new UsageError('select the tasks: --ids a,b, a filter (--state, --queue, --handler, --query), or --all (see switchyard task bulk --help)')
  const limit = optionalInteger(values, 'limit', 1, FILTER_LIMIT_MAX)
  if (limit !== undefined) filter.limit = limit
  const label = all ? 'of any queue and handler' : `matching ${Object.entries(filters(values)).map(([k, v]) => `${k} ${v}`).concat(state === undefined ? [] : [`state ${state}`]).join(', ')}`
  return { request: { action, ids: [], filter, ...extra }, label }
}

export async function runTaskBulk (input: CommandInput): Promise<number> {
  const { request, label } = bulkRequest(input)
  const decision = confirmationFor(input)
  const [verb] = VERB[request.action]
  return await withAdmin(input, async (admin) => await confirmBulk<BulkResult>(input, decision, {
    preview: async () => await admin.call('BulkTaskAction', { ...request, dryRun: true }),
    act: async preview => await admin.call('BulkTaskAction', { ...request, dryRun: false, ...expectedSelection(input, preview) }),
    count: r => r.count,
    describe: r => `${verb} ${plural(r.count, 'task')} ${label}${request.targetQueue === undefined ? '' : ` into queue ${request.targetQueue}`} (${listIds(r.changed, 5)})`,
    print: r => emit(input, r, () => formatBulk(r))
  }))
}

export async function runQueueDrain (input: CommandInput): Promise<number> {
  const name = input.positionals[0] as string
  const includeScheduled = bool(input.values, 'include-scheduled')
  const limit = optionalInteger(input.values, 'limit', 1, FILTER_LIMIT_MAX)
  const request: Omit<RequestOf<'DrainQueue'>, 'dryRun'> = { name, ...(includeScheduled ? { includeScheduled } : {}), ...(limit === undefined ? {} : { limit }) }
  const decision = confirmationFor(input)
  return await withAdmin(input, async (admin) => await confirmBulk<BulkResult>(input, decision, {
    preview: async () => await admin.call('DrainQueue', { ...request, dryRun: true }),
    act: async preview => await admin.call('DrainQueue', { ...request, dryRun: false, ...expectedSelection(input, preview) }),
    count: r => r.count,
    describe: r => `delete ${plural(r.count, includeScheduled ? 'waiting task' : 'ready task')} of queue ${name} (${listIds(r.changed, 5)})`,
    print: r => emit(input, r, () => formatBulk(r))
  }))
}

export async function runTaskReschedule (input: CommandInput): Promise<number> {
  const changes = rescheduleFields(input)
  if (Object.keys(changes).length === 0) throw new UsageError('give --run-at, --priority or --max-attempts')
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('RescheduleTask', { id: input.positionals[0] as string, ...changes })
    emit(input, result, () => `task ${result.task.id} rescheduled: ${result.task.state}, priority ${result.task.priority}, run at ${result.task.runAt}, ${result.task.maxAttempts} attempts at most`)
  })
}

