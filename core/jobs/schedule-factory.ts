import type { Backend } from '../backend/types.ts'
import type { EventStore } from '../plugin/kinds.ts'
import type { FactoryRegistry } from '../scheduler/factories.ts'
import type { ScheduledTask } from '../scheduler/types.ts'
import { JobErrors } from './errors.ts'
import { JobEvents } from './events.ts'
import { jobTaskInput, newJobRun, recordRunTask, type JobTaskPayload } from './queue-run.ts'
import { JobStore } from './store.ts'

// Every stored job is a schedule factory named `job:<name>`: a schedule of that name
// (durable by default) queues a run of the job on each fire, exactly as RunJob does,
// with trigger `schedule:<schedule name>`. The scheduler keeps its guarantees (leader
// only, once per instant through the claim and the idempotency key); the factory
// writes the run record before the enqueue and finishes it after.

export const JOB_FACTORY_PREFIX = 'job:'

export function jobFactoryName (job: string): string {
  return `${JOB_FACTORY_PREFIX}${job}`
}

export interface JobFactoryDeps {
  backend: Backend
  /** the registered event store, when one is (job events go there too) */
  eventStore?: EventStore | null
}

export function registerJobScheduleFactories (factories: FactoryRegistry, deps: JobFactoryDeps): void {
  const store = new JobStore(deps.backend)
  const events = new JobEvents(deps.backend, deps.eventStore ?? null)
  factories.registerFamily({
    prefix: JOB_FACTORY_PREFIX,
    durableDefault: true,
    describe: job => `queues a run of job ${job}`,
    create: jobName => async ctx => {
      const job = await store.getJob(jobName)
      if (job === null) throw JobErrors.jobNotFound(`job ${jobName} not found (deleted since the schedule was made?)`, { details: { name: jobName } })
      const run = newJobRun(job, `schedule:${ctx.schedule}`, Date.now())
      await store.createRun(run)
      const task: ScheduledTask = {
        ...jobTaskInput(run),
        afterEnqueue: async outcome => {
          if ('error' in outcome) {
            await store.updateRun(run.id, current => ({ ...current, state: 'failed', finishedAt: Date.now(), error: `enqueue failed: ${(outcome.error as Error).message}` }))
            return
          }
          if (outcome.created) {
            await recordRunTask({ store, events }, run, outcome.taskId)
            return
          }
          // Another leader enqueued this instant first: its task carries its own run, so
          // this record is dropped, and that run learns its task if its leader died first.
          await store.deleteRun(run.id)
          const existing = await deps.backend.getTask(outcome.taskId)
          const other = (existing?.payload as Partial<JobTaskPayload> | undefined)?.runId
          if (typeof other === 'string') await store.updateRun(other, current => current.taskId === '' ? { ...current, taskId: outcome.taskId } : null)
        }
      }
      return task
    }
  })
}

/** job schedule factories, for ListScheduleFactories: the stored jobs, by name */
export async function listJobFactories (backend: Backend, limit: number): Promise<Array<{ name: string, description: string, durableDefault: boolean }>> {
  if (!backend.capabilities.records) return []
  const jobs = await new JobStore(backend).listJobs(limit)
  return jobs.map(job => ({ name: jobFactoryName(job.name), description: job.description === '' ? `queues a run of job ${job.name}` : `queues a run of job ${job.name}: ${job.description}`, durableDefault: true }))
}
