// The HTTP route of every admin RPC: method, path and where each request field travels.
// Plain data without schemas, so the CLI's HTTP client can load it without the message
// schemas (and their validator); the RPC table (rpcs.ts) takes each RPC's route from
// here, so both read the same entries, and a test checks the two tables name the same RPCs.

export interface HttpBinding {
  method: 'GET' | 'POST' | 'DELETE'
  /** fastify style; `:param` names a request field */
  path: string
  /** request fields read from the JSON body; every other non-path field comes from the query string */
  bodyFields?: readonly string[]
  /** request fields read from a request header (lower-case header name), e.g. SSE's Last-Event-ID */
  headerFields?: Readonly<Record<string, string>>
  /** the response is a file: serve `body` with `contentType` (and `filename`, when given, as attachment) */
  download?: true
  /** list body fields left out are empty lists, as over gRPC (proto3 has no absent list) */
  emptyListsWhenAbsent?: true
  /** more routes for the same RPC, each with request fields fixed by the route */
  aliases?: ReadonlyArray<{ path: string, fields: Readonly<Record<string, string>> }>
}

export const HTTP_ROUTES = {
  GetHealth: { method: 'GET', path: '/admin/v1/health' },
  GetOverview: { method: 'GET', path: '/admin/v1/overview' },
  ListQueues: { method: 'GET', path: '/admin/v1/queues' },
  GetQueue: { method: 'GET', path: '/admin/v1/queues/:name' },
  UpdateQueueWeight: { method: 'POST', path: '/admin/v1/queues/:name/weight', bodyFields: ['weight'] },
  ResetQueueWeight: { method: 'DELETE', path: '/admin/v1/queues/:name/weight' },
  PauseQueue: { method: 'POST', path: '/admin/v1/queues/:name/pause', bodyFields: ['paused'] },
  ListScheduleFactories: { method: 'GET', path: '/admin/v1/schedules/factories' },
  ListSchedules: { method: 'GET', path: '/admin/v1/schedules' },
  CreateSchedule: { method: 'POST', path: '/admin/v1/schedules', bodyFields: ['name', 'spec', 'durable', 'timezone', 'paused', 'overlap', 'catchUp'] },
  DeleteSchedule: { method: 'DELETE', path: '/admin/v1/schedules/:name' },
  PauseSchedule: { method: 'POST', path: '/admin/v1/schedules/:name/pause', bodyFields: ['paused'] },
  RunSchedule: { method: 'POST', path: '/admin/v1/schedules/:name/run' },
  PauseSchedules: { method: 'POST', path: '/admin/v1/schedules/pause', bodyFields: ['paused', 'dryRun'] },
  ListScheduleEvents: { method: 'GET', path: '/admin/v1/schedules/events' },
  ListDLQ: { method: 'GET', path: '/admin/v1/dlq' },
  GetDLQStats: { method: 'GET', path: '/admin/v1/dlq/stats' },
  GetDLQEntry: { method: 'GET', path: '/admin/v1/dlq/:id' },
  ReplayDLQ: { method: 'POST', path: '/admin/v1/dlq/replay', bodyFields: ['limit', 'queue', 'handler', 'targetQueue', 'dryRun', 'query', 'since', 'until', 'timeField', 'expectedSelection'] },
  ReplayDLQByID: { method: 'POST', path: '/admin/v1/dlq/replay/ids', bodyFields: ['ids', 'payload', 'targetQueue', 'dryRun', 'payloads'] },
  DeleteDLQEntry: { method: 'DELETE', path: '/admin/v1/dlq/:id' },
  PurgeDLQ: { method: 'POST', path: '/admin/v1/dlq/purge', bodyFields: ['queue', 'handler', 'query', 'since', 'until', 'timeField', 'olderThan', 'limit', 'dryRun', 'expectedSelection'] },
  PauseDequeue: { method: 'POST', path: '/admin/v1/pause' },
  ResumeDequeue: { method: 'POST', path: '/admin/v1/resume' },
  ListTasks: { method: 'GET', path: '/admin/v1/tasks' },
  GetTask: { method: 'GET', path: '/admin/v1/tasks/:id' },
  EnqueueTask: { method: 'POST', path: '/admin/v1/tasks', bodyFields: ['handler', 'queue', 'payload', 'maxAttempts', 'priority', 'timeoutMs', 'runAt', 'delayMs', 'idempotencyKey', 'idempotencyMode', 'tenant', 'correlationId', 'dependsOn'] },
  GetTaskGraph: { method: 'GET', path: '/admin/v1/tasks/:id/graph' },
  CancelTask: { method: 'POST', path: '/admin/v1/tasks/:id/cancel' },
  RetryTask: { method: 'POST', path: '/admin/v1/tasks/:id/retry' },
  GetTaskByKey: { method: 'GET', path: '/admin/v1/tasks/by-key/:key' },
  CancelTaskByKey: { method: 'POST', path: '/admin/v1/tasks/by-key/:key/cancel' },
  DeleteTaskByKey: { method: 'DELETE', path: '/admin/v1/tasks/by-key/:key' },
  ListWorkers: { method: 'GET', path: '/admin/v1/workers' },
  ListAuditEvents: { method: 'GET', path: '/admin/v1/audit' },
  ExportAudit: { method: 'GET', path: '/admin/v1/audit/export', download: true },
  GetMetrics: { method: 'GET', path: '/admin/v1/metrics', download: true, aliases: [{ path: '/admin/v1/metrics/prometheus', fields: { format: 'prometheus' } }] },
  StreamEvents: { method: 'GET', path: '/admin/v1/events', headerFields: { afterId: 'last-event-id' } },
  GetSession: { method: 'GET', path: '/admin/v1/session' },
  ListEvents: { method: 'GET', path: '/admin/v1/events/log' },
  GetMetricsHistory: { method: 'GET', path: '/admin/v1/metrics/history' },
  ListJobs: { method: 'GET', path: '/admin/v1/jobs' },
  GetJob: { method: 'GET', path: '/admin/v1/jobs/:name' },
  UpsertJob: {
    method: 'POST',
    path: '/admin/v1/jobs',
    bodyFields: ['name', 'description', 'source', 'repo', 'tag', 'tarballUrl', 'tarballPath', 'tarballSha256', 'path', 'dockerfile', 'command', 'env', 'queue', 'retries', 'timeoutSeconds', 'resources', 'network'],
    emptyListsWhenAbsent: true
  },
  DeleteJob: { method: 'DELETE', path: '/admin/v1/jobs/:name' },
  RunJob: { method: 'POST', path: '/admin/v1/jobs/:name/run' },
  ListJobRuns: { method: 'GET', path: '/admin/v1/jobs/runs' },
  GetJobRun: { method: 'GET', path: '/admin/v1/jobs/runs/:runId' },
  CancelJobRun: { method: 'POST', path: '/admin/v1/jobs/runs/:runId/cancel' },
  ListJobEvents: { method: 'GET', path: '/admin/v1/jobs/events' },
  GetJobArtifactMeta: { method: 'GET', path: '/admin/v1/jobs/:name/artifact/meta' },
  GetJobArtifact: { method: 'GET', path: '/admin/v1/jobs/:name/artifact', download: true },
  BulkTaskAction: {
    method: 'POST',
    path: '/admin/v1/tasks/bulk',
    bodyFields: ['action', 'ids', 'filter', 'runAt', 'priority', 'maxAttempts', 'targetQueue', 'dryRun', 'expectedSelection'],
    emptyListsWhenAbsent: true
  },
  DrainQueue: { method: 'POST', path: '/admin/v1/queues/:name/drain', bodyFields: ['includeScheduled', 'limit', 'dryRun', 'expectedSelection'] },
  RescheduleTask: { method: 'POST', path: '/admin/v1/tasks/:id/reschedule', bodyFields: ['runAt', 'priority', 'maxAttempts'] },
  CordonWorker: { method: 'POST', path: '/admin/v1/workers/:id/cordon' },
  UncordonWorker: { method: 'POST', path: '/admin/v1/workers/:id/uncordon' },
  ReleaseWorkerLeases: { method: 'POST', path: '/admin/v1/workers/:id/release-leases', bodyFields: ['force', 'limit', 'dryRun'] },
  SweepWorkers: { method: 'POST', path: '/admin/v1/workers/sweep', bodyFields: ['olderThanMs', 'limit', 'dryRun'] },
  ListRateLimits: { method: 'GET', path: '/admin/v1/rate-limits' },
  SetFlowLimit: { method: 'POST', path: '/admin/v1/rate-limits', bodyFields: ['kind', 'name', 'concurrency', 'rateLimit', 'rateWindowMs'] },
  ClearFlowLimit: { method: 'DELETE', path: '/admin/v1/rate-limits/:kind/:name' }
} as const satisfies Record<string, HttpBinding>

export type RouteName = keyof typeof HTTP_ROUTES
