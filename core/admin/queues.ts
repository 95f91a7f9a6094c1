import { Errors } from '../errors.ts'
import { MAX_LIST_LIMIT, type QueueStats } from '../backend/types.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { emptyQueueStats, queueSummary } from './views.ts'
import { flightsFor, READ_REUSE_MS, reusedReadsFor } from './single-flight.ts'
import { unservedHandlers } from './handler-coverage.ts'
import { sortUnlessSorted } from './sort.ts'

// A queue is known when the backend lists it (it had a task or was registered) or
// when config names it. Weights and pauses are stored in the backend only, so every
// node sees the same and they survive restarts.

// worked out once per service (its info does not change), not on every overview
const configured = new WeakMap<AdminContext['info'], readonly string[]>()

function configuredQueues (ctx: AdminContext): readonly string[] {
  let names = configured.get(ctx.info)
  if (names === undefined) {
    names = [...new Set([ctx.info.defaultQueue, ...(ctx.info.queues ?? [])])]
    configured.set(ctx.info, names)
  }
  return names
}

/** the queue's stats, and whether the backend has it registered yet */
async function loadQueue (ctx: AdminContext, name: string): Promise<{ stats: QueueStats, registered: boolean }> {
  const [stats] = await ctx.backend.queueStats([name])
  if (stats !== undefined) return { stats, registered: true }
  if (configuredQueues(ctx).includes(name)) return { stats: emptyQueueStats(name), registered: false }
  throw Errors.queueNotFound(`queue ${name} not found`, { details: { queue: name } })
}

async function reload (ctx: AdminContext, name: string): Promise<QueueStats> {
  const [stats] = await ctx.backend.queueStats([name])
  return stats ?? emptyQueueStats(name)
}

/** every known queue, by name; O(queues) in one backend call */
const statsFlight = flightsFor<AdminContext, QueueStats[]>()

export async function allQueueStats (ctx: AdminContext): Promise<QueueStats[]> {
  // Shared by concurrent callers, so copied before it is extended and sorted.
  return withConfiguredQueues(ctx, await statsFlight(ctx).run(async () => await ctx.backend.queueStats()))
}

/** the backend's queues and the configured ones it does not list yet, by name, bounded (`stored` is not changed) */
export function withConfiguredQueues (ctx: AdminContext, stored: QueueStats[]): QueueStats[] {
  const stats = [...stored]
  const listed = new Set<string>()
  for (const queue of stored) listed.add(queue.name)
  for (const name of configuredQueues(ctx)) if (!listed.has(name)) stats.push(emptyQueueStats(name))
  sortUnlessSorted(stats, byName)
  if (stats.length > MAX_LIST_LIMIT) stats.length = MAX_LIST_LIMIT
  return stats
}

function byName (a: QueueStats, b: QueueStats): number {
  return a.name.localeCompare(b.name)
}

const reusedQueueList = reusedReadsFor<AdminContext, ResponseOf<'ListQueues'>>()

/** reused like the overview (READ_REUSE_MS, AdminOptions.readReuseMs): the same dashboards poll both */
export async function listQueues (ctx: AdminContext): Promise<ResponseOf<'ListQueues'>> {
  return await reusedQueueList(ctx, ctx.counters.changes, ctx.options.readReuseMs ?? READ_REUSE_MS, async () =>
    ({ queues: (await allQueueStats(ctx)).map(stats => queueSummary(stats, ctx.info)) }))
}

export async function getQueue (ctx: AdminContext, request: RequestOf<'GetQueue'>): Promise<ResponseOf<'GetQueue'>> {
  const [{ stats }, unserved] = await Promise.all([loadQueue(ctx, request.name), unservedHandlers(ctx, [request.name])])
  return { queue: queueSummary(stats, ctx.info), unservedHandlers: unserved.map(pair => pair.handler) }
}

async function change (ctx: AdminContext, name: string, apply: () => Promise<void>): Promise<{ queue: ReturnType<typeof queueSummary> }> {
  const { registered } = await loadQueue(ctx, name)
  if (!registered) await ctx.backend.ensureQueues([name])
  await apply()
  return { queue: queueSummary(await reload(ctx, name), ctx.info) }
}

export async function updateQueueWeight (ctx: AdminContext, request: RequestOf<'UpdateQueueWeight'>): Promise<MutationResult<ResponseOf<'UpdateQueueWeight'>>> {
  const response = await change(ctx, request.name, async () => await ctx.backend.setQueueWeight(request.name, request.weight))
  return { response, events: [{ type: 'queue.weight_updated', data: { queue: request.name, weight: request.weight } }] }
}

export async function resetQueueWeight (ctx: AdminContext, request: RequestOf<'ResetQueueWeight'>): Promise<MutationResult<ResponseOf<'ResetQueueWeight'>>> {
  const response = await change(ctx, request.name, async () => await ctx.backend.setQueueWeight(request.name, null))
  return { response, events: [{ type: 'queue.weight_reset', data: { queue: request.name, weight: response.queue.weight } }] }
}

export async function pauseQueue (ctx: AdminContext, request: RequestOf<'PauseQueue'>): Promise<MutationResult<ResponseOf<'PauseQueue'>>> {
  const response = await change(ctx, request.name, async () => await ctx.backend.setQueuePaused(request.name, request.paused))
  return { response, events: [{ type: request.paused ? 'queue.paused' : 'queue.resumed', data: { queue: request.name } }] }
}

export async function pauseDequeue (ctx: AdminContext, paused: boolean): Promise<MutationResult<{ globalPaused: boolean }>> {
  await ctx.backend.setGlobalPause(paused)
  const state = await ctx.backend.getCoordinationState()
  return { response: { globalPaused: state.globalPaused }, target: 'dequeue', events: [{ type: paused ? 'queue.dequeue_paused' : 'queue.dequeue_resumed', data: { globalPaused: state.globalPaused } }] }
}
