import { Errors } from '../errors.ts'
import { AdminErrors } from '../contract/errors.ts'
import type { ScheduleEventViewT, ScheduleViewT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { MAX_LIST_LIMIT, type Backend } from '../backend/types.ts'
import { JOB_FACTORY_PREFIX, jobFactoryName, listJobFactories } from '../jobs/schedule-factory.ts'
import { JobStore } from '../jobs/store.ts'
import type { Scheduler } from '../scheduler/scheduler.ts'
import type { ScheduleEventEntry, ScheduleView } from '../scheduler/types.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { compact, iso } from './views.ts'

// The schedule RPCs over the process's scheduler. Durable schedules live in the
// backend, so any process's admin service sees and changes the same ones; in-memory
// schedules and factories are those of the process serving the call.

const DEFAULT_EVENTS_LIMIT = 25
const DEFAULT_RUN_MAX = 10
const DEFAULT_RUN_WINDOW_MS = 60_000

export function scheduleView (schedule: ScheduleView): ScheduleViewT {
  return compact({
    name: schedule.name,
    spec: schedule.spec,
    timezone: schedule.timezone,
    durable: schedule.durable,
    paused: schedule.paused,
    overlap: schedule.overlap,
    catchUp: schedule.catchUp,
    nextRunAt: schedule.paused || schedule.nextRunAt === null ? undefined : iso(schedule.nextRunAt),
    previousRunAt: schedule.lastRunAt === null ? undefined : iso(schedule.lastRunAt),
    lastStatus: schedule.lastStatus,
    lastError: schedule.lastError ?? undefined,
    lastTaskId: schedule.lastTaskId ?? undefined,
    fired: schedule.counts.fired,
    skipped: schedule.counts.skipped,
    failed: schedule.counts.failed,
    factoryRegistered: schedule.factoryRegistered,
    createdAt: iso(schedule.createdAt),
    updatedAt: iso(schedule.updatedAt)
  })
}

function eventView (entry: ScheduleEventEntry & { schedule: string, durable: boolean }): ScheduleEventViewT {
  return compact({
    schedule: entry.schedule,
    durable: entry.durable,
    at: iso(entry.at),
    type: entry.type,
    instant: entry.instant === undefined ? undefined : iso(entry.instant),
    taskId: entry.taskId,
    reason: entry.reason,
    count: entry.count
  })
}

// The run-now cap holds for the cluster, not per process: every admin service sharing
// the backend keeps one sliding log of recent run times in a record, changed by
// compare-and-set, on the backend's clock. A backend without records (none of the
// built-in ones) falls back to counting in this process.
const RUN_LOG_COLLECTION = 'admin'
const RUN_LOG_KEY = 'schedule-runs'
/** concurrent runs retry their compare-and-set this often before giving up */
const MAX_CAS_ATTEMPTS = 8

function recentRuns (stored: unknown, after: number): number[] {
  const runs = (stored as { runs?: unknown } | null)?.runs
  if (!Array.isArray(runs)) return []
  return runs.filter((at): at is number => typeof at === 'number' && Number.isFinite(at) && at > after).sort((a, b) => a - b)
}

/** WORKER_ADMIN_SCHEDULE_RUN_MAX per WORKER_ADMIN_SCHEDULE_RUN_WINDOW, counted cluster-wide */
export class RunBudget {
  private readonly localRuns: number[] = []
  constructor (private readonly backend: Backend, private readonly max: number, private readonly windowMs: number) {}

  private refuseWhenFull (runs: number[], now: number): void {
    if (runs.length < this.max) return
    const oldest = runs[runs.length - this.max] as number
    const retryAfterMs = Math.max(0, oldest + this.windowMs - now)
    throw AdminErrors.guardrailExceeded(`schedule runs are capped at ${this.max} per ${this.windowMs} ms (WORKER_ADMIN_SCHEDULE_RUN_MAX); try again in ${Math.ceil(retryAfterMs / 1000)} s`, {
      details: { limit: this.max, windowMs: this.windowMs, retryAfterMs }
    })
  }

  async take (): Promise<void> {
    if (!this.backend.capabilities.records) {
      const now = Date.now()
      const kept = recentRuns({ runs: this.localRuns }, now - this.windowMs)
      this.refuseWhenFull(kept, now)
      this.localRuns.splice(0, this.localRuns.length, ...kept, now)
      return
    }
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [now, current] = await Promise.all([this.backend.now(), this.backend.getRecord(RUN_LOG_COLLECTION, RUN_LOG_KEY)])
      const runs = recentRuns(current?.value ?? null, now - this.windowMs)
      this.refuseWhenFull(runs, now)
      const put = await this.backend.putRecord(RUN_LOG_COLLECTION, RUN_LOG_KEY, { runs: [...runs, now] }, { ifVersion: current === null ? null : current.version })
      if (put.ok) return
    }
    throw AdminErrors.guardrailExceeded(`schedule runs are contended: ${MAX_CAS_ATTEMPTS} concurrent attempts to count this one lost; try again`, {
      details: { limit: this.max, windowMs: this.windowMs, retryAfterMs: 1000 }
    })
  }
}

export function runBudgetFor (ctx: AdminContext): RunBudget {
  return new RunBudget(ctx.backend, ctx.options.scheduleRunMax ?? DEFAULT_RUN_MAX, ctx.options.scheduleRunWindowMs ?? DEFAULT_RUN_WINDOW_MS)
}

export class ScheduleRpcs {
  /** `backend` lists and checks the jobs that are schedule factories (job:<name>) */
  constructor (private readonly scheduler: Scheduler | undefined, private readonly budget: RunBudget, private readonly backend?: Backend) {}

  /** whether this process's scheduler has the job:<name> factories */
  private get servesJobs (): boolean {
    return this.backend !== undefined && this.s.factories.has(jobFactoryName('probe'))
  }

  private get s (): Scheduler {
    if (this.scheduler === undefined) throw Errors.unsupported('this admin service runs without a scheduler (scheduler.enabled is false)')
    return this.scheduler
  }

  async listFactories (): Promise<ResponseOf<'ListScheduleFactories'>> {
    const registered = this.s.listFactories().map(f => ({ name: f.name, description: f.description, durableDefault: f.durableDefault }))
    const jobs = this.servesJobs ? await listJobFactories(this.backend as Backend, MAX_LIST_LIMIT) : []
    return { factories: [...registered, ...jobs].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0) }
  }

  async listSchedules (): Promise<ResponseOf<'ListSchedules'>> {
    return { schedules: (await this.s.listSchedules()).map(scheduleView) }
  }

  async create (request: RequestOf<'CreateSchedule'>): Promise<MutationResult<ResponseOf<'CreateSchedule'>>> {
    if (request.name.startsWith(JOB_FACTORY_PREFIX) && this.servesJobs) {
      const job = request.name.slice(JOB_FACTORY_PREFIX.length)
      if (await new JobStore(this.backend as Backend).getJob(job) === null) {
        throw Errors.validation(`name: no job named ${JSON.stringify(job)} exists, so there is no schedule factory ${request.name}`, { details: { field: 'name', factory: request.name } })
      }
    }
    const { schedule, created, changed } = await this.s.upsert(compact({ ...request }))
    const view = scheduleView(schedule)
    const events = changed ? [{ type: created ? 'schedule.created' : 'schedule.updated', data: { schedule: schedule.name, spec: schedule.spec, timezone: schedule.timezone, durable: schedule.durable, paused: schedule.paused } }] : []
    return { response: { schedule: view, created }, target: schedule.name, events, auditResult: { created, changed } }
  }

  async remove (request: RequestOf<'DeleteSchedule'>): Promise<MutationResult<ResponseOf<'DeleteSchedule'>>> {
    const { deleted, durable } = await this.s.remove(request.name)
    return {
      response: { name: request.name, deleted },
      events: deleted ? [{ type: 'schedule.deleted', data: { schedule: request.name, durable } }] : [],
      auditResult: { deleted }
    }
  }

  async pause (request: RequestOf<'PauseSchedule'>): Promise<MutationResult<ResponseOf<'PauseSchedule'>>> {
    const { schedule, changed } = await this.s.pause(request.name, request.paused)
    return {
      response: { schedule: scheduleView(schedule) },
      events: changed ? [{ type: request.paused ? 'schedule.paused' : 'schedule.resumed', data: { schedule: schedule.name, durable: schedule.durable } }] : [],
      auditResult: { changed }
    }
  }

  async run (request: RequestOf<'RunSchedule'>): Promise<MutationResult<ResponseOf<'RunSchedule'>>> {
    await this.budget.take()
    const { schedule, taskId } = await this.s.runNow(request.name)
    return {
      response: { schedule: scheduleView(schedule), taskId },
      events: [{ type: 'schedule.run', data: { schedule: schedule.name, durable: schedule.durable, taskId } }],
      auditResult: { taskId }
    }
  }

  async pauseAll (request: RequestOf<'PauseSchedules'>): Promise<MutationResult<ResponseOf<'PauseSchedules'>>> {
    const dryRun = request.dryRun === true
    let changed: string[]
    let total: number
    if (dryRun) {
      const all = await this.s.listSchedules()
      changed = all.filter(s => s.paused !== request.paused).map(s => s.name)
      total = all.length
    } else {
      ({ changed, total } = await this.s.pauseAll(request.paused))
    }
    return {
      response: { paused: request.paused, dryRun, changed, total },
      target: 'schedules',
      events: dryRun || changed.length === 0 ? [] : [{ type: request.paused ? 'schedule.paused_all' : 'schedule.resumed_all', data: { schedules: changed } }],
      auditResult: { changed: changed.length, total }
    }
  }

  async listEvents (request: RequestOf<'ListScheduleEvents'>): Promise<ResponseOf<'ListScheduleEvents'>> {
    return { events: (await this.s.listEvents(request.name, request.limit ?? DEFAULT_EVENTS_LIMIT)).map(eventView) }
  }
}
