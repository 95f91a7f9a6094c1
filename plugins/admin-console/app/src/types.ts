// The contract's response shapes the console reads (core/contract/messages.ts is the
// source; only the fields used here are listed).
export interface QueueSummary { name: string, ready: number, scheduled: number, processing: number, retrying: number, dead: number, succeeded: number, canceled: number, blocked?: number, throttled?: number, weight: number, defaultWeight: number, weightOverridden: boolean, paused: boolean }
export interface TaskSummary { id: string, queue: string, handler: string, state: string, attempts: number, maxAttempts: number, priority: number, runAt: string, createdAt: string, updatedAt: string, finishedAt?: string, lastError?: string, replays: number, payloadSize: number, progress?: unknown }
export interface TaskView extends TaskSummary { payload: unknown, idempotencyKey?: string, timeoutMs: number, errors: Array<{ attempt: number, message: string, at: string, stack?: string }>, startedAt?: string, leaseExpiresAt?: string, workerId?: string, result?: unknown, dependsOn?: string[], onParentFailure?: string }
export interface TimelineEntry { at: string, event: string, detail?: string }
export interface Overview {
  generatedAt: string
  totals: Record<'ready' | 'processing' | 'scheduled' | 'retrying' | 'dead' | 'succeeded' | 'canceled', number> & { blocked?: number }
  queues: QueueSummary[]
  activeWorkers?: number
  inFlight?: number
  latency: { source: string, samples: number, windowSeconds: number, avgMs?: number, p95Ms?: number }
  actions: { since: string, pauses: number, resumes: number, replays: number, replayedTasks: number }
  coordination?: { globalPaused: boolean, rateLimit?: { limit: number, windowMs: number }, leaders: Array<{ name: string, holder: string, token: number, expiresAt: string }> }
  unservedHandlers: Array<{ queue: string, handler: string }>
}
/** selection: ReplayDLQ's (by filter) count and digest of the set, sent back as expectedSelection to confirm it */
export interface ReplayResult { dryRun: boolean, count: number, replayed: string[], skipped: Array<{ id: string, reason: string, state?: string }>, selection?: string }
export interface Schedule { name: string, spec: string, timezone: string, durable: boolean, paused: boolean, overlap: string, catchUp: string, nextRunAt?: string, previousRunAt?: string, lastStatus: string, lastError?: string, lastTaskId?: string, fired: number, skipped: number, failed: number, factoryRegistered: boolean }
export interface ScheduleEvent { schedule: string, at: string, type: string, instant?: string, taskId?: string, reason?: string, count?: number }
export interface Worker { id: string, host: string, pid: number, version: string, queues: string[], concurrency: number, inFlight: number, startedAt: string, lastHeartbeatAt: string, handlers: string[], cordoned?: boolean, stale?: boolean }
export interface AuditEvent { id: string, time: string, action: string, target: string, actor: string, requestId: string, outcome: string, error?: string, params: unknown }
export interface Health { status: string, version: string, commit: string, nodeVersion: string, backend: string, uptimeSeconds: number, startedAt: string, backendError?: string }

export interface MetricsHistory { window: string, stepSeconds: number, queue?: string, from: string, to: string, points: Array<{ time: string, counts: Record<'enqueued' | 'succeeded' | 'failed' | 'dead' | 'replayed', number> }>, queues: string[] }

export const TASK_STATES = ['scheduled', 'ready', 'processing', 'retrying', 'succeeded', 'dead', 'canceled', 'blocked'] as const

export interface JobResources { memoryBytes: number, cpus: number, pids: number }
export interface Job { name: string, description: string, source: 'git_tag' | 'tarball_url' | 'tarball_path', repo?: string, tag?: string, tarballUrl?: string, tarballPath?: string, tarballSha256?: string, path: string, dockerfile: string, command: string[], env: string[], queue: string, retries: number, timeoutSeconds: number, resources: JobResources, network?: string, createdAt: string, updatedAt: string }
export interface JobArtifact { name: string, key: string, size: number, sha256: string, contentType: string, createdAt: string }
export interface JobRun { id: string, job: string, state: string, taskId: string, attempt: number, maxAttempts: number, trigger: string, queuedAt: string, startedAt?: string, finishedAt?: string, durationMs?: number, exitCode?: number, revision?: string, sourceSha256?: string, imageId?: string, imageCached?: boolean, containerId?: string, error?: string, cancelRequestedAt?: string, artifacts: JobArtifact[], outputBytes?: number, outputTruncated?: boolean, definition: Job }
export interface JobEvent { id: string, type: string, time: string, data: { job?: string, runId?: string, text?: string, state?: string, [k: string]: unknown } }

/** the tenant and correlation id a task may carry (TaskSummary and TaskView) */
export interface TaskTags { tenant?: string, correlationId?: string }
export interface SkippedTask { id: string, reason: string, state?: string }
export const TASK_ACTIONS = ['cancel', 'retry', 'delete', 'run_now', 'reschedule', 'move'] as const
export type TaskAction = typeof TASK_ACTIONS[number]
export interface BulkResult { dryRun: boolean, action: string, count: number, changed: string[], skipped: SkippedTask[], sample: TaskSummary[], limitReached: boolean, selection: string }
export interface PurgeResult { dryRun: boolean, count: number, sample: string[], more: boolean, limit: number, selection: string }
export interface TaskGraph { id: string, nodes: Array<{ id: string, handler: string, queue: string, state: string }>, edges: Array<{ parent: string, child: string }>, truncated: boolean }
