import { defineError, Errors } from '../errors.ts'
import { taskQueues } from '../backend/task-queues.ts'
import { MAX_LIST_LIMIT, type WorkerInfo } from '../backend/types.ts'
import { RELEASE_LEASES_LIMIT_DEFAULT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { forgetServedHandlers } from './handler-coverage.ts'
import { workerView } from './views.ts'

// Operators' actions on workers. The cordon is stored on the worker's registry entry
// in the backend, so it outlives the admin process and reaches the worker wherever it
// runs (on its next heartbeat). Releasing leases recovers a dead worker's tasks now
// rather than when their leases expire; sweeping removes the entries of workers that
// stopped heartbeating. Workers are found in the registry, which keeps a stopped
// worker's entry for an hour (WORKER_RETENTION_MS): ListWorkers shows them with
// includeStale, and those are exactly what a sweep may remove.

export const WorkerErrors = {
  notFound: defineError('WORKER_NOT_FOUND'),
  alive: defineError('WORKER_ALIVE')
} as const

function assertRegistry (ctx: AdminContext): void {
  const { backend } = ctx
  if (!backend.capabilities.workerRegistry) {
    throw Errors.unsupported(`the ${backend.name} backend keeps no worker registry`, { details: { backend: backend.name } })
  }
}

async function findWorker (ctx: AdminContext, id: string): Promise<WorkerInfo | null> {
  const workers = await ctx.backend.listWorkers({ includeStale: true })
  return workers.find(w => w.id === id) ?? null
}

async function setCordon (ctx: AdminContext, id: string, cordoned: boolean): Promise<MutationResult<ResponseOf<'CordonWorker'>>> {
  assertRegistry(ctx)
  const before = await findWorker(ctx, id)
  const stored = before !== null && await ctx.backend.setWorkerCordoned(id, cordoned)
  forgetServedHandlers(ctx.backend)
  if (before === null || !stored) {
    throw WorkerErrors.notFound(`worker ${id} not found: the registry has no live worker of that id, nor one that stopped within the last hour`, { details: { id } })
  }
  const changed = before.cordoned !== cordoned
  const after = (await findWorker(ctx, id)) ?? { ...before, cordoned }
  return {
    response: { worker: workerView(after), changed },
    target: id,
    events: changed ? [{ type: cordoned ? 'worker.cordoned' : 'worker.uncordoned', data: { id } }] : [],
    auditResult: { changed }
  }
}

export async function cordonWorker (ctx: AdminContext, request: RequestOf<'CordonWorker'>): Promise<MutationResult<ResponseOf<'CordonWorker'>>> {
  return await setCordon(ctx, request.id, true)
}

export async function uncordonWorker (ctx: AdminContext, request: RequestOf<'UncordonWorker'>): Promise<MutationResult<ResponseOf<'UncordonWorker'>>> {
  return await setCordon(ctx, request.id, false)
}

export async function releaseWorkerLeases (ctx: AdminContext, request: RequestOf<'ReleaseWorkerLeases'>): Promise<MutationResult<ResponseOf<'ReleaseWorkerLeases'>>> {
  const { id } = request
  const dryRun = request.dryRun === true
  // never more per call than a replay may move (the same kind of bulk move back to ready)
  const limit = Math.min(request.limit ?? RELEASE_LEASES_LIMIT_DEFAULT, ctx.options.replayLimitMax, MAX_LIST_LIMIT)
  let alive = false
  if (ctx.backend.capabilities.workerRegistry) {
    alive = (await ctx.backend.listWorkers()).some(w => w.id === id)
    if (alive && request.force !== true) {
      throw WorkerErrors.alive(`worker ${id} still heartbeats: its tasks are running; cordon it and let them finish, or pass force to release its leases anyway (its results would then be discarded)`, { details: { id } })
    }
  }
  const { requeued, dead } = await ctx.backend.releaseWorkerLeases({ workerId: id, limit, dryRun })
  const count = requeued.length + dead.length
  // The queue of each dead letter goes into its event: the metrics history counts it
  // from there (this release is the one place that sees it), by queue. limit bounds the reads.
  const deadQueues = dryRun || dead.length === 0 ? [] : await taskQueues(ctx.backend, dead)
  const events = dryRun
    ? []
    : [
        ...requeued.map(taskId => ({ type: 'task.recovered', data: { id: taskId, workerId: id, released: true } })),
        ...dead.map((taskId, i) => {
          const queue = deadQueues[i] ?? null
          return { type: 'task.dead', data: { id: taskId, ...(queue === null ? {} : { queue }), workerId: id, error: 'lease released by an operator on the last attempt' } }
        })
      ]
  return {
    response: { id, dryRun, alive, count, requeued, dead },
    target: id,
    events,
    auditResult: { dryRun, count, requeued: requeued.length, dead: dead.length, forced: alive }
  }
}

export async function sweepWorkers (ctx: AdminContext, request: RequestOf<'SweepWorkers'>): Promise<MutationResult<ResponseOf<'SweepWorkers'>>> {
  assertRegistry(ctx)
  const dryRun = request.dryRun === true
  const swept = await ctx.backend.sweepWorkers({ olderThanMs: request.olderThanMs ?? 0, limit: request.limit ?? MAX_LIST_LIMIT, dryRun })
  return {
    response: { dryRun, count: swept.length, workers: swept.map(workerView) },
    target: 'workers',
    events: dryRun || swept.length === 0 ? [] : [{ type: 'worker.swept', data: { ids: swept.map(w => w.id) } }],
    auditResult: { dryRun, count: swept.length, ids: swept.slice(0, 100).map(w => w.id) }
  }
}
