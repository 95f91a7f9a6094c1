// Task commands: `tasks` (ListTasks), `task get|cancel|retry <id>`.
import { TASK_STATES } from '../backend/types.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { TaskViewT, TimelineEntryT } from '../contract/messages.ts'
import { emit, fields, table } from './format.ts'
import { taskPayload } from './payload.ts'
import type { CommandInput, FlagValues } from './spec.ts'
import { bool, oneOf, optionalInteger, str } from './values.ts'
import { UsageError } from './usage.ts'
import { withAdmin } from './with-admin.ts'
import { windowOf } from './time-window.ts'

/** the contract's bounds of list paging */
const LIMIT_MAX = 1000
const OFFSET_MAX = 100_000

export function page (values: FlagValues, fallbackLimit: number): { limit: number, offset?: number, cursor?: string } {
  const limit = optionalInteger(values, 'limit', 1, LIMIT_MAX) ?? fallbackLimit
  const offset = optionalInteger(values, 'offset', 0, OFFSET_MAX)
  const cursor = str(values, 'cursor')
  if (cursor === undefined) return { limit, offset: offset ?? 0 }
  if (offset !== undefined) throw new UsageError('--cursor: give either --cursor or --offset, not both')
  if (cursor === '') throw new UsageError('--cursor: give the next cursor a page printed')
  return { limit, cursor }
}

export function filters (values: FlagValues): { queue?: string, handler?: string, query?: string, tenant?: string, correlationId?: string } {
  const out: { queue?: string, handler?: string, query?: string, tenant?: string, correlationId?: string } = {}
  for (const field of ['queue', 'handler', 'query', 'tenant'] as const) {
    const value = str(values, field)
    if (value !== undefined) out[field] = value
  }
  const correlationId = str(values, 'correlation-id')
  if (correlationId !== undefined) out.correlationId = correlationId
  return out
}

export function formatTasks (page: Pick<ResponseOf<'ListTasks'>, 'tasks' | 'total' | 'offset' | 'nextCursor'>, cursorUsed = false): string {
  const rows = page.tasks.map((t) => [t.id, t.state, t.queue, t.handler, `${t.attempts}/${t.maxAttempts}`, t.updatedAt, (t.lastError ?? '').slice(0, 60)])
  // a cursor page does not know how many rows came before it
  const shown = cursorUsed ? `${page.tasks.length} shown` : page.tasks.length === 0 ? '0 shown' : `${page.offset + 1}-${page.offset + page.tasks.length} shown`
  const next = page.nextCursor === undefined ? '' : `\nnext page: --cursor ${page.nextCursor}`
  return `${table(['ID', 'STATE', 'QUEUE', 'HANDLER', 'ATTEMPTS', 'UPDATED', 'LAST ERROR'], rows)}\n${shown}${page.total === undefined ? '' : ` of ${page.total}`}${next}`
}

export async function runTasks (input: CommandInput): Promise<number> {
  const state = str(input.values, 'state')
  const request: RequestOf<'ListTasks'> = { ...page(input.values, 50), ...filters(input.values), ...windowOf(input.values) }
  if (state !== undefined) request.state = oneOf('state', state, TASK_STATES)
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListTasks', request)
    emit(input, result, () => formatTasks(result, request.cursor !== undefined))
  })
}

function formatTimeline (timeline: TimelineEntryT[]): string {
  return table(['AT', 'EVENT', 'DETAIL'], timeline.map(e => [e.at, e.event, e.detail ?? '']))
}

/** a task with its payload, errors and (when given) timeline, for people */
export function formatTask (task: TaskViewT, timeline?: TimelineEntryT[], handlerServed?: boolean): string {
  const parts = [fields([
    ['id', task.id],
    ['state', task.state],
    ['queue', task.queue],
    ['handler', handlerServed === false ? `${task.handler} (no live worker runs it: the task waits)` : task.handler],
    ['attempts', `${task.attempts}/${task.maxAttempts}`],
    ['priority', task.priority],
    ['run at', task.runAt],
    ['idempotency key', task.idempotencyKey],
    ['tenant', task.tenant],
    ['correlation id', task.correlationId],
    ['timeout', `${task.timeoutMs}ms`],
    ['created', task.createdAt],
    ['updated', task.updatedAt],
    ['started', task.startedAt],
    ['finished', task.finishedAt],
    ['lease expires', task.leaseExpiresAt],
    ['worker', task.workerId],
    ['replays', task.replays],
    ['depends on', (task.dependsOn ?? []).length === 0 ? undefined : `${task.dependsOn.join(', ')} (a dying parent: ${task.onParentFailure ?? 'cancel'})`],
    ['last error', task.lastError]
  ]), '', `payload (${task.payloadSize} bytes):`, JSON.stringify(taskPayload(task), null, 2)]
  if (task.errors.length > 0) {
    parts.push('', 'errors (newest first):', table(['ATTEMPT', 'AT', 'MESSAGE'], task.errors.map(e => [String(e.attempt), e.at, e.message])))
  }
  if (timeline !== undefined && timeline.length > 0) parts.push('', 'timeline:', formatTimeline(timeline))
  return parts.join('\n')
}

function taskId (input: CommandInput): string {
  return input.positionals[0] as string
}

/** a task named by its id (the argument) or by its idempotency key (--key), never both */
function taskRef (input: CommandInput): { id: string } | { key: string } {
  const id = input.positionals[0]
  const key = str(input.values, 'key')
  if (id !== undefined && key !== undefined) throw new UsageError(`${input.command}: give a task id or --key, not both`)
  if (key !== undefined) return { key }
  if (id === undefined) throw new UsageError(`${input.command}: missing <id> or --key (usage: switchyard ${input.command} <id> | --key <key>)`)
  return { id }
}

export async function runTaskGet (input: CommandInput): Promise<number> {
  const ref = taskRef(input)
  return await withAdmin(input, async (admin) => {
    const result = 'key' in ref ? await admin.call('GetTaskByKey', ref) : await admin.call('GetTask', ref)
    emit(input, result, () => formatTask(result.task, result.timeline, result.handlerServed))
  })
}

export async function runTaskCancel (input: CommandInput): Promise<number> {
  const ref = taskRef(input)
  return await withAdmin(input, async (admin) => {
    const result = 'key' in ref ? await admin.call('CancelTaskByKey', ref) : await admin.call('CancelTask', ref)
    emit(input, result, () => `task ${result.id} ${result.state}`)
  })
}

export async function runTaskDelete (input: CommandInput): Promise<number> {
  const key = str(input.values, 'key')
  if (key === undefined) throw new UsageError('task delete: missing --key (the idempotency key of the task to delete)')
  const dryRun = bool(input.values, 'dry-run')
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('DeleteTaskByKey', { key, ...(dryRun ? { dryRun } : {}) })
    emit(input, result, () => result.id === undefined
      ? `no task holds key ${key}; nothing to delete`
      : dryRun ? `would delete task ${result.id} (${result.state ?? 'unknown'}) holding key ${key}` : `deleted task ${result.id} (${result.state ?? 'unknown'}) holding key ${key}`)
  })
}

export async function runTaskRetry (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('RetryTask', { id: taskId(input) })
    emit(input, result, () => result.requeued ? `task ${result.id} requeued (${result.state})` : `task ${result.id} was already ${result.state}; nothing changed`)
  })
}
