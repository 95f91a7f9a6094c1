// Feeds the registered metrics exporters from the runtime: worker task outcomes,
// enqueues, admin calls (timed around the service, so both transports count) and
// queue depths read periodically from queueStats (O(queues)). With no exporter
// registered nothing is observed and no timer runs.
import { isSwitchyardError } from './errors.ts'
import type { Backend } from './backend/types.ts'
import type { MetricEvent, MetricsExporter } from './plugin/kinds.ts'
import type { Worker } from './worker/index.ts'
import type { RunningAdminService } from './admin/index.ts'
import { RPCS, type RpcName } from './contract/rpcs.ts'

export type Observe = (event: MetricEvent) => void

export function observerFor (exporters: readonly MetricsExporter[]): Observe | null {
  if (exporters.length === 0) return null
  return (event) => { for (const exporter of exporters) exporter.observe(event) }
}

export function observeWorker (worker: Worker, observe: Observe): void {
  worker.on('task:started', (o) => observe({ type: 'task.started', queue: o.queue, handler: o.handler, waitMs: o.waitMs }))
  worker.on('task:succeeded', (o) => observe({ type: 'task.finished', queue: o.queue, handler: o.handler, outcome: 'succeeded', durationMs: o.durationMs }))
  worker.on('task:failed', (o) => observe({ type: 'task.finished', queue: o.queue, handler: o.handler, outcome: o.outcome, durationMs: o.durationMs }))
}

/** The same service with every unary call timed into `admin.request` observations. */
export function timedAdmin (admin: RunningAdminService, observe: Observe): RunningAdminService {
  const timed = Object.create(admin) as Record<string, unknown>
  for (const name of Object.keys(RPCS) as RpcName[]) {
    if (RPCS[name].stream === true) continue
    const method = (admin as unknown as Record<string, (req: unknown, ctx: unknown) => Promise<unknown>>)[name]
    if (typeof method !== 'function') continue
    timed[name] = async (request: unknown, ctx: unknown) => {
      const started = performance.now()
      let code = 'OK'
      try {
        return await method.call(admin, request, ctx)
      } catch (err) {
        code = isSwitchyardError(err) ? err.code : 'INTERNAL'
        throw err
      } finally {
        observe({ type: 'admin.request', rpc: name, code, durationMs: performance.now() - started })
      }
    }
  }
  return timed as unknown as RunningAdminService
}

/** Reads queue depths every intervalMs; returns a stop function. */
export function observeQueueDepths (backend: Backend, observe: Observe, intervalMs: number, onError: (err: unknown) => void): () => void {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    backend.queueStats().then((stats) => {
      for (const q of stats) observe({ type: 'queue.depth', queue: q.name, ready: q.ready, processing: q.processing, scheduled: q.scheduled, dead: q.dead })
    }, onError).finally(() => { running = false })
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
