import { Errors } from '../errors.ts'
import { parseDuration } from '../config/units.ts'
import { MAX_LIST_LIMIT, type RequeueResult, type SkippedTask, type TaskFilter } from '../backend/types.ts'
import { PAYLOAD_MAX_BYTES, PURGE_SAMPLE_MAX } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { taskFilter } from './filters.ts'
import { assertCap } from './guards.ts'
import { assertSameSelection, selectionDigest } from './selection.ts'
import { taskWindow } from './task-window.ts'
import { compact } from './views.ts'

// DLQ housekeeping: purging dead tasks by filter and age, and replaying a batch with
// edited payloads.
//
// A purge selects exactly as ListDLQ lists (the backend's list predicate: queue,
// handler, text, time window, tenant, correlation id), in ListDLQ's order (most recent failures first), up to
// its limit, and deletes those entries only while they are still dead (deleteTasks
// re-checks the state per task). The selection is bounded at the backend clock's
// "now" taken first, so failures arriving meanwhile are not picked up halfway, and a
// dry run answers the count and the sample the same call would delete.

/** the default bound of one purge when guardrails.purgeLimitMax is not configured */
export const PURGE_LIMIT_DEFAULT = 10_000
/** replays with their own payload run this many backend calls at a time */
const EDITED_REPLAY_CONCURRENCY = 8

/** per-id payloads by id (the request's `payloads` object); refuses a key that is not one of ids, or a payload over the size bound */
export function editedPayloads (ids: string[], payloads: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>()
  if (payloads === undefined) return out
  if (payloads === null || typeof payloads !== 'object' || Array.isArray(payloads)) {
    throw Errors.validation('payloads: must be a JSON object from task id to payload', { details: { field: 'payloads' } })
  }
  const listed = new Set(ids)
  for (const [id, payload] of Object.entries(payloads)) {
    if (!listed.has(id)) throw Errors.validation(`payloads.${id}: ${id} is not one of ids`, { details: { field: `payloads.${id}`, id } })
    if (Buffer.byteLength(JSON.stringify(payload)) > PAYLOAD_MAX_BYTES) {
      throw Errors.validation(`payloads.${id}: more than ${PAYLOAD_MAX_BYTES} bytes as JSON`, { details: { field: `payloads.${id}`, id } })
    }
    out.set(id, payload)
  }
  return out
}

/**
 * Replays ids where some carry their own payload: the others in one call with the
 * request's payload (if any), each edited one in a call of its own (requeue is atomic
 * per task). The answer lists ids in request order, as one call would.
 */
export async function replayEdited (ctx: AdminContext, ids: string[], edited: Map<string, unknown>, request: RequestOf<'ReplayDLQByID'>): Promise<RequeueResult> {
  const plain = ids.filter(id => !edited.has(id))
  const outcomes = new Map<string, { requeued: true } | { skipped: SkippedTask }>()
  const record = (result: RequeueResult): void => {
    for (const id of result.requeued) outcomes.set(id, { requeued: true })
    for (const skipped of result.skipped) outcomes.set(skipped.id, { skipped })
  }
  if (plain.length > 0) {
    record(await ctx.backend.requeueTasks(compact({ ids: plain, fromStates: ['dead' as const], queue: request.targetQueue, payload: request.payload })))
  }
  const queue = [...edited]
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const [id, payload] = next
      record(await ctx.backend.requeueTasks(compact({ ids: [id], fromStates: ['dead' as const], queue: request.targetQueue, payload })))
    }
  }
  await Promise.all(Array.from({ length: Math.min(EDITED_REPLAY_CONCURRENCY, edited.size) }, worker))
  const result: RequeueResult = { requeued: [], skipped: [] }
  for (const id of ids) {
    const outcome = outcomes.get(id)
    if (outcome === undefined) result.skipped.push({ id, reason: 'not_found' })
    else if ('requeued' in outcome) result.requeued.push(id)
    else result.skipped.push(outcome.skipped)
  }
  return result
}

/** the filter a purge selects by: ListDLQ's, with olderThan folded into until (on the failure time) */
async function purgeFilter (ctx: AdminContext, request: RequestOf<'PurgeDLQ'>): Promise<TaskFilter> {
  const window = taskWindow(request)
  const now = await ctx.backend.now()
  if (request.olderThan !== undefined) {
    const ageMs = parseAge(request.olderThan)
    if (window.timeField === 'created') {
      throw Errors.validation('olderThan: judges the failure time; it cannot be combined with timeField created', { details: { field: 'olderThan' } })
    }
    window.until = Math.min(window.until ?? Number.MAX_SAFE_INTEGER, now - ageMs)
  }
  // failures after this call started are not selected halfway through the paging
  if (window.timeField !== 'created') window.until = Math.min(window.until ?? Number.MAX_SAFE_INTEGER, now)
  if (window.since !== undefined && window.until !== undefined && window.since > window.until) {
    // an empty window: nothing matches (since after the olderThan cutoff)
    window.until = window.since - 1
  }
  return taskFilter(ctx.backend, { state: 'dead', queue: request.queue, handler: request.handler, query: request.query, ...window, tenant: request.tenant, correlationId: request.correlationId })
}

function parseAge (value: string): number {
  const ms = parseDuration(value)
  if (ms === null) throw Errors.validation('olderThan: must be a duration such as 30m, 36h or 7d', { details: { field: 'olderThan' } })
  return ms
}

export async function purgeDLQ (ctx: AdminContext, request: RequestOf<'PurgeDLQ'>): Promise<MutationResult<ResponseOf<'PurgeDLQ'>>> {
  const cap = ctx.options.purgeLimitMax ?? PURGE_LIMIT_DEFAULT
  const limit = request.limit ?? cap
  assertCap(limit, cap, 'limit', 'WORKER_ADMIN_PURGE_LIMIT_MAX')
  const dryRun = request.dryRun === true
  const filter = await purgeFilter(ctx, request)

  const expected = dryRun ? undefined : request.expectedSelection
  const { touched, more } = dryRun
    ? await previewPurge(ctx, filter, limit)
    : expected === undefined ? await purgeInRounds(ctx, filter, limit) : await purgeConfirmed(ctx, filter, limit, expected)
  const response = { dryRun, count: touched.length, sample: touched.slice(0, PURGE_SAMPLE_MAX), more, limit, selection: selectionDigest(touched) }
  return {
    response,
    target: 'dlq',
    auditResult: { dryRun, count: response.count, more },
    events: dryRun || response.count === 0 ? [] : [{ type: 'dlq.purged', data: { count: response.count, ids: touched.slice(0, 100) } }]
  }
}

/**
 * A dry run: ListDLQ's pages, one entry more than the limit to know whether more remain,
 * then deleteTasks' dry run over them (it answers the ones still dead).
 */
async function previewPurge (ctx: AdminContext, filter: TaskFilter, limit: number): Promise<{ touched: string[], more: boolean }> {
  const selected: string[] = []
  const seen = new Set<string>()
  for (let offset = 0; selected.length <= limit;) {
    const want = Math.min(MAX_LIST_LIMIT, limit + 1 - selected.length)
    const page = await ctx.backend.listTasks({ ...filter, limit: want, offset })
    for (const task of page.tasks) {
      if (task.state === 'dead' && !seen.has(task.id)) { seen.add(task.id); selected.push(task.id) }
    }
    if (page.tasks.length < want) break
    offset += page.tasks.length
  }
  const touched: string[] = []
  const targets = selected.slice(0, limit)
  for (let i = 0; i < targets.length; i += MAX_LIST_LIMIT) {
    touched.push(...(await ctx.backend.deleteTasks({ ids: targets.slice(i, i + MAX_LIST_LIMIT), fromStates: ['dead'], dryRun: true })).deleted)
  }
  return { touched, more: selected.length > limit }
}

/**
 * A confirmed purge (expectedSelection): the preview's selection again, refused with
 * SELECTION_CHANGED (nothing deleted) unless it is the previewed set, then exactly
 * those entries deleted (each only while still dead).
 */
async function purgeConfirmed (ctx: AdminContext, filter: TaskFilter, limit: number, expected: string): Promise<{ touched: string[], more: boolean }> {
  const preview = await previewPurge(ctx, filter, limit)
  assertSameSelection(expected, preview.touched, 'the purge')
  const touched: string[] = []
  for (let i = 0; i < preview.touched.length; i += MAX_LIST_LIMIT) {
    touched.push(...(await ctx.backend.deleteTasks({ ids: preview.touched.slice(i, i + MAX_LIST_LIMIT), fromStates: ['dead'] })).deleted)
  }
  return { touched, more: preview.more }
}

/**
 * The purge itself, in rounds: the first page of ListDLQ's selection is deleted, then
 * the next first page, so no round pages deep into a list that shrinks under it.
 * Each round deletes only what is still dead; a round that deletes nothing ends it.
 */
async function purgeInRounds (ctx: AdminContext, filter: TaskFilter, limit: number): Promise<{ touched: string[], more: boolean }> {
  const touched: string[] = []
  while (touched.length < limit) {
    const page = await ctx.backend.listTasks({ ...filter, limit: Math.min(MAX_LIST_LIMIT, limit - touched.length), offset: 0 })
    const ids = page.tasks.filter(task => task.state === 'dead').map(task => task.id)
    if (ids.length === 0) break
    const deleted = (await ctx.backend.deleteTasks({ ids, fromStates: ['dead'] })).deleted
    touched.push(...deleted)
    if (deleted.length === 0) break
  }
  const more = touched.length >= limit && (await ctx.backend.listTasks({ ...filter, limit: 1, offset: 0 })).tasks.length > 0
  return { touched, more }
}
