import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { PACKAGE_VERSION } from '../package-files.ts'
import { Errors } from '../errors.ts'
import { assertName } from '../tasks/enqueue.ts'
import { DEFAULT_RESULT_MAX_BYTES, RESULT_MAX_BYTES_CEILING } from '../backend/results.ts'
import { DEFAULT_RETRY_POLICY, validateRetryPolicy, type RetryPolicy } from './backoff.ts'

export interface WorkerOptions {
  /** unique per process; shown in the worker registry and stored on leased tasks */
  id: string
  /** queues to work, or null for every queue the backend knows (re-read every queueRefreshMs) */
  queues: string[] | null
  /** handlers running at once */
  concurrency: number
  /** most tasks taken by one lease call */
  batchSize: number
  leaseMs: number
  /** how often the leases of running tasks are extended (below leaseMs; default leaseMs / 3) */
  leaseRenewMs: number
  /** idle wait between leases when no work notification arrives */
  pollMs: number
  /** how often this worker recovers expired leases (of any worker) */
  recoveryMs: number
  /** how often this worker reports itself to the worker registry; it drops out after 3 missed beats */
  heartbeatMs: number
  /** on stop, how long in-flight tasks may still run before they are aborted and released */
  shutdownGraceMs: number
  retry: RetryPolicy
  /** the effective weight of a queue given its stored override (null: none) */
  weightOf: (queue: string, stored: number | null) => number
  version: string
  /** how often queue weights (and, with queues null, the queue list) are re-read */
  queueRefreshMs: number
  /** acks and failures are written together at least this often */
  ackFlushMs: number
  ackBatchSize: number
  /** upper bound of every backend call the worker makes */
  backendTimeoutMs: number
  /** largest handler result stored (bytes of its JSON); a larger one is dropped, the task still succeeds */
  resultMaxBytes: number
  /** least time between two progress writes of one task (ctx.progress calls in between coalesce, the latest wins) */
  progressIntervalMs: number
}

export type WorkerOptionsInput = Partial<Omit<WorkerOptions, 'retry'>> & { retry?: Partial<RetryPolicy> }

const packageVersion = PACKAGE_VERSION

export const DEFAULT_WORKER_OPTIONS: Omit<WorkerOptions, 'id'> = {
  queues: null,
  concurrency: 10,
  batchSize: 50,
  leaseMs: 30_000,
  leaseRenewMs: 10_000,
  pollMs: 1_000,
  recoveryMs: 5_000,
  heartbeatMs: 5_000,
  shutdownGraceMs: 10_000,
  retry: DEFAULT_RETRY_POLICY,
  weightOf: (_queue, stored) => stored ?? 1,
  version: packageVersion,
  queueRefreshMs: 5_000,
  ackFlushMs: 5,
  ackBatchSize: 500,
  backendTimeoutMs: 15_000,
  resultMaxBytes: DEFAULT_RESULT_MAX_BYTES,
  progressIntervalMs: 500
}

function defaultWorkerId (): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
}

function integer (field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw Errors.validation(`worker.${field}: must be an integer from ${min} to ${max}`, { details: { field: `worker.${field}` } })
  }
  return value
}

const DAY = 24 * 3600_000

/** Fills defaults and validates; throws VALIDATION_FAILED naming the field. */
export function resolveWorkerOptions (input: WorkerOptionsInput = {}): WorkerOptions {
  const o = { ...DEFAULT_WORKER_OPTIONS, ...stripUndefined(input), retry: { ...DEFAULT_RETRY_POLICY, ...stripUndefined(input.retry ?? {}) } }
  const id = input.id ?? defaultWorkerId()
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw Errors.validation('worker.id: must be a string of 1-200 characters', { details: { field: 'worker.id' } })
  }
  let queues: string[] | null = null
  if (o.queues !== null) {
    if (!Array.isArray(o.queues) || o.queues.length === 0 || o.queues.length > 1000) {
      throw Errors.validation('worker.queues: must be null (every queue) or a list of 1-1000 queue names', { details: { field: 'worker.queues' } })
    }
    queues = [...new Set(o.queues.map((q, i) => assertName(`worker.queues[${i}]`, q)))]
  }
  integer('concurrency', o.concurrency, 1, 10_000)
  integer('batchSize', o.batchSize, 1, 1000)
  integer('leaseMs', o.leaseMs, 100, DAY)
  // Renewing at a third of the lease leaves two chances before it expires.
  if (input.leaseRenewMs === undefined) o.leaseRenewMs = Math.max(10, Math.floor(o.leaseMs / 3))
  integer('leaseRenewMs', o.leaseRenewMs, 10, o.leaseMs - 1)
  integer('pollMs', o.pollMs, 1, 3600_000)
  integer('recoveryMs', o.recoveryMs, 10, DAY)
  integer('heartbeatMs', o.heartbeatMs, 10, DAY)
  integer('shutdownGraceMs', o.shutdownGraceMs, 0, DAY)
  integer('queueRefreshMs', o.queueRefreshMs, 10, DAY)
  integer('ackFlushMs', o.ackFlushMs, 0, 10_000)
  integer('ackBatchSize', o.ackBatchSize, 1, 10_000)
  integer('backendTimeoutMs', o.backendTimeoutMs, 10, 3600_000)
  integer('resultMaxBytes', o.resultMaxBytes, 0, RESULT_MAX_BYTES_CEILING)
  integer('progressIntervalMs', o.progressIntervalMs, 0, 3600_000)
  validateRetryPolicy(o.retry, 'worker.retry')
  if (typeof o.weightOf !== 'function') throw Errors.validation('worker.weightOf: must be a function', { details: { field: 'worker.weightOf' } })
  if (typeof o.version !== 'string') throw Errors.validation('worker.version: must be a string', { details: { field: 'worker.version' } })
  return { ...o, id, queues }
}

function stripUndefined<T extends object> (value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
