import { Errors } from '../errors.ts'
import { MAX_LIST_LIMIT, type TaskAction, type TaskActionResult, type TaskFilter } from '../backend/types.ts'
import { BULK_SAMPLE_SIZE } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { listTasksFilter, taskFilter } from './filters.ts'
import { assertCap } from './guards.ts'
import { assertSameSelection, selectionDigest } from './selection.ts'
import { compact, taskSummary } from './views.ts'

// Bulk task actions (BulkTaskAction), the queue drain over them (DrainQueue) and the
// single-task reschedule (RescheduleTask), all one backend call: applyTaskAction. The
// backend re-checks each task's state where it changes it, so a dry run names exactly
// the set the same call then changes, unless a worker or another operator moved a
// task in between, and a processing task is never touched.

export const DEFAULT_BULK_MAX = 1000
const BULK_MAX_ENV = 'WORKER_ADMIN_BULK_MAX'

type BulkResponse = ResponseOf<'BulkTaskAction'>
type Selection = { ids: string[] } | { filter: TaskFilter & { limit: number } }

function bulkMax (ctx: AdminContext): number {
  return ctx.options.bulkMax ?? DEFAULT_BULK_MAX
}

function invalid (field: string, message: string): never {
  throw Errors.validation(`${field}: ${message}`, { details: { field } })
}

function timestamp (field: string, value: string): number {
  const ms = Date.parse(value)
  if (!Number.isFinite(ms) || ms < 0) invalid(field, 'must be an RFC 3339 time after 1970')
  return ms
}

/** the backend action a request names, refusing fields that belong to another action */
function actionOf (request: RequestOf<'BulkTaskAction'>): TaskAction {
  const { action } = request
  if (action !== 'reschedule') {
    for (const field of ['runAt', 'priority', 'maxAttempts'] as const) {
      if (request[field] !== undefined) invalid(field, `only reschedule takes ${field}, not ${action}`)
    }
  }
  if (action !== 'move' && request.targetQueue !== undefined) invalid('targetQueue', `only move takes targetQueue, not ${action}`)
  switch (action) {
    case 'reschedule':
      return rescheduleOf(request)
    case 'move':
      if (request.targetQueue === undefined) invalid('targetQueue', 'move needs the queue the tasks go to')
      return { kind: 'move', queue: request.targetQueue }
    default:
      return { kind: action }
  }
}

function rescheduleOf (request: { runAt?: string, priority?: number, maxAttempts?: number }): TaskAction {
  if (request.runAt === undefined && request.priority === undefined && request.maxAttempts === undefined) {
    invalid('runAt', 'reschedule needs runAt, priority or maxAttempts')
  }
  return compact({
    kind: 'reschedule' as const,
    runAt: request.runAt === undefined ? undefined : timestamp('runAt', request.runAt),
    priority: request.priority,
    maxAttempts: request.maxAttempts
  })
}

function selectionOf (ctx: AdminContext, request: RequestOf<'BulkTaskAction'>): Selection {
  const max = bulkMax(ctx)
  if (request.ids.length > 0) {
    if (request.filter !== undefined) invalid('filter', 'give ids or a filter, not both')
    const ids = [...new Set(request.ids)]
    assertCap(ids.length, max, 'ids', BULK_MAX_ENV)
    return { ids }
  }
  if (request.filter === undefined) invalid('ids', 'give the ids to act on, or a filter')
  const { filter } = request
  if ((filter.offset ?? 0) !== 0) invalid('filter.offset', 'a bulk action selects from the start of the list; narrow the filter instead')
  if (filter.cursor !== undefined) invalid('filter.cursor', 'a bulk action selects from the start of the list; narrow the filter instead')
  const limit = filter.limit ?? Math.min(max, MAX_LIST_LIMIT)
  assertCap(limit, max, 'filter.limit', BULK_MAX_ENV)
  return { filter: { ...listTasksFilter(ctx.backend, filter), limit } }
}

async function sampleOf (ctx: AdminContext, ids: string[]): Promise<BulkResponse['sample']> {
  const tasks = await Promise.all(ids.slice(0, BULK_SAMPLE_SIZE).map(async id => await ctx.backend.getTask(id)))
  return tasks.flatMap(task => task === null ? [] : [taskSummary(task)])
}

async function answer (ctx: AdminContext, action: TaskAction, result: TaskActionResult, dryRun: boolean, limit: number | null): Promise<BulkResponse> {
  return {
    dryRun,
    action: action.kind,
    count: result.changed.length,
    changed: result.changed,
    skipped: result.skipped.map(skipped => compact({ id: skipped.id, reason: skipped.reason, state: skipped.state })),
    sample: await sampleOf(ctx, result.changed),
    limitReached: limit !== null && result.changed.length + result.skipped.length >= limit,
    selection: selectionDigest(result.changed)
  }
}

/**
 * A confirmed call (expectedSelection): the dry run of the same selection must answer
 * the previewed set, else SELECTION_CHANGED and nothing changes; then the action is
 * applied to exactly those ids (never re-selected by the filter).
 */
async function applyConfirmed (ctx: AdminContext, action: TaskAction, preview: TaskActionResult, expected: string, what: string): Promise<TaskActionResult> {
  assertSameSelection(expected, preview.changed, what)
  if (action.kind === 'move') await ctx.backend.ensureQueues([action.queue])
  const result: TaskActionResult = { changed: [], skipped: [] }
  for (let i = 0; i < preview.changed.length; i += MAX_LIST_LIMIT) {
    const part = await ctx.backend.applyTaskAction({ action, ids: preview.changed.slice(i, i + MAX_LIST_LIMIT) })
    result.changed.push(...part.changed)
    result.skipped.push(...part.skipped)
  }
  return result
}

export async function bulkTaskAction (ctx: AdminContext, request: RequestOf<'BulkTaskAction'>): Promise<MutationResult<BulkResponse>> {
  const action = actionOf(request)
  const selection = selectionOf(ctx, request)
  const dryRun = request.dryRun === true
  const limit = 'filter' in selection ? selection.filter.limit : null
  let result: TaskActionResult
  if (!dryRun && request.expectedSelection !== undefined) {
    const preview = await ctx.backend.applyTaskAction({ action, ...selection, dryRun: true })
    result = await applyConfirmed(ctx, action, preview, request.expectedSelection, `the ${action.kind} action`)
  } else {
    if (!dryRun && action.kind === 'move') await ctx.backend.ensureQueues([action.queue])
    result = await ctx.backend.applyTaskAction({ action, ...selection, dryRun })
  }
  const response = await answer(ctx, action, result, dryRun, limit)
  return {
    response,
    target: 'tasks',
    auditResult: { dryRun, count: response.count, skipped: response.skipped.length },
    events: dryRun || response.count === 0 ? [] : [{ type: 'task.bulk', data: compact({ action: action.kind, count: response.count, ids: response.changed.slice(0, 100), targetQueue: request.targetQueue }) }]
  }
}

/** the queue's ready tasks, then (includeScheduled) its scheduled and retrying ones */
export async function drainQueue (ctx: AdminContext, request: RequestOf<'DrainQueue'>): Promise<MutationResult<BulkResponse>> {
  const [stats] = await ctx.backend.queueStats([request.name])
  if (stats === undefined) throw Errors.queueNotFound(`queue ${request.name} not found`, { details: { queue: request.name } })
  const max = bulkMax(ctx)
  const limit = request.limit ?? Math.min(max, MAX_LIST_LIMIT)
  assertCap(limit, max, 'limit', BULK_MAX_ENV)
  const dryRun = request.dryRun === true
  const states = request.includeScheduled === true ? ['ready', 'scheduled', 'retrying'] as const : ['ready'] as const
  const action: TaskAction = { kind: 'delete' }
  const confirmed = !dryRun && request.expectedSelection !== undefined
  let result: TaskActionResult = { changed: [], skipped: [] }
  for (const state of states) {
    const remaining = limit - result.changed.length - result.skipped.length
    if (remaining <= 0) break
    const filter = taskFilter(ctx.backend, { queue: request.name, state })
    const part = await ctx.backend.applyTaskAction({ action, filter: { ...filter, limit: remaining }, dryRun: dryRun || confirmed })
    result.changed.push(...part.changed)
    result.skipped.push(...part.skipped)
  }
  if (confirmed) result = await applyConfirmed(ctx, action, result, request.expectedSelection as string, `draining queue ${request.name}`)
  const response = await answer(ctx, action, result, dryRun, limit)
  return {
    response,
    auditResult: { dryRun, count: response.count, skipped: response.skipped.length },
    events: dryRun || response.count === 0 ? [] : [{ type: 'queue.drained', data: { queue: request.name, count: response.count, ids: response.changed.slice(0, 100) } }]
  }
}

export async function rescheduleTask (ctx: AdminContext, request: RequestOf<'RescheduleTask'>): Promise<MutationResult<ResponseOf<'RescheduleTask'>>> {
  const action = rescheduleOf(request)
  const result = await ctx.backend.applyTaskAction({ action, ids: [request.id] })
  const skipped = result.skipped[0]
  if (skipped !== undefined) {
    if (skipped.reason === 'not_found') throw Errors.taskNotFound(`task ${request.id} not found`, { details: { id: request.id } })
    throw Errors.conflict(`task ${request.id} is ${skipped.state ?? 'in another state'}: only scheduled, ready or retrying tasks can be rescheduled`, { details: { id: request.id, state: skipped.state } })
  }
  const task = await ctx.backend.getTask(request.id)
  if (task === null) throw Errors.taskNotFound(`task ${request.id} not found`, { details: { id: request.id } })
  return {
    response: { task: taskSummary(task) },
    events: [{ type: 'task.rescheduled', data: compact({ id: request.id, runAt: request.runAt, priority: request.priority, maxAttempts: request.maxAttempts }) }]
  }
}
