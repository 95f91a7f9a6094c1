import { Errors } from '../errors.ts'
import { MAX_LIST_LIMIT, type RequeueResult } from '../backend/types.ts'
import { AdminErrors } from '../contract/errors.ts'
import { LIST_LIMIT_DEFAULT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { taskFilter } from './filters.ts'
import { checkCursorOffset, decodeListCursor, encodeListCursor } from './list-cursor.ts'
import { taskWindow } from './task-window.ts'
import { assertCap } from './guards.ts'
import { assertSameSelection, selectionDigest } from './selection.ts'
import { compact, iso, taskSummary, taskView } from './views.ts'
import { editedPayloads, replayEdited } from './dlq-housekeeping.ts'

// Replays only ever move tasks that are dead at the moment of the move (the backend
// checks the state atomically per task), so a running task is never re-queued and
// replaying an id twice moves it once.

export async function listDLQ (ctx: AdminContext, request: RequestOf<'ListDLQ'>): Promise<ResponseOf<'ListDLQ'>> {
  const limit = request.limit ?? LIST_LIMIT_DEFAULT
  checkCursorOffset(request.cursor, request.offset)
  const offset = request.offset ?? 0
  const filter = taskFilter(ctx.backend, { state: 'dead', queue: request.queue, handler: request.handler, query: request.query, ...taskWindow(request), tenant: request.tenant, correlationId: request.correlationId })
  const after = request.cursor === undefined ? undefined : decodeListCursor('dlq', ctx.backend.name, filter, request.cursor)
  const page = await ctx.backend.listTasks(compact({ ...filter, limit, offset, after }))
  const nextCursor = page.next === undefined ? undefined : encodeListCursor('dlq', ctx.backend.name, filter, page.next)
  return compact({ entries: page.tasks.slice(0, limit).map(taskSummary), total: page.total ?? undefined, limit, offset, nextCursor })
}

export async function getDLQEntry (ctx: AdminContext, request: RequestOf<'GetDLQEntry'>): Promise<ResponseOf<'GetDLQEntry'>> {
  const task = await ctx.backend.getTask(request.id)
  if (task === null || task.state !== 'dead') {
    throw AdminErrors.dlqEntryNotFound(`task ${request.id} is not in the DLQ${task === null ? '' : ` (it is ${task.state})`}`, { details: { id: request.id, state: task?.state } })
  }
  return { entry: taskView(task) }
}

export async function getDLQStats (ctx: AdminContext): Promise<ResponseOf<'GetDLQStats'>> {
  const stats = await ctx.backend.dlqStats()
  return compact({
    total: stats.total,
    byQueue: stats.byQueue,
    byHandler: stats.byHandler,
    oldestFailedAt: stats.oldestFailedAt === null ? undefined : iso(stats.oldestFailedAt),
    newestFailedAt: stats.newestFailedAt === null ? undefined : iso(stats.newestFailedAt)
  })
}

function replayAnswer (result: RequeueResult, dryRun: boolean, targetQueue: string | undefined): MutationResult<ResponseOf<'ReplayDLQByID'>> {
  const response = {
    dryRun,
    count: result.requeued.length,
    replayed: result.requeued,
    skipped: result.skipped.map(skipped => compact({ id: skipped.id, reason: skipped.reason, state: skipped.state }))
  }
  return {
    response,
    target: 'dlq',
    auditResult: { dryRun, count: response.count, skipped: response.skipped.length },
    events: dryRun || response.count === 0 ? [] : [{ type: 'dlq.replayed', data: compact({ count: response.count, ids: response.replayed.slice(0, 100), targetQueue }) }]
  }
}

export async function replayDLQ (ctx: AdminContext, request: RequestOf<'ReplayDLQ'>): Promise<MutationResult<ResponseOf<'ReplayDLQ'>>> {
  assertCap(request.limit, ctx.options.replayLimitMax, 'limit', 'WORKER_ADMIN_REPLAY_LIMIT_MAX')
  const dryRun = request.dryRun === true
  const filter = taskFilter(ctx.backend, { state: 'dead', queue: request.queue, handler: request.handler, query: request.query, ...taskWindow(request), tenant: request.tenant, correlationId: request.correlationId })
  const expected = dryRun ? undefined : request.expectedSelection
  // a confirmed replay (expectedSelection) moves exactly the previewed ids, or nothing
  const preview = expected === undefined ? null : await ctx.backend.requeueTasks({ filter: { ...filter, limit: request.limit }, fromStates: ['dead'], dryRun: true })
  if (preview !== null) assertSameSelection(expected as string, preview.requeued, 'the replay')
  if (!dryRun && request.targetQueue !== undefined) await ctx.backend.ensureQueues([request.targetQueue])
  const result = preview === null
    ? await ctx.backend.requeueTasks(compact({ filter: { ...filter, limit: request.limit }, fromStates: ['dead' as const], queue: request.targetQueue, dryRun }))
    : await replayIds(ctx, preview.requeued, request.targetQueue)
  const answer = replayAnswer(result, dryRun, request.targetQueue)
  return { ...answer, response: { ...answer.response, selection: selectionDigest(result.requeued) } }
}

/** replays exactly these ids (still dead ones), in batches the backend takes */
async function replayIds (ctx: AdminContext, ids: string[], targetQueue: string | undefined): Promise<RequeueResult> {
  const result: RequeueResult = { requeued: [], skipped: [] }
  for (let i = 0; i < ids.length; i += MAX_LIST_LIMIT) {
    const part = await ctx.backend.requeueTasks(compact({ ids: ids.slice(i, i + MAX_LIST_LIMIT), fromStates: ['dead' as const], queue: targetQueue }))
    result.requeued.push(...part.requeued)
    result.skipped.push(...part.skipped)
  }
  return result
}

export async function replayDLQByID (ctx: AdminContext, request: RequestOf<'ReplayDLQByID'>): Promise<MutationResult<ResponseOf<'ReplayDLQByID'>>> {
  const ids = [...new Set(request.ids)]
  assertCap(ids.length, ctx.options.replayIdsMax, 'ids', 'WORKER_ADMIN_REPLAY_IDS_MAX')
  const edited = editedPayloads(ids, request.payloads)
  const dryRun = request.dryRun === true
  if (!dryRun && request.targetQueue !== undefined) await ctx.backend.ensureQueues([request.targetQueue])
  if (dryRun || edited.size === 0) {
    const result = await ctx.backend.requeueTasks(compact({ ids, fromStates: ['dead' as const], queue: request.targetQueue, payload: request.payload, dryRun }))
    return replayAnswer(result, dryRun, request.targetQueue)
  }
  const result = await replayEdited(ctx, ids, edited, request)
  return replayAnswer(result, dryRun, request.targetQueue)
}

export async function deleteDLQEntry (ctx: AdminContext, request: RequestOf<'DeleteDLQEntry'>): Promise<MutationResult<ResponseOf<'DeleteDLQEntry'>>> {
  const result = await ctx.backend.deleteTasks({ ids: [request.id], fromStates: ['dead'] })
  const skipped = result.skipped[0]
  if (skipped?.reason === 'wrong_state') {
    throw Errors.conflict(`task ${request.id} is ${skipped.state ?? 'not dead'}, not in the DLQ; only DLQ entries can be deleted`, { details: { id: request.id, state: skipped.state } })
  }
  const deleted = result.deleted.includes(request.id)
  return { response: { id: request.id, deleted }, events: deleted ? [{ type: 'dlq.deleted', data: { id: request.id } }] : [] }
}
