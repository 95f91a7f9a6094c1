import type { AuditEvent, CoordinationState, QueueStats, StoredEvent, Task, WorkerInfo } from '../backend/types.ts'
import type { Static } from 'typebox'
import type {
  AdminEventT, AuditEventViewT, CoordinationView, QueueSummaryT, TaskSummaryT, TaskViewT, TimelineEntryT, WorkerViewT
} from '../contract/messages.ts'
import type { AdminInfo } from './types.ts'

// Backend records → contract messages: epoch ms become RFC 3339, nulls become absent
// fields, JSON values stay JSON values (a missing one is null, as JSON.stringify wrote it).

export function iso (ms: number): string {
  return new Date(ms).toISOString()
}

function isoOrAbsent (ms: number | null): string | undefined {
  return ms === null ? undefined : iso(ms)
}

function present<T> (value: T | null): T | undefined {
  return value === null ? undefined : value
}

/** drops keys whose value is undefined, so optional fields are absent rather than undefined */
export function compact<T extends object> (value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) {
    if (value[key] === undefined) delete value[key]
  }
  return value
}

function jsonValue (value: unknown): unknown {
  return value === undefined ? null : value
}

export function emptyQueueStats (name: string): QueueStats {
  return { name, ready: 0, scheduled: 0, processing: 0, retrying: 0, dead: 0, succeeded: 0, canceled: 0, blocked: 0, weight: null, paused: false }
}

export function queueSummary (stats: QueueStats, info: AdminInfo): QueueSummaryT {
  const defaultWeight = info.weightDefaults(stats.name)
  const summary: QueueSummaryT = {
    name: stats.name,
    ready: stats.ready,
    scheduled: stats.scheduled,
    processing: stats.processing,
    retrying: stats.retrying,
    dead: stats.dead,
    succeeded: stats.succeeded,
    canceled: stats.canceled,
    blocked: stats.blocked ?? 0,
    weight: stats.weight ?? defaultWeight,
    defaultWeight,
    weightOverridden: stats.weight !== null,
    paused: stats.paused
  }
  // assigned, not spread in: a literal with a spread is built through a slower, allocating path
  if (stats.throttled !== undefined) summary.throttled = stats.throttled
  return summary
}

export function taskSummary (task: Task): TaskSummaryT {
  return compact({
    id: task.id,
    queue: task.queue,
    handler: task.handler,
    state: task.state,
    attempts: task.attempts,
    maxAttempts: task.maxAttempts,
    priority: task.priority,
    runAt: iso(task.runAt),
    createdAt: iso(task.createdAt),
    updatedAt: iso(task.updatedAt),
    finishedAt: isoOrAbsent(task.finishedAt),
    lastError: present(task.lastError),
    replays: task.replays,
    payloadSize: task.payloadSize,
    progress: task.progress,
    tenant: task.tenant,
    correlationId: task.correlationId
  })
}

export function taskView (task: Task): TaskViewT {
  return compact({
    id: task.id,
    queue: task.queue,
    handler: task.handler,
    payload: jsonValue(task.payload),
    state: task.state,
    attempts: task.attempts,
    maxAttempts: task.maxAttempts,
    priority: task.priority,
    runAt: iso(task.runAt),
    idempotencyKey: present(task.idempotencyKey),
    timeoutMs: task.timeoutMs,
    lastError: present(task.lastError),
    errors: task.errors.map(error => compact({ attempt: error.attempt, message: error.message, at: iso(error.at), stack: error.stack })),
    createdAt: iso(task.createdAt),
    updatedAt: iso(task.updatedAt),
    startedAt: isoOrAbsent(task.startedAt),
    finishedAt: isoOrAbsent(task.finishedAt),
    leaseExpiresAt: isoOrAbsent(task.leaseExpiresAt),
    workerId: present(task.workerId),
    replays: task.replays,
    payloadSize: task.payloadSize,
    result: task.result,
    progress: task.progress,
    dependsOn: task.dependsOn ?? [],
    onParentFailure: task.onParentFailure,
    tenant: task.tenant,
    correlationId: task.correlationId
  })
}

/**
 * The life of a task as far as its stored record tells it: creation, the run time
 * when it was delayed, each failed attempt the backend kept, the start of the latest
 * attempt and the end. Built from the record alone so it costs one read.
 */
export function taskTimeline (task: Task): TimelineEntryT[] {
  const entries: Array<TimelineEntryT & { ms: number }> = [{ ms: task.createdAt, at: iso(task.createdAt), event: 'created', detail: `queue ${task.queue}` }]
  if (task.attempts === 0 && task.runAt > task.createdAt) {
    entries.push({ ms: task.runAt, at: iso(task.runAt), event: 'scheduled', detail: 'earliest run time' })
  }
  for (const error of [...task.errors].reverse()) {
    entries.push({ ms: error.at, at: iso(error.at), event: 'failed', detail: `attempt ${error.attempt}: ${error.message}` })
  }
  if (task.startedAt !== null) {
    entries.push({ ms: task.startedAt, at: iso(task.startedAt), event: 'started', detail: `attempt ${task.attempts}` })
  }
  if (task.finishedAt !== null) {
    entries.push({ ms: task.finishedAt, at: iso(task.finishedAt), event: 'finished', detail: task.state })
  }
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => a.entry.ms - b.entry.ms || a.index - b.index)
    .map(({ entry: { ms: _ms, ...rest } }) => rest)
}

export function workerView (worker: WorkerInfo): WorkerViewT {
  return {
    id: worker.id,
    host: worker.host,
    pid: worker.pid,
    version: worker.version,
    queues: worker.queues,
    concurrency: worker.concurrency,
    inFlight: worker.inFlight,
    startedAt: iso(worker.startedAt),
    lastHeartbeatAt: iso(worker.lastHeartbeatAt),
    handlers: worker.handlers ?? [],
    cordoned: worker.cordoned === true,
    stale: worker.stale === true
  }
}

export function auditView (event: AuditEvent): AuditEventViewT {
  return compact({
    id: event.id,
    time: iso(event.time),
    action: event.action,
    target: event.target,
    actor: event.actor,
    requestId: event.requestId,
    outcome: event.outcome,
    error: event.error,
    params: jsonValue(event.params)
  })
}

export function eventView (event: StoredEvent): AdminEventT {
  return { id: event.id, type: event.type, time: iso(event.time), data: jsonValue(event.data) }
}

// every overview shows it: the optional field is left out rather than deleted (see compact)
export function coordinationView (state: CoordinationState): Static<typeof CoordinationView> {
  const leaders = state.leaders.map(lock => ({ name: lock.name, holder: lock.holder, token: lock.token, expiresAt: iso(lock.expiresAt) }))
  return state.rateLimit === null
    ? { globalPaused: state.globalPaused, leaders }
    : { globalPaused: state.globalPaused, rateLimit: { limit: state.rateLimit.limit, windowMs: state.rateLimit.windowMs }, leaders }
}
