import { open, chmod, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { ArtifactMeta, ArtifactStore, ContainerRunResult, ContainerRuntime, FetchedJobSource, JobSource } from '../plugin/kinds.ts'
import type { Logger } from '../worker/logger.ts'
import type { JobEventInput, JobEventType } from './events.ts'
import { collectArtifacts, storeRegularFile, type SkippedArtifact } from './runner-artifacts.ts'
import { cacheKey, imageTag, resolveBuildContext, sourceDigest } from './runner-image.ts'
import type { JobRunnerOptions } from './runner-options.ts'
import { OutputEvents } from './runner-output.ts'
import { CACHE_KEY_LABEL, JOB_LABEL, RUN_LABEL, runArtifactKey, SOURCE_ARCHIVE_ARTIFACT, WORKER_LABEL, type JobRun } from './types.ts'

// One attempt of a run: fetch the source, build (or find) the image, run the
// container, keep its output and artifacts. The run record is advanced through the
// `update` callback and every step is announced as a job.* event; deciding what the
// outcome means for the run (retry, final state) is the caller's business.

/** a source whose fetch kept the archive it unpacked (tarball sources) */
type FetchedWithArchive = FetchedJobSource & { archivePath?: string }

export interface AttemptInput {
  run: JobRun
  attempt: number
  workDir: string
  workerId: string
  runtime: ContainerRuntime
  source: JobSource
  artifactStore: ArtifactStore | null
  options: JobRunnerOptions
  signal: AbortSignal
  log: Logger
  /** compare-and-set write of the run; answers the run as stored */
  update: (change: (run: JobRun) => JobRun) => Promise<JobRun>
  emit: (events: JobEventInput[]) => Promise<void>
}

export interface AttemptOutcome {
  /** the run as this attempt left it, with the container's fields (exit code, duration, output, artifacts) not yet stored */
  run: JobRun
  result: ContainerRunResult
  skippedArtifacts: SkippedArtifact[]
}

export async function runAttempt (input: AttemptInput): Promise<AttemptOutcome> {
  const { run: queued, attempt, runtime, options, signal } = input
  const definition = queued.definition
  const event = (type: JobEventType, fields: Record<string, unknown> = {}): JobEventInput =>
    ({ type, data: { job: queued.job, runId: queued.id, attempt, ...fields } })
  const artifacts = new Map<string, ArtifactMeta>(queued.artifacts.map(meta => [meta.key, meta]))

  // --- fetching
  let run = await input.update(current => {
    const { error: _error, exitCode: _exitCode, containerId: _containerId, finishedAt: _finishedAt, ...rest } = current
    return { ...rest, state: 'fetching', attempt }
  })
  await input.emit([event('job.fetching', { source: definition.source })])
  const sourceDir = join(input.workDir, 'source')
  await mkdir(sourceDir, { recursive: true })
  const fetched: FetchedWithArchive = await input.source.fetch({
    kind: definition.source,
    ...(definition.repo === undefined ? {} : { repo: definition.repo }),
    ...(definition.tag === undefined ? {} : { tag: definition.tag }),
    ...(definition.tarballUrl === undefined ? {} : { tarballUrl: definition.tarballUrl }),
    ...(definition.tarballPath === undefined ? {} : { tarballPath: definition.tarballPath }),
    ...(definition.tarballSha256 === undefined ? {} : { tarballSha256: definition.tarballSha256 }),
    destDir: sourceDir,
    signal
  })
  signal.throwIfAborted()
  if (fetched.archivePath !== undefined && input.artifactStore !== null) {
    // one name whatever the compression (GetJobArtifact's default); the content type tells
    const contentType = await isGzip(fetched.archivePath) ? 'application/gzip' : 'application/x-tar'
    const meta = await storeRegularFile(input.artifactStore, fetched.archivePath, runArtifactKey(queued.id, SOURCE_ARCHIVE_ARTIFACT), contentType)
    if (meta !== null) artifacts.set(meta.key, meta)
  }
  const digest = await sourceDigest(fetched)
  const key = cacheKey(digest, definition.path, definition.dockerfile)
  const tag = imageTag(key)
  // what the fetch found and the step to building, in one write and one append (each costs a round trip)
  run = await input.update(current => ({
    ...current,
    ...(fetched.revision === null ? {} : { revision: fetched.revision }),
    ...(fetched.sha256 === null ? {} : { sourceSha256: fetched.sha256 }),
    artifacts: [...artifacts.values()],
    state: 'building'
  }))
  await input.emit([event('job.fetched', { revision: fetched.revision, sha256: fetched.sha256 }), event('job.building', { tag })])

  // --- building
  const context = await resolveBuildContext(fetched, definition.path, definition.dockerfile)
  let imageId = await runtime.findImage(tag)
  const imageCached = imageId !== null
  if (imageId === null) {
    signal.throwIfAborted()
    imageId = (await runtime.buildImage({
      contextDir: context.contextDir,
      dockerfile: context.dockerfile,
      tag,
      labels: { [CACHE_KEY_LABEL]: key, [JOB_LABEL]: queued.job },
      timeoutMs: options.buildTimeoutMs,
      signal
    })).imageId
  }
  const builtImage = imageId

  // --- running
  signal.throwIfAborted()
  const artifactsDir = join(input.workDir, 'artifacts')
  await mkdir(artifactsDir)
  // the container runs as an unprivileged user that must be able to write there
  await chmod(artifactsDir, 0o777)
  const output = new OutputEvents({
    maxBytes: options.outputBytes,
    chunkBytes: options.outputChunkBytes,
    flushMs: options.outputFlushMs,
    send: async (texts) => { await input.emit(texts.map(text => event('job.output', { text }))) },
    onError: (err) => input.log.warn({ err, runId: queued.id }, 'job output events could not be appended')
  })
  const startedAt = Date.now()
  // the image and the step to running, in one write and one append
  run = await input.update(current => ({ ...current, imageId: builtImage, imageCached, state: 'running', startedAt }))
  await input.emit([event('job.built', { imageId, imageCached, tag }), event('job.started', { imageId, network: definition.network ?? options.network })])
  let recordContainer: Promise<unknown> = Promise.resolve()
  let result: ContainerRunResult
  try {
    result = await runtime.runContainer({
      image: imageId,
      command: definition.command,
      env: definition.env,
      labels: { [RUN_LABEL]: queued.id, [JOB_LABEL]: queued.job, [WORKER_LABEL]: input.workerId },
      user: options.user,
      ...(definition.resources.memoryBytes === undefined ? {} : { memoryBytes: definition.resources.memoryBytes }),
      ...(definition.resources.cpus === undefined ? {} : { cpus: definition.resources.cpus }),
      ...(definition.resources.pids === undefined ? {} : { pids: definition.resources.pids }),
      network: definition.network ?? options.network,
      timeoutMs: definition.timeoutSeconds * 1000,
      stopGraceMs: options.stopGraceMs,
      outputMaxBytes: options.outputBytes,
      artifactsDir,
      signal,
      onOutput: (chunk) => output.push(chunk),
      onCreated: (containerId) => {
        recordContainer = input.update(current => ({ ...current, containerId })).catch((err: unknown) => {
          input.log.warn({ err, runId: queued.id, containerId }, 'the container id could not be recorded on the run')
        })
      }
    })
  } finally {
    await recordContainer
  }
  // what the output events have not carried yet: the truncation marker, if any
  const rest = result.output.byteLength > output.bytes ? new TextDecoder().decode(result.output.subarray(output.bytes)) : undefined
  await output.close(rest)

  let skippedArtifacts: SkippedArtifact[] = []
  if (input.artifactStore !== null) {
    const store = input.artifactStore
    const logMeta = await store.put(runArtifactKey(queued.id, 'output.log'), result.output, { contentType: 'text/plain; charset=utf-8' })
    artifacts.set(logMeta.key, logMeta)
    const collected = await collectArtifacts({ dir: artifactsDir, store, runId: queued.id, maxBytes: options.artifactMaxBytes, maxFiles: options.artifactMaxFiles })
    for (const meta of collected.stored) artifacts.set(meta.key, meta)
    skippedArtifacts = collected.skipped
    for (const skipped of skippedArtifacts) input.log.warn({ runId: queued.id, artifact: skipped.name }, `artifact ${skipped.name} of run ${queued.id} not kept: ${skipped.reason}`)
  }
  // Not written here: the caller writes these fields with the outcome (final state, or
  // back to queued), in one write instead of two.
  run = {
    ...run,
    containerId: result.containerId,
    durationMs: Math.max(0, result.finishedAt - result.startedAt),
    outputBytes: result.outputBytes,
    outputTruncated: result.truncated,
    artifacts: [...artifacts.values()],
    ...(result.exitCode === null ? {} : { exitCode: result.exitCode })
  }
  return { run, result, skippedArtifacts }
}

async function isGzip (path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(2)
    const { bytesRead } = await handle.read(head, 0, 2, 0)
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b
  } finally {
    await handle.close()
  }
}
