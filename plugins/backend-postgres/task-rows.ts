import type { ParentFailurePolicy, Task, TaskError, TaskState } from '@switchyard/core'

// Times leave the database as epoch ms (the ms() helper) and ids as text, so the
// same mapping works for pg and PGlite whatever their type parsers do.

export function taskColumns (s: string, alias = 't'): string {
  const a = alias
  return `${a}.id::text AS id, ${a}.queue, ${a}.handler, ${a}.payload, ${a}.state, ${a}.attempts, ${a}.max_attempts, ${a}.priority,
    ${s}.ms(${a}.run_at) AS run_at, ${a}.idempotency_key, ${a}.timeout_ms, ${a}.last_error, ${a}.errors,
    ${s}.ms(${a}.created_at) AS created_at, ${s}.ms(${a}.updated_at) AS updated_at, ${s}.ms(${a}.started_at) AS started_at,
    ${s}.ms(${a}.finished_at) AS finished_at, ${s}.ms(${a}.lease_expires_at) AS lease_expires_at, ${a}.worker_id,
    ${a}.replays, ${a}.payload_size, ${a}.result, ${a}.progress, ${a}.depends_on::text[] AS depends_on, ${a}.on_parent_failure, ${a}.tenant, ${a}.correlation_id`
}

export interface TaskRow {
  id: string
  queue: string
  handler: string
  payload: unknown
  state: TaskState
  attempts: number
  max_attempts: number
  priority: number
  run_at: number
  idempotency_key: string | null
  timeout_ms: number
  last_error: string | null
  errors: TaskError[] | null
  created_at: number
  updated_at: number
  started_at: number | null
  finished_at: number | null
  lease_expires_at: number | null
  worker_id: string | null
  replays: number
  payload_size: number
  result: unknown
  progress: unknown
  depends_on: string[] | null
  on_parent_failure: ParentFailurePolicy | null
  tenant: string | null
  correlation_id: string | null
}

export function toTask (r: TaskRow): Task {
  return {
    id: r.id,
    queue: r.queue,
    handler: r.handler,
    payload: r.payload,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    priority: r.priority,
    runAt: r.run_at,
    idempotencyKey: r.idempotency_key,
    timeoutMs: r.timeout_ms,
    lastError: r.last_error,
    errors: r.errors ?? [],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    leaseExpiresAt: r.lease_expires_at,
    workerId: r.worker_id,
    replays: r.replays,
    payloadSize: r.payload_size,
    // SQL NULL is "none"; a stored JSON null never happens (core sends none for it)
    ...(r.result === null || r.result === undefined ? {} : { result: r.result }),
    ...(r.progress === null || r.progress === undefined ? {} : { progress: r.progress }),
    ...(r.depends_on === null || r.depends_on === undefined || r.depends_on.length === 0
      ? {}
      : { dependsOn: r.depends_on, onParentFailure: r.on_parent_failure ?? 'cancel' }),
    ...(r.tenant === null || r.tenant === undefined ? {} : { tenant: r.tenant }),
    ...(r.correlation_id === null || r.correlation_id === undefined ? {} : { correlationId: r.correlation_id })
  }
}
