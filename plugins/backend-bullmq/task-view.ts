import type { LeasedTask, ParentFailurePolicy, Task, TaskError, TaskState } from '@switchyard/core'
import { META } from './keys.ts'

// Reading a BullMQ job hash as a Switchyard task. BullMQ priority 1 is the most
// urgent and 0 means "no priority" (the plain wait list, served before every
// prioritized job); Switchyard's higher-runs-first -1000..1000 maps onto 2001..1,
// so a plain BullMQ job without priority reads as 1001, ahead of every Switchyard task.
export const PRIORITY_BASE = 1001
/** the timeout of a job that names none: every job of other BullMQ producers, and Switchyard tasks with this one (left out to keep the job hash compact) */
export const DEFAULT_TIMEOUT_MS = 5 * 60_000
/** errors kept per task, newest first */
export const MAX_ERRORS = 20

export type JobHash = Record<string, string>

export interface SwitchyardMeta {
  /** timeoutMs */
  t?: number
  /** idempotency key */
  k?: string
  /** runAt as enqueued */
  r?: number
  /** tenant */
  tn?: string
  /** correlation id */
  ci?: string
}

export function toBullPriority (priority: number): number {
  return PRIORITY_BASE - priority
}

export function hashFromFlat (flat: string[]): JobHash {
  const hash: JobHash = {}
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string
  return hash
}

function int (value: string | undefined): number | null {
  if (value === undefined || value === '') return null
  const n = Number(value)
  return Number.isFinite(n) ? Math.trunc(n) : null
}

function parseJson (text: string | undefined, fallback: unknown): unknown {
  if (text === undefined) return fallback
  try { return JSON.parse(text) } catch { return fallback }
}

export function jobOpts (hash: JobHash): Record<string, unknown> {
  const opts = parseJson(hash.opts, {})
  return opts !== null && typeof opts === 'object' ? opts as Record<string, unknown> : {}
}

export function jobMeta (hash: JobHash): SwitchyardMeta | null {
  const meta = jobOpts(hash)[META]
  return meta !== null && typeof meta === 'object' ? meta as SwitchyardMeta : null
}

export function storedErrors (hash: JobHash): TaskError[] {
  const stored = parseJson(hash.sye, null)
  if (Array.isArray(stored)) return stored as TaskError[]
  // a job failed by plain BullMQ code: only its last reason is known
  if (hash.failedReason !== undefined && hash.failedReason !== '') {
    return [{ attempt: int(hash.atm) ?? 1, message: hash.failedReason, at: int(hash.finishedOn) ?? int(hash.timestamp) ?? 0 }]
  }
  return []
}

function runAtOf (hash: JobHash, meta: SwitchyardMeta | null, delayedScore: number | null): number {
  // BullMQ's delayed score is (run time << 12) + a tie-breaking counter
  if (delayedScore !== null) return Math.floor(delayedScore / 0x1000)
  return int(hash.syra) ?? meta?.r ?? ((int(hash.timestamp) ?? 0) + (int(hash.delay) ?? 0))
}

const FINISHED: ReadonlySet<TaskState> = new Set(['succeeded', 'dead', 'canceled'])

export function taskFromHash (id: string, queue: string, state: TaskState, hash: JobHash, delayedScore: number | null): Task {
  const meta = jobMeta(hash)
  const opts = jobOpts(hash)
  const createdAt = int(hash.timestamp) ?? 0
  const processedOn = int(hash.processedOn)
  const finishedOn = int(hash.finishedOn)
  const data = hash.data ?? 'null'
  return {
    id,
    queue,
    handler: hash.name ?? '',
    payload: parseJson(data, null),
    state,
    attempts: int(hash.ats) ?? 0,
    // BullMQ's default of 0 attempts means one run
    maxAttempts: typeof opts.attempts === 'number' ? Math.max(1, opts.attempts) : 1,
    priority: PRIORITY_BASE - (int(hash.priority) ?? 0),
    runAt: runAtOf(hash, meta, delayedScore),
    idempotencyKey: meta?.k ?? null,
    timeoutMs: meta?.t ?? DEFAULT_TIMEOUT_MS,
    // BullMQ keeps failedReason when a retry succeeds; a succeeded task shows no stale error (errors keeps the history)
    lastError: state === 'succeeded' || hash.failedReason === undefined || hash.failedReason === '' ? null : hash.failedReason,
    errors: storedErrors(hash),
    createdAt,
    updatedAt: Math.max(createdAt, processedOn ?? 0, finishedOn ?? 0, int(hash.syu) ?? 0),
    startedAt: processedOn,
    finishedAt: FINISHED.has(state) ? finishedOn : null,
    leaseExpiresAt: state === 'processing' ? int(hash.syx) : null,
    workerId: hash.pb ?? null,
    replays: int(hash.syr) ?? 0,
    payloadSize: Buffer.byteLength(data),
    ...resultAndProgress(state, hash),
    ...(typeof meta?.tn === 'string' ? { tenant: meta.tn } : {}),
    ...(typeof meta?.ci === 'string' ? { correlationId: meta.ci } : {}),
    ...dependencies(hash)
  }
}

/** a child's parents and policy, as lua/deps.lua keeps them on its job hash */
function dependencies (hash: JobHash): { dependsOn?: string[], onParentFailure?: ParentFailurePolicy } {
  if (hash.sydp === undefined || hash.sydp === '') return {}
  const parents = parseJson(hash.sydp, [])
  return {
    dependsOn: Array.isArray(parents) ? parents.map(String) : [],
    onParentFailure: hash.sypf === 'dead' ? 'dead' : 'cancel'
  }
}

/**
 * BullMQ's `returnvalue` (BullMQ writes "null" when a processor returns nothing, which
 * reads as no result) and `progress` (updateProgress, ours or a plain BullMQ worker's).
 */
function resultAndProgress (state: TaskState, hash: JobHash): { result?: unknown, progress?: unknown } {
  const out: { result?: unknown, progress?: unknown } = {}
  if (state === 'succeeded' && hash.returnvalue !== undefined) {
    const result = parseJson(hash.returnvalue, null)
    if (result !== null) out.result = result
  }
  if (hash.progress !== undefined) {
    const progress = parseJson(hash.progress, null)
    if (progress !== null) out.progress = progress
  }
  return out
}

/**
 * The lease view of a job just moved to active. On the lease path, so the job's
 * options are parsed once and nothing a lease does not carry is computed.
 */
export function leasedFromHash (id: string, queue: string, hash: JobHash, opts: Record<string, unknown>, leaseToken: string, leaseExpiresAt: number): LeasedTask {
  const meta = opts[META] !== null && typeof opts[META] === 'object' ? opts[META] as SwitchyardMeta : null
  return {
    id,
    queue,
    handler: hash.name ?? '',
    payload: parseJson(hash.data ?? 'null', null),
    attempts: int(hash.ats) ?? 0,
    // BullMQ's default of 0 attempts means one run
    maxAttempts: typeof opts.attempts === 'number' ? Math.max(1, opts.attempts) : 1,
    priority: PRIORITY_BASE - (int(hash.priority) ?? 0),
    timeoutMs: meta?.t ?? DEFAULT_TIMEOUT_MS,
    createdAt: int(hash.timestamp) ?? 0,
    runAt: runAtOf(hash, meta, null),
    leaseToken,
    leaseExpiresAt
  }
}

/** the case-insensitive substring match of TaskFilter.query */
export function matchesQuery (task: Task, query: string): boolean {
  const needle = query.toLowerCase()
  return task.id.toLowerCase().includes(needle) ||
    task.handler.toLowerCase().includes(needle) ||
    JSON.stringify(task.payload).toLowerCase().includes(needle) ||
    (task.lastError ?? '').toLowerCase().includes(needle)
}
