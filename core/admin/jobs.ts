import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { basename, isAbsolute, relative, resolve, sep } from 'node:path'
import { Errors } from '../errors.ts'
import { ARTIFACT_CHUNK_BYTES, type JobArtifactChunkT, type JobArtifactViewT, type JobRunViewT, type JobViewT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { assertJobName, buildJobDefinition, type JobDefinitionDefaults } from '../jobs/definition.ts'
import { JobErrors } from '../jobs/errors.ts'
import { JobEvents } from '../jobs/events.ts'
import { queueJobRun } from '../jobs/queue-run.ts'
import { isFinalRunState, JobStore } from '../jobs/store.ts'
import { artifactName, SOURCE_ARCHIVE_ARTIFACT, type JobDefinition, type JobRun } from '../jobs/types.ts'
import type { ArtifactMeta, ArtifactStore } from '../plugin/kinds.ts'
import type { AdminContext, MutationResult } from './context.ts'
import type { AdminJobsDeps } from './types.ts'
import { compact, eventView, iso } from './views.ts'

// The job RPCs: definitions and runs in the backend's records (JobStore), runs queued
// through the process's one enqueue path, events through JobEvents, artifacts from the
// registered artifact store. The runner (the switchyard.job task handler) does the
// work; this area only stores, queues, cancels and reads.

const DEFAULT_JOBS_LIMIT = 100
const DEFAULT_RUNS_LIMIT = 100
const DEFAULT_EVENTS_LIMIT = 25
/** runs of a job examined for the latest one holding an artifact */
const ARTIFACT_RUN_SCAN = 50

export const DEFAULT_JOB_DEFAULTS: Omit<JobDefinitionDefaults, 'queue'> = {
  retries: 0, timeoutSeconds: 600, memoryBytes: 512 * 1024 * 1024, cpus: 1, pids: 256
}

export function jobView (job: JobDefinition): JobViewT {
  return compact({
    name: job.name,
    description: job.description,
    source: job.source,
    repo: job.repo,
    tag: job.tag,
    tarballUrl: job.tarballUrl,
    tarballPath: job.tarballPath,
    tarballSha256: job.tarballSha256,
    path: job.path,
    dockerfile: job.dockerfile,
    command: [...job.command],
    env: [...job.env],
    queue: job.queue,
    retries: job.retries,
    timeoutSeconds: job.timeoutSeconds,
    resources: { memoryBytes: job.resources.memoryBytes ?? 0, cpus: job.resources.cpus ?? 0, pids: job.resources.pids ?? 0 },
    network: job.network,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt)
  })
}

function artifactView (runId: string | undefined, meta: ArtifactMeta): JobArtifactViewT {
  return {
    name: runId === undefined ? basename(meta.key) : artifactName(runId, meta.key),
    key: meta.key,
    size: meta.size,
    sha256: meta.sha256,
    contentType: meta.contentType,
    createdAt: iso(meta.createdAt)
  }
}

export function runView (run: JobRun): JobRunViewT {
  const optionalIso = (ms: number | undefined): string | undefined => ms === undefined ? undefined : iso(ms)
  return compact({
    id: run.id,
    job: run.job,
    state: run.state,
    taskId: run.taskId,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    trigger: run.trigger,
    queuedAt: iso(run.queuedAt),
    startedAt: optionalIso(run.startedAt),
    finishedAt: optionalIso(run.finishedAt),
    durationMs: run.durationMs,
    exitCode: run.exitCode,
    revision: run.revision,
    sourceSha256: run.sourceSha256,
    imageId: run.imageId,
    imageCached: run.imageCached,
    containerId: run.containerId,
    error: run.error,
    cancelRequestedAt: optionalIso(run.cancelRequestedAt),
    artifacts: run.artifacts.map(meta => artifactView(run.id, meta)),
    outputBytes: run.outputBytes,
    outputTruncated: run.outputTruncated,
    definition: jobView(run.definition)
  })
}

/** where an artifact comes from: the artifact store, or a tarball_path archive read from jobs.adminTarballDir */
type ArtifactSource =
  | { kind: 'store', store: ArtifactStore, runId: string, meta: ArtifactMeta }
  | { kind: 'file', path: string, meta: ArtifactMeta }

export class JobRpcs {
  private readonly defaults: JobDefinitionDefaults
  private readonly store: JobStore
  private readonly events: JobEvents

  constructor (private readonly ctx: AdminContext, private readonly deps: AdminJobsDeps = {}) {
    this.defaults = deps.defaults ?? { queue: ctx.info.defaultQueue, ...DEFAULT_JOB_DEFAULTS }
    this.store = new JobStore(ctx.backend)
    this.events = new JobEvents(ctx.backend, deps.eventStore ?? null)
  }

  private assertRecords (): void {
    const backend = this.ctx.backend
    if (!backend.capabilities.records) throw Errors.unsupported(`the ${backend.name} backend cannot store job definitions (records capability off)`, { details: { backend: backend.name } })
  }

  private async requireJob (name: string): Promise<JobDefinition> {
    this.assertRecords()
    const job = await this.store.getJob(assertJobName(name))
    if (job === null) throw JobErrors.jobNotFound(`job ${name} not found`, { details: { name } })
    return job
  }

  private async requireRun (runId: string): Promise<JobRun> {
    this.assertRecords()
    const run = await this.store.getRun(runId)
    if (run === null) throw JobErrors.runNotFound(`job run ${runId} not found`, { details: { runId } })
    return run
  }

  async upsert (request: RequestOf<'UpsertJob'>): Promise<MutationResult<ResponseOf<'UpsertJob'>>> {
    this.assertRecords()
    assertJobName(request.name)
    const existing = await this.store.getJob(request.name)
    const job = buildJobDefinition(request, this.defaults, Date.now(), existing)
    await this.store.putJob(job)
    const created = existing === null
    return {
      response: { job: jobView(job), created },
      target: job.name,
      events: [{ type: created ? 'job.created' : 'job.updated', data: { job: job.name, source: job.source } }],
      auditResult: { created }
    }
  }

  async get (request: RequestOf<'GetJob'>): Promise<ResponseOf<'GetJob'>> {
    return { job: jobView(await this.requireJob(request.name)) }
  }

  async list (request: RequestOf<'ListJobs'>): Promise<ResponseOf<'ListJobs'>> {
    this.assertRecords()
    const limit = request.limit ?? DEFAULT_JOBS_LIMIT
    // one more than asked says whether a next page exists
    const jobs = await this.store.listJobs(limit + 1, request.afterName)
    const page = jobs.slice(0, limit)
    return compact({ jobs: page.map(jobView), nextAfterName: jobs.length > limit ? page.at(-1)?.name : undefined })
  }

  async remove (request: RequestOf<'DeleteJob'>): Promise<MutationResult<ResponseOf<'DeleteJob'>>> {
    this.assertRecords()
    // Runs stay: they are the job's history, and a running one finishes as queued.
    const deleted = await this.store.deleteJob(assertJobName(request.name))
    return {
      response: { name: request.name, deleted },
      events: deleted ? [{ type: 'job.deleted', data: { job: request.name } }] : [],
      auditResult: { deleted }
    }
  }

  async run (request: RequestOf<'RunJob'>): Promise<MutationResult<ResponseOf<'RunJob'>>> {
    const job = await this.requireJob(request.name)
    const run = await queueJobRun({ store: this.store, events: this.events, enqueuer: this.ctx.enqueuer }, job, 'admin')
    return {
      response: { run: runView(run), taskId: run.taskId },
      target: job.name,
      auditResult: { runId: run.id, taskId: run.taskId }
    }
  }

  async listRuns (request: RequestOf<'ListJobRuns'>): Promise<ResponseOf<'ListJobRuns'>> {
    this.assertRecords()
    const limit = request.limit ?? DEFAULT_RUNS_LIMIT
    const runs = await this.store.listRuns({ limit: limit + 1, ...(request.job === undefined ? {} : { job: request.job }), ...(request.afterId === undefined ? {} : { afterId: request.afterId }) })
    const page = runs.slice(0, limit)
    return compact({ runs: page.map(runView), nextAfterId: runs.length > limit ? page.at(-1)?.id : undefined })
  }

  async getRun (request: RequestOf<'GetJobRun'>): Promise<ResponseOf<'GetJobRun'>> {
    return { run: runView(await this.requireRun(request.runId)) }
  }

  /**
   * A queued run whose task no worker took is canceled at once (the task cancel wins
   * atomically or is refused); otherwise the run is marked cancel-requested and the
   * runner, which watches the record, stops the container. Canceling a canceled run
   * answers already_canceled; any other finished run is a 409 CONFLICT.
   */
  async cancelRun (request: RequestOf<'CancelJobRun'>): Promise<MutationResult<ResponseOf<'CancelJobRun'>>> {
    const run = await this.requireRun(request.runId)
    const target = `${run.job}/${run.id}`
    if (run.state === 'canceled') return { response: { run: runView(run), outcome: 'already_canceled' }, target, auditResult: { outcome: 'already_canceled' } }
    if (isFinalRunState(run.state)) {
      throw Errors.conflict(`job run ${run.id} already ${run.state}: only queued or running runs can be canceled`, { details: { runId: run.id, state: run.state } })
    }
    if (run.state === 'queued' && run.taskId !== '') {
      const result = await this.ctx.backend.cancelTask(run.taskId)
      if (result.outcome === 'canceled' || (result.outcome === 'conflict' && result.state === 'canceled')) {
        const now = Date.now()
        const canceled = await this.store.updateRun(run.id, current => isFinalRunState(current.state)
          ? null
          : { ...current, state: 'canceled', finishedAt: now, cancelRequestedAt: current.cancelRequestedAt ?? now, error: 'canceled before it started' })
        await this.events.append([{ type: 'job.finished', data: { job: run.job, runId: run.id, state: 'canceled', error: 'canceled before it started' } }])
        return { response: { run: runView(canceled ?? run), outcome: 'canceled' }, target, events: [{ type: 'task.canceled', data: { id: run.taskId } }], auditResult: { outcome: 'canceled' } }
      }
      // A worker took the task first: the run is starting, so it is stopped like a running one.
    }
    const now = Date.now()
    const requested = await this.store.updateRun(run.id, current => current.cancelRequestedAt !== undefined || isFinalRunState(current.state) ? null : { ...current, cancelRequestedAt: now })
    const after = requested ?? run
    if (after.state === 'canceled') return { response: { run: runView(after), outcome: 'already_canceled' }, target, auditResult: { outcome: 'already_canceled' } }
    if (isFinalRunState(after.state)) {
      throw Errors.conflict(`job run ${run.id} finished (${after.state}) before the cancel arrived`, { details: { runId: run.id, state: after.state } })
    }
    await this.events.append([{ type: 'job.cancel_requested', data: { job: run.job, runId: run.id } }])
    return { response: { run: runView(after), outcome: 'cancel_requested' }, target, auditResult: { outcome: 'cancel_requested' } }
  }

  async listEvents (request: RequestOf<'ListJobEvents'>): Promise<ResponseOf<'ListJobEvents'>> {
    const events = await this.events.list({
      limit: request.limit ?? DEFAULT_EVENTS_LIMIT,
      ...(request.name === undefined ? {} : { job: request.name }),
      ...(request.runId === undefined ? {} : { runId: request.runId }),
      ...(request.afterId === undefined ? {} : { afterId: request.afterId })
    })
    return { events: events.map(eventView) }
  }

  async artifactMeta (request: RequestOf<'GetJobArtifactMeta'>): Promise<ResponseOf<'GetJobArtifactMeta'>> {
    const source = await this.findArtifact(request)
    return compact({
      job: request.name,
      runId: source.kind === 'store' ? source.runId : undefined,
      artifact: artifactView(source.kind === 'store' ? source.runId : undefined, source.meta)
    })
  }

  /** the artifact in chunks of at most ARTIFACT_CHUNK_BYTES; the first carries its metadata */
  async * artifactChunks (request: RequestOf<'GetJobArtifact'>, signal?: AbortSignal): AsyncGenerator<JobArtifactChunkT> {
    const source = await this.findArtifact(request)
    const content = source.kind === 'store'
      ? await source.store.open(source.meta.key)
      : createReadStream(source.path, { highWaterMark: ARTIFACT_CHUNK_BYTES, ...(signal === undefined ? {} : { signal }) })
    if (content === null) throw JobErrors.artifactNotFound(`artifact ${source.meta.key} is listed on its run but the artifact store no longer has it`, { details: { key: source.meta.key } })
    let first: Omit<JobArtifactChunkT, 'dataBase64'> | null = {
      contentType: source.meta.contentType,
      filename: basename(source.meta.key),
      size: source.meta.size,
      sha256: source.meta.sha256
    }
    for await (const piece of content as AsyncIterable<Uint8Array>) {
      if (signal?.aborted === true) return
      const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
      for (let at = 0; at < bytes.length; at += ARTIFACT_CHUNK_BYTES) {
        yield { ...(first ?? {}), dataBase64: bytes.subarray(at, at + ARTIFACT_CHUNK_BYTES).toString('base64') }
        first = null
      }
    }
    if (first !== null) yield { ...first, dataBase64: '' }
  }

  private async findArtifact (request: { name: string, runId?: string, artifact?: string }): Promise<ArtifactSource> {
    const wanted = request.artifact ?? SOURCE_ARCHIVE_ARTIFACT
    const store = this.deps.artifactStore ?? null
    if (request.runId !== undefined) {
      const run = await this.requireRun(request.runId)
      if (run.job !== request.name) throw JobErrors.runNotFound(`job run ${request.runId} is not a run of ${request.name}`, { details: { runId: request.runId, name: request.name } })
      const meta = run.artifacts.find(item => artifactName(run.id, item.key) === wanted)
      if (meta === undefined) throw JobErrors.artifactNotFound(`run ${run.id} of ${run.job} stored no artifact ${wanted} (it has: ${run.artifacts.map(item => artifactName(run.id, item.key)).join(', ') || 'none'})`, { details: { runId: run.id, artifact: wanted } })
      return { kind: 'store', store: this.requireStore(store), runId: run.id, meta: await this.currentMeta(this.requireStore(store), meta) }
    }
    const job = await this.requireJob(request.name)
    const runs = await this.store.listRuns({ job: job.name, limit: ARTIFACT_RUN_SCAN })
    for (const run of runs) {
      const meta = run.artifacts.find(item => artifactName(run.id, item.key) === wanted)
      if (meta !== undefined) return { kind: 'store', store: this.requireStore(store), runId: run.id, meta: await this.currentMeta(this.requireStore(store), meta) }
    }
    // A split gateway needs no shared mount, but a tarball_path job that never ran can
    // still offer its archive from where the admin service can read it.
    if (request.artifact === undefined && job.source === 'tarball_path' && job.tarballPath !== undefined && this.deps.adminTarballDir != null) {
      return await this.tarballFile(job, this.deps.adminTarballDir)
    }
    if (store === null) this.requireStore(store)
    throw JobErrors.artifactNotFound(`no recent run of ${job.name} stored an artifact ${wanted}`, { details: { name: job.name, artifact: wanted } })
  }

  private requireStore (store: ArtifactStore | null): ArtifactStore {
    if (store === null) throw JobErrors.artifactStoreNotConfigured('no artifact store is registered: add an artifact store plugin to read job artifacts', { details: {} })
    return store
  }

  /** the store's own metadata when it has it (the run's copy was taken when it was stored) */
  private async currentMeta (store: ArtifactStore, recorded: ArtifactMeta): Promise<ArtifactMeta> {
    const current = await store.stat(recorded.key)
    if (current === null) throw JobErrors.artifactNotFound(`artifact ${recorded.key} is listed on its run but the artifact store no longer has it`, { details: { key: recorded.key } })
    return current
  }

  private async tarballFile (job: JobDefinition, dir: string): Promise<ArtifactSource> {
    const root = await realpath(dir).catch(() => null)
    const path = job.tarballPath as string
    const candidate = root === null ? null : await realpath(isAbsolute(path) ? path : resolve(root, path)).catch(() => null)
    const inside = root !== null && candidate !== null && !relative(root, candidate).startsWith('..') && !isAbsolute(relative(root, candidate)) && (candidate === root || candidate.startsWith(root + sep))
    const info = inside ? await stat(candidate).catch(() => null) : null
    if (candidate === null || info === null || !info.isFile()) {
      throw JobErrors.artifactNotFound(`the archive of ${job.name} is not a file inside jobs.adminTarballDir and no run stored it`, { details: { name: job.name } })
    }
    const hash = createHash('sha256')
    for await (const piece of createReadStream(candidate)) hash.update(piece as Buffer)
    return { kind: 'file', path: candidate, meta: { key: basename(candidate), size: info.size, sha256: hash.digest('hex'), contentType: 'application/octet-stream', createdAt: info.mtimeMs } }
  }
}
