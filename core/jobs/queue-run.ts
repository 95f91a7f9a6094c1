import type { EnqueueInput } from '../tasks/enqueue.ts'
import type { Enqueuer } from '../tasks/enqueuer.ts'
import { Errors } from '../errors.ts'
import type { JobEvents } from './events.ts'
import type { JobStore } from './store.ts'
import { JOB_TASK_HANDLER, newRunId, type JobDefinition, type JobRun } from './types.ts'

// Queuing a run is the same whoever asks (RunJob, a schedule fire): a run record in
// state queued with the definition as it is now, then one durable task through the
// process's one enqueue path, then job.queued. The record comes first so the runner
// always finds the run its task names.

/** what a run's task may take beyond the container's own timeout: fetching and building */
export const JOB_SETUP_BUDGET_MS = 30 * 60_000

export interface JobTaskPayload {
  runId: string
  job: string
}

/** a new run record of `job`, queued, without its task yet */
export function newJobRun (job: JobDefinition, trigger: string, now: number): JobRun {
  return {
    id: newRunId(now),
    job: job.name,
    state: 'queued',
    taskId: '',
    attempt: 1,
    maxAttempts: job.retries + 1,
    definition: structuredClone(job),
    trigger,
    queuedAt: now,
    artifacts: []
  }
}

/** the durable task that carries `run` */
export function jobTaskInput (run: JobRun): EnqueueInput & { payload: JobTaskPayload } {
  return {
    handler: JOB_TASK_HANDLER,
    queue: run.definition.queue,
    payload: { runId: run.id, job: run.job },
    maxAttempts: run.maxAttempts,
    timeoutMs: run.definition.timeoutSeconds * 1000 + JOB_SETUP_BUDGET_MS
  }
}

export interface QueueRunDeps {
  store: JobStore
  events: JobEvents
  enqueuer: Enqueuer
}

/** stores the run, enqueues its task, records the task on the run and appends job.queued */
export async function queueJobRun (deps: QueueRunDeps, job: JobDefinition, trigger: string, now = Date.now()): Promise<JobRun> {
  const run = newJobRun(job, trigger, now)
  if (!await deps.store.createRun(run)) throw Errors.conflict(`job run ${run.id} exists already; try again`, { details: { runId: run.id } })
  let taskId: string
  try {
    const [enqueued] = await deps.enqueuer.enqueue([jobTaskInput(run)], () => ({ field: '' }))
    if (enqueued === undefined) throw Errors.backendUnavailable('the backend answered the enqueue without a result', { details: { method: 'enqueue' } })
    taskId = enqueued.result.id
  } catch (err) {
    // No task will ever run it: the record must not wait in queued forever.
    await deps.store.updateRun(run.id, current => ({ ...current, state: 'failed', finishedAt: Date.now(), error: `enqueue failed: ${(err as Error).message}` })).catch(() => null)
    throw err
  }
  return await recordRunTask(deps, run, taskId)
}

/** the run's task is enqueued: store its id on the run and append job.queued */
export async function recordRunTask (deps: Pick<QueueRunDeps, 'store' | 'events'>, run: JobRun, taskId: string): Promise<JobRun> {
  const stored = await deps.store.updateRun(run.id, current => current.taskId === taskId ? null : { ...current, taskId })
  await deps.events.append([{ type: 'job.queued', data: { job: run.job, runId: run.id, taskId, trigger: run.trigger, queue: run.definition.queue } }])
  return stored ?? { ...run, taskId }
}
