// The shapes every part of the job capability shares: the definition operators store,
// the run record the runner advances, and the names of the records and events they
// live in. Contract messages (contract/messages.ts) mirror these; the runner
// (jobs/runner.ts), the admin area (admin/jobs.ts) and the plugins (sources, runtime,
// stores) all read and write these shapes and nothing else.
import type { ArtifactMeta, JobSourceKind } from '../plugin/kinds.ts'

export type { JobSourceKind } from '../plugin/kinds.ts'

/** records collection of job definitions, keyed by job name */
export const JOBS_COLLECTION = 'jobs'
/** records collection of job runs, keyed by run id (ids sort newest first) */
export const JOB_RUNS_COLLECTION = 'job_runs'
/** handler name of the durable task a RunJob enqueues; the runner registers it */
export const JOB_TASK_HANDLER = 'switchyard.job'
/** container label naming the run a container belongs to (reaping, lookups) */
export const RUN_LABEL = 'io.switchyard.run'
/** container label naming the job */
export const JOB_LABEL = 'io.switchyard.job'
/** container label naming the worker process that started the container */
export const WORKER_LABEL = 'io.switchyard.worker'
/** image label holding the build cache key (source digest, path, dockerfile) */
export const CACHE_KEY_LABEL = 'io.switchyard.cache-key'

export interface JobResources {
  /** container memory limit in bytes */
  memoryBytes?: number
  /** CPU share, e.g. 0.5 or 2 */
  cpus?: number
  /** maximum number of processes in the container */
  pids?: number
}

export interface JobDefinition {
  /** 1-64 of a-z, 0-9, '-', '_', '.', starting with a letter or digit */
  name: string
  description: string
  source: JobSourceKind
  repo?: string
  tag?: string
  tarballUrl?: string
  tarballPath?: string
  /** hex SHA-256 the archive must have */
  tarballSha256?: string
  /** build context inside the source, relative, default '.' */
  path: string
  /** Dockerfile relative to the build context, default 'Dockerfile' */
  dockerfile: string
  /** overrides the image's CMD when not empty */
  command: string[]
  /** 'NAME=value' entries */
  env: string[]
  queue: string
  /** further attempts after the first failed one */
  retries: number
  timeoutSeconds: number
  resources: JobResources
  /** container network; absent: the configured default (jobs.network, 'none' by default) */
  network?: string
  /** epoch ms */
  createdAt: number
  updatedAt: number
}

export type JobRunState = 'queued' | 'fetching' | 'building' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'canceled'
export const FINAL_RUN_STATES: readonly JobRunState[] = ['succeeded', 'failed', 'timed_out', 'canceled']

export interface JobRun {
  /** sorts newest first (see newRunId) */
  id: string
  job: string
  state: JobRunState
  /** the durable task that carries the run */
  taskId: string
  /** 1 for the first attempt, +1 per retry of the task */
  attempt: number
  /** attempts the run may take in all (retries + 1) */
  maxAttempts: number
  /** the definition as it was when the run was queued (a later edit does not change a run) */
  definition: JobDefinition
  /** what triggered it: 'admin' (RunJob), 'schedule:<name>' */
  trigger: string
  queuedAt: number
  startedAt?: number
  finishedAt?: number
  durationMs?: number
  exitCode?: number
  /** git commit SHA of a git_tag source */
  revision?: string
  /** SHA-256 of a tarball source */
  sourceSha256?: string
  imageId?: string
  /** true when the image came from the build cache */
  imageCached?: boolean
  containerId?: string
  /** why the run failed, timed out or was canceled */
  error?: string
  /** epoch ms when CancelJobRun asked; the runner stops the container when it sees it */
  cancelRequestedAt?: number
  /** artifacts stored for the run: the source archive, output.log, files written to /artifacts */
  artifacts: ArtifactMeta[]
  /** combined output bytes produced, and whether it was cut at jobs.outputBytes */
  outputBytes?: number
  outputTruncated?: boolean
}

/** A run id that sorts newest first: inverted epoch ms (13 digits) and random hex. */
export function newRunId (now = Date.now()): string {
  const inverted = (9_999_999_999_999 - now).toString().padStart(13, '0')
  const random = Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0')
  return `${inverted}-${random}`
}

/** artifact name (within its run) the runner stores a tarball source's archive under; GetJobArtifact's default */
export const SOURCE_ARCHIVE_ARTIFACT = 'source.tar'

/** the name of an artifact within its run: its key without the run's prefix */
export function artifactName (runId: string, key: string): string {
  const prefix = `runs/${runId}/`
  return key.startsWith(prefix) ? key.slice(prefix.length) : key
}

/** Artifact keys of a run: one prefix per run, so a run's artifacts are listed and removed together. */
export function runArtifactKey (runId: string, name: string): string {
  return `runs/${runId}/${name}`
}
