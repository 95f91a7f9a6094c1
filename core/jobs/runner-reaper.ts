import type { Backend } from '../backend/types.ts'
import type { ContainerRuntime } from '../plugin/kinds.ts'
import type { Logger } from '../worker/logger.ts'
import { Periodic } from '../worker/periodic.ts'
import type { JobEvents } from './events.ts'
import { isFinalRunState, type JobStore } from './store.ts'
import { RUN_LABEL, WORKER_LABEL, type JobRun } from './types.ts'

// A worker killed mid-run (SIGKILL, a lost machine) leaves its container running and
// its run in a working state. Any worker cleans up after it:
// - containers labelled with a run of this backend whose worker (WORKER_LABEL) is no
//   longer a live worker, and that this process is not running, are removed (this
//   worker's own too, when their run is not active here: a removal that failed);
// - the killed attempt's task lease expires and is recovered by the worker loop, so
//   the run is retried per its definition; when the lease expired on the last attempt
//   the task is dead and no attempt will come: such a run is marked failed here.

/** newest runs examined per sweep for abandoned ones */
export const ABANDONED_RUNS_SCANNED = 200

export interface ReaperInput {
  backend: Backend
  store: JobStore
  events: () => JobEvents
  runtime: () => ContainerRuntime | null
  /** this process's worker id (its containers are its own business) */
  workerId: string
  /** runs this process is working on right now */
  activeRuns: () => ReadonlySet<string>
  intervalMs: number
  log: Logger
}

export interface ReapOutcome {
  /** container ids removed */
  removed: string[]
  /** runs marked failed (or canceled) because their task ended without them */
  abandoned: string[]
}

export class OrphanReaper {
  readonly #input: ReaperInput
  readonly #periodic: Periodic

  constructor (input: ReaperInput) {
    this.#input = input
    this.#periodic = new Periodic({ name: 'job container reaper', intervalMs: input.intervalMs, initialDelayMs: 0, log: input.log, run: async () => { await this.reap() } })
  }

  start (): void { this.#periodic.start() }

  async stop (): Promise<void> { await this.#periodic.stop() }

  async reap (): Promise<ReapOutcome> {
    const removed = await this.reapContainers()
    const abandoned = await this.failAbandonedRuns()
    return { removed, abandoned }
  }

  /** removes labelled containers of workers that are gone */
  async reapContainers (): Promise<string[]> {
    const { backend, log } = this.#input
    const runtime = this.#input.runtime()
    // without a worker registry nobody can tell a dead worker from a live one
    if (runtime === null || !backend.capabilities.workerRegistry) return []
    const containers = await runtime.listManagedContainers(RUN_LABEL)
    if (containers.length === 0) return []
    // read after the containers: a worker that started one since is listed as live
    const live = new Set((await backend.listWorkers()).map(worker => worker.id))
    // this worker's own containers are left only while their run is active here
    live.delete(this.#input.workerId)
    const active = this.#input.activeRuns()
    const removed: string[] = []
    for (const container of containers) {
      const runId = container.labels[RUN_LABEL] ?? ''
      const owner = container.labels[WORKER_LABEL] ?? ''
      if (active.has(runId) || live.has(owner)) continue
      // An engine may serve several clusters (each with its own backend): a container
      // is only this cluster's business when its run is in this backend.
      if (runId === '' || (await this.#input.store.getRun(runId)) === null) continue
      await runtime.removeContainer(container.id)
      removed.push(container.id)
      log.info({ containerId: container.id, runId, worker: owner }, `removed the container of run ${runId}: ${owner === this.#input.workerId ? 'a leftover of this worker' : `its worker ${owner} is gone`}`)
    }
    return removed
  }

  /** marks runs whose task ended (dead, canceled) while the run was still queued or working */
  async failAbandonedRuns (): Promise<string[]> {
    const { backend, store, log } = this.#input
    if (!backend.capabilities.records) return []
    const active = this.#input.activeRuns()
    const runs = await store.listRuns({ limit: ABANDONED_RUNS_SCANNED })
    const abandoned: string[] = []
    for (const run of runs) {
      if (isFinalRunState(run.state) || active.has(run.id) || run.taskId === '') continue
      const task = await backend.getTask(run.taskId)
      if (task !== null && task.state !== 'dead' && task.state !== 'canceled' && task.state !== 'succeeded') continue
      const canceled = task?.state === 'canceled'
      const reason = task === null
        ? 'the task carrying the run no longer exists'
        : canceled
          ? 'the task carrying the run was canceled'
          : `the task carrying the run ended ${task.state} without the run finishing (its worker stopped mid-run${task.lastError === null ? '' : `: ${task.lastError}`})`
      const now = Date.now()
      const stored = await store.updateRun(run.id, current => isFinalRunState(current.state)
        ? null
        : { ...current, state: canceled ? 'canceled' : 'failed', finishedAt: now, error: reason })
      if (stored === null || stored.finishedAt !== now) continue
      abandoned.push(run.id)
      await this.#input.events().append([{ type: 'job.finished', data: finishedData(stored) }])
      log.warn({ runId: run.id, job: run.job, taskId: run.taskId }, `job run ${run.id} ${stored.state}: ${reason}`)
    }
    return abandoned
  }
}

/** the data of a job.finished event */
export function finishedData (run: JobRun): { job: string, runId: string, [field: string]: unknown } {
  return {
    job: run.job,
    runId: run.id,
    attempt: run.attempt,
    state: run.state,
    ...(run.exitCode === undefined ? {} : { exitCode: run.exitCode }),
    ...(run.durationMs === undefined ? {} : { durationMs: run.durationMs }),
    ...(run.imageId === undefined ? {} : { imageId: run.imageId }),
    ...(run.error === undefined ? {} : { error: run.error }),
    ...(run.outputTruncated === undefined ? {} : { outputTruncated: run.outputTruncated })
  }
}
