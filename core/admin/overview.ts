import { isSwitchyardError } from '../errors.ts'
import type { ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext } from './context.ts'
import type { LatencyTracker } from './latency.ts'
import type { Backend, CoordinationState, PendingHandler, QueueStats, WorkerInfo } from '../backend/types.ts'
import { allQueueStats, withConfiguredQueues } from './queues.ts'
import { READ_REUSE_MS, reusedReadsFor } from './single-flight.ts'
import { compact, coordinationView, iso, queueSummary } from './views.ts'
import { MAX_UNSERVED_REPORTED, unservedAmong, unservedHandlers } from './handler-coverage.ts'

export async function getHealth (ctx: AdminContext): Promise<ResponseOf<'GetHealth'>> {
  let backendError: string | undefined
  try {
    await ctx.backend.now()
  } catch (err) {
    backendError = isSwitchyardError(err) ? `${err.code}: ${err.message}` : 'the backend did not answer'
  }
  return compact({
    status: backendError === undefined ? 'ok' as const : 'degraded' as const,
    version: ctx.info.version,
    commit: ctx.info.commit,
    nodeVersion: process.version,
    backend: ctx.info.backendName,
    uptimeSeconds: Math.max(0, (Date.now() - ctx.info.startedAt) / 1000),
    startedAt: iso(ctx.info.startedAt),
    backendError
  })
}

// Queue stats (O(queues)), the worker registry (O(workers)), coordination state,
// pending handlers and new event-log pages for latency: in one backend call where the
// backend offers readOverview, else one call per source. Sections the backend cannot
// provide are left out rather than faked.
const reusedOverview = reusedReadsFor<AdminContext, ResponseOf<'GetOverview'>>()
/**
 * A dashboard polled by many clients would otherwise recompute the overview for each
 * request. A computed overview is reused for this long (its generatedAt says when it
 * was made) unless this service answered a mutation since, so an operator's own
 * change shows at once; changes by workers and other nodes show within this bound.
 * AdminOptions.readReuseMs overrides it (0: every overview computed afresh).
 */
export const OVERVIEW_REUSE_MS = READ_REUSE_MS

// not async, nor the layers under it: each async layer costs a promise and a turn of the microtask queue per overview
export function getOverview (ctx: AdminContext, latency: LatencyTracker): Promise<ResponseOf<'GetOverview'>> {
  return reusedOverview(ctx, ctx.counters.changes, ctx.options.readReuseMs ?? OVERVIEW_REUSE_MS, () => computeOverview(ctx, latency))
}

/** the parts of an overview that come from the backend */
interface OverviewParts {
  queues: QueueStats[]
  workers: WorkerInfo[] | undefined
  coordination: CoordinationState | undefined
  unserved: PendingHandler[]
}

function wantsCoordination (ctx: AdminContext): boolean {
  const caps = ctx.backend.capabilities
  return caps.globalPause || caps.leaderLock || caps.rateLimit
}

// One call per source, all in parallel, then the pending handlers of the queues found.
async function readSeparately (ctx: AdminContext, latency: LatencyTracker): Promise<OverviewParts> {
  const [queues, workers, coordination] = await Promise.all([
    allQueueStats(ctx),
    ctx.backend.capabilities.workerRegistry ? ctx.backend.listWorkers() : Promise.resolve(undefined),
    wantsCoordination(ctx) ? ctx.backend.getCoordinationState() : Promise.resolve(undefined),
    latency.refresh().catch(err => ctx.onError(err, 'overview latency'))
  ])
  // needs the queue names, so it follows the parallel reads; the reuse window above bounds how often
  const unserved = await unservedHandlers(ctx, queues.map(queue => queue.name), workers)
  return { queues, workers, coordination, unserved }
}

// Everything in one backend call (on Redis one round trip), the latency page included.
async function readCombined (ctx: AdminContext, latency: LatencyTracker, readOverview: NonNullable<Backend['readOverview']>): Promise<OverviewParts> {
  const registry = ctx.backend.capabilities.workerRegistry
  const page = latency.nextPage()
  const read = await readOverview({ pendingLimit: registry ? MAX_UNSERVED_REPORTED : 0, events: page })
  if (page !== null) await latency.accept(page, read.events).catch(err => ctx.onError(err, 'overview latency'))
  else await latency.refresh().catch(err => ctx.onError(err, 'overview latency'))
  const queues = withConfiguredQueues(ctx, read.queues)
  const shown = new Set(queues.map(queue => queue.name))
  const workers = registry ? read.workers ?? [] : undefined
  const unserved = workers === undefined ? [] : unservedAmong(read.pending.filter(pair => shown.has(pair.queue)), workers)
  return { queues, workers, coordination: wantsCoordination(ctx) ? read.coordination : undefined, unserved }
}

/** the counts an overview sums over its queues (a constant, not Object.keys of the totals for every queue) */
const TOTALED = ['ready', 'processing', 'scheduled', 'retrying', 'dead', 'succeeded', 'canceled', 'blocked'] as const

async function computeOverview (ctx: AdminContext, latency: LatencyTracker): Promise<ResponseOf<'GetOverview'>> {
  const readOverview = ctx.backend.readOverview
  const { queues, workers, coordination, unserved } = readOverview === undefined
    ? await readSeparately(ctx, latency)
    : await readCombined(ctx, latency, readOverview.bind(ctx.backend))
  const totals = { ready: 0, processing: 0, scheduled: 0, retrying: 0, dead: 0, succeeded: 0, canceled: 0, blocked: 0 }
  for (const queue of queues) {
    for (const key of TOTALED) totals[key] += queue[key] ?? 0
  }
  // Optional fields are added when present, in the order of the contract, rather than
  // set to undefined and deleted (compact): a deletion turns the object into a slow
  // dictionary-mode one, which costs more to build and to serialize on every overview.
  const summaries: Array<ReturnType<typeof queueSummary>> = []
  for (const stats of queues) summaries.push(queueSummary(stats, ctx.info))
  const overview: Overview = { generatedAt: iso(Date.now()), totals, queues: summaries } as Overview
  if (workers !== undefined) {
    let inFlight = 0
    for (const worker of workers) inFlight += worker.inFlight
    overview.activeWorkers = workers.length
    overview.inFlight = inFlight
  }
  overview.latency = latency.view(Date.now())
  overview.actions = ctx.counters.view()
  if (coordination !== undefined) overview.coordination = coordinationView(coordination)
  overview.unservedHandlers = unserved.map(pair => ({ queue: pair.queue, handler: pair.handler }))
  return overview
}

type Overview = ResponseOf<'GetOverview'>
