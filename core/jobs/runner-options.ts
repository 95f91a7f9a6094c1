import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Errors } from '../errors.ts'

// Settings of the job runner. The `jobs` config section (WORKER_JOB_*) feeds them in
// core/app.ts; tests and embedders pass them directly.

export interface JobRunnerOptions {
  /** parent of the per-run work directories (source, /artifacts); each is removed after its run */
  workdir: string
  /** combined stdout+stderr kept per run (WORKER_JOB_OUTPUT_BYTES); the rest is cut with a marker */
  outputBytes: number
  /** container network when the definition names none (WORKER_JOB_NETWORK) */
  network: string
  /** SIGTERM → SIGKILL grace when a container is stopped (timeout, cancel, shutdown) */
  stopGraceMs: number
  /** bytes of /artifacts files stored per run; files past it are skipped and listed on job.finished */
  artifactMaxBytes: number
  /** files of /artifacts stored per run at most */
  artifactMaxFiles: number
  /** the registered container runtime to use; null: the only one registered */
  runtime: string | null
  /** image builds are stopped after this long */
  buildTimeoutMs: number
  /** 'uid:gid' the container runs as, never root; '' leaves it to the runtime's default user */
  user: string
  /** how often a running attempt reads its run record for a cancel request */
  cancelPollMs: number
  /** how often orphaned containers and abandoned runs are looked for */
  reapIntervalMs: number
  /** output events carry at most this many bytes each */
  outputChunkBytes: number
  /** output is sent as events at most this often */
  outputFlushMs: number
}

export const DEFAULT_JOB_RUNNER_OPTIONS: JobRunnerOptions = {
  workdir: join(tmpdir(), 'switchyard-jobs'),
  outputBytes: 1024 * 1024,
  network: 'none',
  stopGraceMs: 10_000,
  artifactMaxBytes: 64 * 1024 * 1024,
  artifactMaxFiles: 1000,
  runtime: null,
  buildTimeoutMs: 10 * 60_000,
  user: '',
  cancelPollMs: 500,
  reapIntervalMs: 30_000,
  outputChunkBytes: 16 * 1024,
  outputFlushMs: 250
}

const POSITIVE_FIELDS = ['outputBytes', 'stopGraceMs', 'artifactMaxBytes', 'artifactMaxFiles', 'buildTimeoutMs', 'cancelPollMs', 'reapIntervalMs', 'outputChunkBytes', 'outputFlushMs'] as const

/** The defaults with `input` over them, checked: a bad setting names its field. */
export function resolveJobRunnerOptions (input: Partial<JobRunnerOptions> = {}): JobRunnerOptions {
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<JobRunnerOptions>
  const options: JobRunnerOptions = { ...DEFAULT_JOB_RUNNER_OPTIONS, ...defined }
  for (const field of POSITIVE_FIELDS) {
    const value = options[field]
    if (!Number.isInteger(value) || value <= 0) throw Errors.validation(`jobs runner: ${field} must be a positive integer, got ${String(value)}`, { details: { field: `jobs.${field}` } })
  }
  if (options.workdir === '') throw Errors.validation('jobs runner: workdir must not be empty', { details: { field: 'jobs.workdir' } })
  if (options.network === '') throw Errors.validation('jobs runner: network must not be empty (use "none")', { details: { field: 'jobs.network' } })
  if (options.user !== '' && !/^[1-9][0-9]*:[1-9][0-9]*$/.test(options.user)) throw Errors.validation(`jobs runner: user must be a non-root 'uid:gid', got "${options.user}"`, { details: { field: 'jobs.user' } })
  return options
}
