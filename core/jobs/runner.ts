import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Backend } from '../backend/types.ts'
import { Errors, isSwitchyardError } from '../errors.ts'
import type { HookQueries } from '../plugin/hooks.ts'
import type { ContainerRuntime, JobSource } from '../plugin/kinds.ts'
import { PermanentError } from '../worker/errors.ts'
import type { Handler, TaskContext } from '../worker/handlers.ts'
import type { Logger } from '../worker/logger.ts'
import { JobEvents, type JobEventInput } from './events.ts'
import { runAttempt, type AttemptOutcome } from './runner-attempt.ts'
import { resolveJobRunnerOptions, type JobRunnerOptions } from './runner-options.ts'
import { finishedData, OrphanReaper } from './runner-reaper.ts'
import { isFinalRunState, JobStore } from './store.ts'
import { RUN_LABEL, type JobRun, type JobRunState, type JobSourceKind } from './types.ts'

// The `switchyard.job` task handler: one task attempt is one attempt of a job run.
//
// Outcomes, and what they mean for the task that carries the run:
// - succeeded (exit 0), or canceled: the run is final and the task succeeds;
// - failed (non-zero exit, fetch or build error) or timed out with attempts left: the
//   run goes back to queued with the next attempt number (job.retrying) and the
//   handler throws, so the worker retries the task with its backoff;
// - the same on the last attempt: the run is final and the handler throws a
//   PermanentError, so the task ends dead and the failure is visible in the DLQ like
//   any failed task. Replaying that dead task does not run the job again (it finds a
//   final run and succeeds without effect): RunJob starts a new run.
// - the worker stops (shutdown) mid-attempt: the container is stopped, the run goes
//   back to queued and the released task runs again on some worker;
// - the lease is lost: another worker owns the task now; this one stops its container
//   and leaves the record alone.
// A worker killed outright leaves its container to the reaper (runner-reaper.ts) and
// its task to lease recovery, which brings the run back here as the next attempt.

export interface JobTaskPayload {
  runId: string
  job?: string
}

export interface JobRunnerInput {
  backend: Backend
  hooks: HookQueries
  /** the id of the worker whose tasks this runner handles (labels its containers) */
  workerId: string
  log: Logger
  options?: Partial<JobRunnerOptions>
}

export interface JobTaskResult {
  runId: string
  state: JobRunState
  exitCode?: number
  /** true when the run was already final and nothing was done */
  skipped?: boolean
}

/** the abort reason of a cancel request (told apart from the worker's own reasons) */
class CancelRequested extends Error {
  constructor () {
    super('canceled on request (CancelJobRun)')
    this.name = 'CancelRequested'
  }
}

class RunFinishedElsewhere extends Error {}

/** skipped /artifacts files named on job.finished at most */
const MAX_SKIPPED_REPORTED = 100

const SOURCE_PLUGINS: Record<JobSourceKind, string> = {
  git_tag: 'job-source-git',
  tarball_url: 'job-source-tarball',
  tarball_path: 'job-source-tarball'
}

export class JobRunner {
  readonly options: JobRunnerOptions
  readonly handler: Handler
  readonly #backend: Backend
  readonly #hooks: HookQueries
  readonly #store: JobStore
  readonly #log: Logger
  readonly #workerId: string
  /** runs this process works on, with the controller that stops them */
  readonly #active = new Map<string, Promise<unknown>>()
  readonly #reaper: OrphanReaper

  constructor (input: JobRunnerInput) {
    this.options = resolveJobRunnerOptions(input.options)
    this.#backend = input.backend
    this.#hooks = input.hooks
    this.#store = new JobStore(input.backend)
    this.#log = input.log
    this.#workerId = input.workerId
    this.handler = async (payload: unknown, ctx: TaskContext) => await this.#track(payload, ctx)
    this.#reaper = new OrphanReaper({
      backend: input.backend,
      store: this.#store,
      events: () => this.#events(),
      runtime: () => this.#runtimeOrNull(),
      workerId: input.workerId,
      activeRuns: () => new Set(this.#active.keys()),
      intervalMs: this.options.reapIntervalMs,
      log: input.log
    })
  }

  /** starts reaping orphans: at once, then every reapIntervalMs */
  start (): void { this.#reaper.start() }

  /** stops reaping and waits (bounded) for attempts still stopping their containers */
  async stop (): Promise<void> {
    await this.#reaper.stop()
    const waitMs = this.options.stopGraceMs + 5_000
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#active.values()]),
      new Promise(resolve => { timer = setTimeout(resolve, waitMs) })
    ]).finally(() => clearTimeout(timer))
  }

  /** one reaping pass now (tests, and `start` on a fresh worker) */
  async reap (): Promise<{ removed: string[], abandoned: string[] }> {
    return await this.#reaper.reap()
  }

  /** the runtime jobs run on, or null when no runtime plugin is registered */
  #runtimeOrNull (): ContainerRuntime | null {
    const runtimes = this.#hooks.containerRuntimes()
    if (runtimes.length === 0) return null
    return this.options.runtime === null ? runtimes[0] as ContainerRuntime : this.#hooks.getContainerRuntime(this.options.runtime)
  }

  #events (): JobEvents {
    return new JobEvents(this.#backend, this.#hooks.eventStores()[0] ?? null)
  }

  async #track (payload: unknown, ctx: TaskContext): Promise<JobTaskResult> {
    const runId = runIdOf(payload)
    if (this.#active.has(runId)) throw new Error(`job run ${runId} is already being worked on in this process`)
    const handling = this.#handle(runId, ctx)
    this.#active.set(runId, handling)
    try {
      return await handling
    } finally {
      this.#active.delete(runId)
    }
  }

  async #handle (runId: string, ctx: TaskContext): Promise<JobTaskResult> {
    const store = this.#store
    const events = this.#events()
    const emit = async (list: JobEventInput[]): Promise<void> => { await events.append(list) }
    const run = await store.getRun(runId)
    // a deleted run has nothing left to do; a final one was finished by an earlier delivery
    if (run === null) return { runId, state: 'canceled', skipped: true }
    if (isFinalRunState(run.state)) return { runId, state: run.state, skipped: true }
    const attempt = ctx.attempt
    const finish = async (state: JobRunState, fields: Partial<JobRun>, extra: Record<string, unknown> = {}): Promise<JobRun> => await this.#finish(run.id, state, fields, emit, extra)

    if (run.cancelRequestedAt !== undefined) {
      await finish('canceled', { error: 'canceled on request before it started' })
      return { runId, state: 'canceled' }
    }
    const runtime = this.#runtimeOrNull()
    if (runtime === null) {
      const message = 'no container runtime is registered in this worker: add the runtime-docker plugin (@switchyard/runtime-docker) to the plugins of the config to run jobs'
      await finish('failed', { attempt, error: message })
      throw new PermanentError(message)
    }
    const source = this.#sourceFor(run.definition.source)
    if (source === null) {
      const message = `no job source for "${run.definition.source}" is registered in this worker: add the ${SOURCE_PLUGINS[run.definition.source]} plugin`
      await finish('failed', { attempt, error: message })
      throw new PermanentError(message)
    }
    if (run.state !== 'queued' || run.attempt !== attempt) {
      // an earlier attempt was cut off (its worker died or lost the lease)
      await emit([{ type: 'job.retrying', data: { job: run.job, runId, attempt: run.attempt, nextAttempt: attempt, error: `attempt ${run.attempt} was interrupted while ${run.state}` } }])
    }
    await this.#removeRunContainers(runtime, runId)

    const controller = new AbortController()
    const onTaskAbort = (): void => { controller.abort(ctx.signal.reason) }
    if (ctx.signal.aborted) onTaskAbort()
    else ctx.signal.addEventListener('abort', onTaskAbort, { once: true })
    const stopWatching = this.#watchCancel(runId, controller)
    await mkdir(this.options.workdir, { recursive: true, mode: 0o700 })
    const workDir = await mkdtemp(join(this.options.workdir, 'run-'))
    let outcome: AttemptOutcome | null = null
    let failure: unknown = null
    try {
      outcome = await runAttempt({
        run,
        attempt,
        workDir,
        workerId: this.#workerId,
        runtime,
        source,
        artifactStore: this.#hooks.artifactStores()[0] ?? null,
        options: this.options,
        signal: controller.signal,
        log: ctx.log,
        update: async (change) => await this.#update(runId, change),
        emit
      })
    } catch (err) {
      failure = err
    } finally {
      stopWatching()
      ctx.signal.removeEventListener('abort', onTaskAbort)
      await rm(workDir, { recursive: true, force: true }).catch((err: unknown) => ctx.log.warn({ err, workDir }, 'the work directory of a job run could not be removed'))
    }

    // files of /artifacts not kept are named on job.finished (and logged)
    const extra = outcome === null || outcome.skippedArtifacts.length === 0 ? {} : { artifactsSkipped: outcome.skippedArtifacts.slice(0, MAX_SKIPPED_REPORTED) }
    if (failure instanceof RunFinishedElsewhere) return { runId, state: (await store.getRun(runId))?.state ?? 'canceled', skipped: true }
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : null
    if (reason instanceof CancelRequested) {
      const stored = await finish('canceled', { error: reason.message, ...resultFields(outcome) }, extra)
      return { runId, state: stored.state }
    }
    if (isSwitchyardError(reason) && reason.code === 'LEASE_LOST') {
      // the task belongs to another worker now; the record is its business
      throw reason
    }
    if (isSwitchyardError(reason) && reason.code === 'WORKER_SHUTDOWN') {
      await this.#update(runId, current => ({ ...current, ...resultFields(outcome), state: 'queued', error: 'its worker stopped mid-run; it runs again' })).catch(() => {})
      throw reason
    }
    if (outcome !== null) {
      const { result } = outcome
      if (!result.timedOut && !result.canceled && result.exitCode === 0) {
        await finish('succeeded', resultFields(outcome), extra)
        return { runId, state: 'succeeded', exitCode: 0 }
      }
      const state: JobRunState = result.timedOut ? 'timed_out' : 'failed'
      const error = result.timedOut
        ? `stopped after its timeout of ${run.definition.timeoutSeconds} s`
        : result.exitCode === null ? 'the container was stopped before it exited' : `exited with code ${result.exitCode}`
      return await this.#failed(run, attempt, ctx, state, error, resultFields(outcome), emit, extra)
    }
    const error = reason !== null ? describe(reason) : describe(failure)
    return await this.#failed(run, attempt, ctx, 'failed', error, {}, emit)
  }

  /** a failed attempt: back to queued for the next one, or final on the last */
  async #failed (run: JobRun, attempt: number, ctx: TaskContext, state: JobRunState, error: string, fields: Partial<JobRun>, emit: (list: JobEventInput[]) => Promise<void>, extra: Record<string, unknown> = {}): Promise<never> {
    if (attempt < ctx.maxAttempts) {
      await this.#update(run.id, current => ({ ...current, ...fields, state: 'queued', attempt: attempt + 1, error: `attempt ${attempt}: ${error}` }))
      await emit([{ type: 'job.retrying', data: { job: run.job, runId: run.id, attempt, nextAttempt: attempt + 1, state, error } }])
      throw new Error(`job ${run.job} run ${run.id} attempt ${attempt} ${state}: ${error}`)
    }
    await this.#finish(run.id, state, { ...fields, attempt, error }, emit, extra)
    throw new PermanentError(`job ${run.job} run ${run.id} ${state} on its last attempt (${attempt}): ${error}`)
  }

  /** moves the run to a final state (unless something else did first) and announces it */
  async #finish (runId: string, state: JobRunState, fields: Partial<JobRun>, emit: (list: JobEventInput[]) => Promise<void>, extra: Record<string, unknown> = {}): Promise<JobRun> {
    const finishedAt = Date.now()
    let changed = false
    const stored = await this.#store.updateRun(runId, current => {
      if (isFinalRunState(current.state)) return null
      changed = true
      return { ...current, ...fields, state, finishedAt }
    })
    if (stored === null) throw Errors.conflict(`job run ${runId} was deleted while it ran`)
    if (changed) await emit([{ type: 'job.finished', data: { ...finishedData(stored), ...extra } }])
    return stored
  }

  async #update (runId: string, change: (run: JobRun) => JobRun): Promise<JobRun> {
    const stored = await this.#store.updateRun(runId, current => {
      if (isFinalRunState(current.state)) throw new RunFinishedElsewhere(`job run ${runId} reached ${current.state} elsewhere`)
      return change(current)
    })
    if (stored === null) throw new RunFinishedElsewhere(`job run ${runId} was deleted while it ran`)
    return stored
  }

  #sourceFor (kind: JobSourceKind): JobSource | null {
    return this.#hooks.jobSources().find(source => source.kinds.includes(kind)) ?? null
  }

  /** containers left by an earlier attempt of this run (a killed worker, a lost lease) */
  async #removeRunContainers (runtime: ContainerRuntime, runId: string): Promise<void> {
    for (const container of await runtime.listManagedContainers(RUN_LABEL)) {
      if (container.labels[RUN_LABEL] !== runId) continue
      await runtime.removeContainer(container.id)
      this.#log.info({ runId, containerId: container.id }, `removed a container left by an earlier attempt of run ${runId}`)
    }
  }

  /** reads the run record every cancelPollMs; a cancel request aborts the attempt */
  #watchCancel (runId: string, controller: AbortController): () => void {
    let timer: NodeJS.Timeout | null = null
    let stopped = false
    const poll = async (): Promise<void> => {
      try {
        const run = await this.#store.getRun(runId)
        if (run !== null && run.cancelRequestedAt !== undefined && !controller.signal.aborted) controller.abort(new CancelRequested())
      } catch (err) {
        this.#log.debug({ err, runId }, 'reading a job run for a cancel request failed; trying again')
      }
      if (!stopped && !controller.signal.aborted) timer = setTimeout(() => { void poll() }, this.options.cancelPollMs)
    }
    timer = setTimeout(() => { void poll() }, this.options.cancelPollMs)
    return () => {
      stopped = true
      if (timer !== null) clearTimeout(timer)
    }
  }
}

export function createJobRunner (input: JobRunnerInput): JobRunner {
  return new JobRunner(input)
}

function runIdOf (payload: unknown): string {
  const runId = (payload as Partial<JobTaskPayload> | null)?.runId
  if (typeof runId !== 'string' || runId === '' || runId.length > 200) throw new PermanentError('switchyard.job task: payload.runId must be the id of a job run')
  return runId
}

function resultFields (outcome: AttemptOutcome | null): Partial<JobRun> {
  if (outcome === null) return {}
  const { run } = outcome
  return {
    ...(run.exitCode === undefined ? {} : { exitCode: run.exitCode }),
    ...(run.durationMs === undefined ? {} : { durationMs: run.durationMs }),
    ...(run.containerId === undefined ? {} : { containerId: run.containerId }),
    ...(run.outputBytes === undefined ? {} : { outputBytes: run.outputBytes }),
    ...(run.outputTruncated === undefined ? {} : { outputTruncated: run.outputTruncated }),
    artifacts: run.artifacts
  }
}

function describe (err: unknown): string {
  if (err instanceof Error) return err.message === '' ? err.name : err.message
  return String(err)
}
