import type { Backend, PendingHandler, Task, WorkerInfo } from '../backend/types.ts'
import type { AdminContext } from './context.ts'
import { sortUnlessSorted } from './sort.ts'

// Workers lease only tasks whose handler they run, so a task whose handler no live
// worker runs waits (using no attempt) until one starts. These helpers tell the
// operator so: pending (queue, handler) pairs come from the backend in
// O(queues × handlers), the live workers' handler sets from the worker registry.
// "Served" means some live worker runs the handler; which queues it consumes is not
// considered (a worker's queue list is a bounded report, not its whole reach).

/** pairs reported per overview; a deployment with more unserved pairs has bigger problems */
export const MAX_UNSERVED_REPORTED = 1000
export const PENDING_STATES = new Set<Task['state']>(['ready', 'scheduled', 'retrying'])

// A cordoned worker leases nothing, so its handlers count as run by no one until it is uncordoned.
function handlersRun (workers: WorkerInfo[]): Set<string> {
  return new Set(workers.flatMap(worker => worker.cordoned === true ? [] : worker.handlers ?? []))
}

/**
 * Pending (queue, handler) pairs of `queues` that no live worker runs; empty when the
 * backend keeps no worker registry (nothing is known about workers then).
 */
export async function unservedHandlers (ctx: AdminContext, queues: string[], workers?: WorkerInfo[]): Promise<PendingHandler[]> {
  if (!ctx.backend.capabilities.workerRegistry || queues.length === 0) return []
  const [pending, live] = await Promise.all([
    ctx.backend.pendingHandlers({ queues, limit: MAX_UNSERVED_REPORTED }),
    workers === undefined ? ctx.backend.listWorkers() : Promise.resolve(workers)
  ])
  return unservedAmong(pending, live)
}

/** the pairs of `pending` whose handler no live, uncordoned worker of `live` runs, by queue then handler */
export function unservedAmong (pending: PendingHandler[], live: WorkerInfo[]): PendingHandler[] {
  const run = handlersRun(live)
  return sortUnlessSorted(pending.filter(pair => !run.has(pair.handler)), byQueueThenHandler)
}

function byQueueThenHandler (a: PendingHandler, b: PendingHandler): number {
  return a.queue.localeCompare(b.queue) || a.handler.localeCompare(b.handler)
}

/** for a pending task: whether a live worker runs its handler; undefined when it is not pending or nothing is known */
export async function handlerServed (ctx: AdminContext, task: Task): Promise<boolean | undefined> {
  if (!ctx.backend.capabilities.workerRegistry || !PENDING_STATES.has(task.state)) return undefined
  return handlersRun(await ctx.backend.listWorkers()).has(task.handler)
}

/**
 * How long an enqueue trusts a handler it saw served. Reading the worker registry on
 * every enqueue cost as much as the enqueue itself under load, so a served handler is
 * remembered briefly. The registry notices a dead worker only when its heartbeat
 * expires (many seconds), so this adds little staleness; cordons made through this
 * process forget it at once. An unserved handler is never remembered: a worker that
 * just started is seen by the next enqueue.
 */
export const SERVED_REMEMBERED_MS = 1000
const servedSeen = new WeakMap<Backend, { at: number, handlers: Set<string> }>()

// Enqueues of handlers no live worker runs (a burst before any worker starts) would each
// read the registry: concurrent ones share the read in flight instead. Such a read began
// at most one registry read earlier than the enqueue that joins it, so a worker that
// registered just before is still seen by the next enqueue, as without sharing.
const registryReads = new WeakMap<Backend, { generation: number, read: Promise<Set<string>> }>()
// bumped by each forgetServedHandlers: a read begun before it is neither joined nor remembered
const generations = new WeakMap<Backend, number>()

/** drops what enqueues remember of served handlers (a worker was cordoned or uncordoned) */
export function forgetServedHandlers (backend: Backend): void {
  generations.set(backend, (generations.get(backend) ?? 0) + 1)
  servedSeen.delete(backend)
  registryReads.delete(backend)
}

function servedHandlers (backend: Backend): Promise<Set<string>> {
  const started = generations.get(backend) ?? 0
  const shared = registryReads.get(backend)
  if (shared !== undefined && shared.generation === started) return shared.read
  const read = backend.listWorkers().then(workers => {
    const run = handlersRun(workers)
    // a cordon made while this read was in flight: what it read is not remembered
    if ((generations.get(backend) ?? 0) === started) servedSeen.set(backend, { at: Date.now(), handlers: run })
    return run
  }).finally(() => {
    if (registryReads.get(backend)?.read === read) registryReads.delete(backend)
  })
  registryReads.set(backend, { generation: started, read })
  return read
}

/** warnings for an enqueue: its handler is run by no live worker (the task is stored and waits) */
export async function enqueueWarnings (ctx: AdminContext, handler: string): Promise<string[]> {
  if (!ctx.backend.capabilities.workerRegistry) return []
  const seen = servedSeen.get(ctx.backend)
  if (seen !== undefined && Date.now() - seen.at < SERVED_REMEMBERED_MS && seen.handlers.has(handler)) return []
  const run = await servedHandlers(ctx.backend)
  if (run.has(handler)) return []
  return [`no live worker runs handler ${handler}: the task waits, using no attempt, until a worker that registers ${handler} starts (a cordoned one leases nothing)`]
}
