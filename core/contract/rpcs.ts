import type { Static, TSchema } from 'typebox'
import * as M from './messages.ts'
import { HTTP_ROUTES, type HttpBinding, type RouteName } from './routes.ts'

export type { HttpBinding } from './routes.ts'

// The admin contract v1 in one table. Transports are generic over it: the gRPC
// server registers every entry by name, the HTTP gateway mounts every entry at its
// route (its HTTP route comes from routes.ts, by name), the OpenAPI document and the
// drift test read it. An RPC that is not in this table does not exist.

export type Role = 'viewer' | 'operator' | 'admin'
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 }

export interface RpcDefinition<Req extends TSchema = TSchema, Res extends TSchema = TSchema> {
  name: string
  /** request message name in the proto */
  requestType: string
  /** response (or stream item) message name in the proto */
  responseType: string
  request: Req
  response: Res
  http: HttpBinding
  /** mutations are refused in read-only mode, need approval when required, and are audited */
  kind: 'read' | 'mutation'
  minRole: Role
  /** audit action recorded for mutations */
  auditAction?: string
  /** server stream of `response` items */
  stream?: true
  summary: string
}

function rpc<N extends RouteName, Req extends TSchema, Res extends TSchema> (
  name: N, request: Req, response: Res, rest: Omit<RpcDefinition<Req, Res>, 'name' | 'request' | 'response' | 'requestType' | 'responseType' | 'http'> & { responseType?: string }
): RpcDefinition<Req, Res> & { http: (typeof HTTP_ROUTES)[N] } {
  return { name, requestType: `${name}Request`, responseType: rest.responseType ?? `${name}Response`, request, response, http: HTTP_ROUTES[name], ...rest }
}

const read = { kind: 'read', minRole: 'viewer' } as const

export const RPCS = {
  GetHealth: rpc('GetHealth', M.GetHealthRequest, M.GetHealthResponse, {
    ...read, summary: 'status, version, commit, Node version, backend, uptime'
  }),
  GetOverview: rpc('GetOverview', M.GetOverviewRequest, M.GetOverviewResponse, {
    ...read, summary: 'totals, queues, workers, latency, action counters, coordination'
  }),
  ListQueues: rpc('ListQueues', M.ListQueuesRequest, M.ListQueuesResponse, {
    ...read, summary: 'every queue with counts, weight and pause flag'
  }),
  GetQueue: rpc('GetQueue', M.GetQueueRequest, M.GetQueueResponse, {
    ...read, summary: 'one queue'
  }),
  UpdateQueueWeight: rpc('UpdateQueueWeight', M.UpdateQueueWeightRequest, M.UpdateQueueWeightResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.weight.update',
    summary: 'store a queue weight override'
  }),
  ResetQueueWeight: rpc('ResetQueueWeight', M.ResetQueueWeightRequest, M.ResetQueueWeightResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.weight.reset',
    summary: 'drop a queue weight override'
  }),
  PauseQueue: rpc('PauseQueue', M.PauseQueueRequest, M.PauseQueueResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.pause',
    summary: 'pause or resume a queue'
  }),
  ListScheduleFactories: rpc('ListScheduleFactories', M.ListScheduleFactoriesRequest, M.ListScheduleFactoriesResponse, {
    ...read, summary: 'registered schedule factories'
  }),
  ListSchedules: rpc('ListSchedules', M.ListSchedulesRequest, M.ListSchedulesResponse, {
    ...read, summary: 'schedules with next/previous run and last status'
  }),
  CreateSchedule: rpc('CreateSchedule', M.CreateScheduleRequest, M.CreateScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.upsert',
    summary: 'create or update a schedule (by name; it must match a registered factory)'
  }),
  DeleteSchedule: rpc('DeleteSchedule', M.DeleteScheduleRequest, M.DeleteScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.delete',
    summary: 'delete a schedule'
  }),
  PauseSchedule: rpc('PauseSchedule', M.PauseScheduleRequest, M.PauseScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.pause',
    summary: 'pause or resume a schedule'
  }),
  RunSchedule: rpc('RunSchedule', M.RunScheduleRequest, M.RunScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.run',
    summary: 'run a schedule now'
  }),
  PauseSchedules: rpc('PauseSchedules', M.PauseSchedulesRequest, M.PauseSchedulesResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'schedule.pause_all',
    summary: 'pause or resume every schedule'
  }),
  ListScheduleEvents: rpc('ListScheduleEvents', M.ListScheduleEventsRequest, M.ListScheduleEventsResponse, {
    ...read, summary: 'recent schedule history'
  }),
  ListDLQ: rpc('ListDLQ', M.ListDLQRequest, M.ListDLQResponse, {
    ...read, summary: 'dead tasks, most recently failed first'
  }),
  GetDLQStats: rpc('GetDLQStats', M.GetDLQStatsRequest, M.GetDLQStatsResponse, {
    ...read, summary: 'DLQ totals by queue and handler'
  }),
  GetDLQEntry: rpc('GetDLQEntry', M.GetDLQEntryRequest, M.GetDLQEntryResponse, {
    ...read, summary: 'one DLQ entry'
  }),
  ReplayDLQ: rpc('ReplayDLQ', M.ReplayDLQRequest, M.ReplayDLQResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'dlq.replay',
    summary: 'replay dead tasks by filter'
  }),
  ReplayDLQByID: rpc('ReplayDLQByID', M.ReplayDLQByIDRequest, M.ReplayDLQByIDResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'dlq.replay_ids',
    summary: 'replay chosen dead tasks, optionally with a new payload or queue'
  }),
  DeleteDLQEntry: rpc('DeleteDLQEntry', M.DeleteDLQEntryRequest, M.DeleteDLQEntryResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dlq.delete',
    summary: 'delete one DLQ entry for good'
  }),
  PurgeDLQ: rpc('PurgeDLQ', M.PurgeDLQRequest, M.PurgeDLQResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dlq.purge',
    summary: 'delete DLQ entries for good by filter and age, with a dry run'
  }),
  PauseDequeue: rpc('PauseDequeue', M.PauseDequeueRequest, M.PauseDequeueResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dequeue.pause',
    summary: 'pause durable dequeue cluster-wide'
  }),
  ResumeDequeue: rpc('ResumeDequeue', M.ResumeDequeueRequest, M.ResumeDequeueResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dequeue.resume',
    summary: 'resume durable dequeue cluster-wide'
  }),
  ListTasks: rpc('ListTasks', M.ListTasksRequest, M.ListTasksResponse, {
    ...read, summary: 'tasks by state, queue, handler, text, time window, tenant or correlation id'
  }),
  GetTask: rpc('GetTask', M.GetTaskRequest, M.GetTaskResponse, {
    ...read, summary: 'one task with payload, errors and timeline'
  }),
  EnqueueTask: rpc('EnqueueTask', M.EnqueueTaskRequest, M.EnqueueTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.enqueue',
    summary: 'enqueue a durable task'
  }),
  GetTaskGraph: rpc('GetTaskGraph', M.GetTaskGraphRequest, M.GetTaskGraphResponse, {
    ...read, summary: 'a task\'s dependency graph: ancestors, descendants and their links'
  }),
  CancelTask: rpc('CancelTask', M.CancelTaskRequest, M.CancelTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.cancel',
    summary: 'cancel a task no worker has started'
  }),
  RetryTask: rpc('RetryTask', M.RetryTaskRequest, M.RetryTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.retry',
    summary: 'run a dead, retrying or canceled task again now'
  }),
  GetTaskByKey: rpc('GetTaskByKey', M.GetTaskByKeyRequest, M.GetTaskByKeyResponse, {
    ...read, summary: 'the task holding an idempotency key'
  }),
  CancelTaskByKey: rpc('CancelTaskByKey', M.CancelTaskByKeyRequest, M.CancelTaskByKeyResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.cancel',
    summary: 'cancel the task holding an idempotency key, if no worker has started it'
  }),
  DeleteTaskByKey: rpc('DeleteTaskByKey', M.DeleteTaskByKeyRequest, M.DeleteTaskByKeyResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.delete',
    summary: 'delete the task holding an idempotency key (not while it runs), freeing the key'
  }),
  ListWorkers: rpc('ListWorkers', M.ListWorkersRequest, M.ListWorkersResponse, {
    ...read, summary: 'live worker processes (and with includeStale those that stopped heartbeating)'
  }),
  ListAuditEvents: rpc('ListAuditEvents', M.ListAuditEventsRequest, M.ListAuditEventsResponse, {
    ...read, summary: 'audit events, newest first'
  }),
  ExportAudit: rpc('ExportAudit', M.ExportAuditRequest, M.ExportAuditResponse, {
    kind: 'read', minRole: 'operator',
    summary: 'download audit events as jsonl, json or csv'
  }),
  GetMetrics: rpc('GetMetrics', M.GetMetricsRequest, M.GetMetricsResponse, {
    ...read,
    summary: 'task, queue and admin metrics as JSON, or as Prometheus text (format=prometheus or /metrics/prometheus)'
  }),
  StreamEvents: rpc('StreamEvents', M.StreamEventsRequest, M.AdminEvent, {
    ...read, stream: true, responseType: 'AdminEvent',
    summary: 'server stream of admin events; resumable by id'
  }),
  GetSession: rpc('GetSession', M.GetSessionRequest, M.GetSessionResponse, {
    ...read, summary: 'the caller\'s identity and role, read-only and approval state, backend and capabilities, versions'
  }),
  ListEvents: rpc('ListEvents', M.ListEventsRequest, M.ListEventsResponse, {
    ...read, summary: 'the persisted event log, audit events included, filtered by type, target and time; newest first or after an id'
  }),
  GetMetricsHistory: rpc('GetMetricsHistory', M.GetMetricsHistoryRequest, M.GetMetricsHistoryResponse, {
    ...read, summary: 'per-minute (1h, 24h) or hourly (7d, 30d) task counts and queue depths, cluster-wide'
  }),
  ListJobs: rpc('ListJobs', M.ListJobsRequest, M.ListJobsResponse, {
    ...read, summary: 'job definitions by name'
  }),
  GetJob: rpc('GetJob', M.GetJobRequest, M.GetJobResponse, {
    ...read, summary: 'one job definition'
  }),
  // Definitions decide what code runs in containers: only admins change them.
  UpsertJob: rpc('UpsertJob', M.UpsertJobRequest, M.UpsertJobResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'job.upsert',
    summary: 'create or replace a job definition'
  }),
  DeleteJob: rpc('DeleteJob', M.DeleteJobRequest, M.DeleteJobResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'job.delete',
    summary: 'delete a job definition (its runs are kept)'
  }),
  RunJob: rpc('RunJob', M.RunJobRequest, M.RunJobResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'job.run',
    summary: 'queue a run of a job'
  }),
  ListJobRuns: rpc('ListJobRuns', M.ListJobRunsRequest, M.ListJobRunsResponse, {
    ...read, summary: 'job runs, newest first'
  }),
  GetJobRun: rpc('GetJobRun', M.GetJobRunRequest, M.GetJobRunResponse, {
    ...read, summary: 'one job run'
  }),
  CancelJobRun: rpc('CancelJobRun', M.CancelJobRunRequest, M.CancelJobRunResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'job.run.cancel',
    summary: 'cancel a queued run, or stop a running one'
  }),
  ListJobEvents: rpc('ListJobEvents', M.ListJobEventsRequest, M.ListJobEventsResponse, {
    ...read, summary: 'job.* events of a job or run, oldest first'
  }),
  GetJobArtifactMeta: rpc('GetJobArtifactMeta', M.GetJobArtifactMetaRequest, M.GetJobArtifactMetaResponse, {
    ...read, summary: 'size, SHA-256 and time of a job artifact (default: the latest source archive)'
  }),
  GetJobArtifact: rpc('GetJobArtifact', M.GetJobArtifactRequest, M.JobArtifactChunk, {
    ...read, stream: true, responseType: 'JobArtifactChunk',
    summary: 'download a job artifact: a stream of chunks over gRPC, the file itself on the gateway'
  }),
  BulkTaskAction: rpc('BulkTaskAction', M.BulkTaskActionRequest, M.BulkTaskActionResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.bulk',
    summary: 'cancel, retry, delete, run now, reschedule or move many tasks by ids or by the task filter; dryRun reports the exact set'
  }),
  DrainQueue: rpc('DrainQueue', M.DrainQueueRequest, M.BulkTaskActionResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.drain', responseType: 'BulkTaskActionResponse',
    summary: 'delete a queue\'s ready tasks (and with includeScheduled its scheduled and retrying ones); dryRun reports the exact set'
  }),
  RescheduleTask: rpc('RescheduleTask', M.RescheduleTaskRequest, M.RescheduleTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.reschedule',
    summary: 'change a waiting task\'s runAt, priority or maxAttempts'
  }),
  CordonWorker: rpc('CordonWorker', M.CordonWorkerRequest, M.CordonWorkerResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'worker.cordon',
    summary: 'cordon a worker: it finishes what it runs and leases nothing more'
  }),
  UncordonWorker: rpc('UncordonWorker', M.UncordonWorkerRequest, M.UncordonWorkerResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'worker.uncordon',
    summary: 'uncordon a worker: it leases again'
  }),
  ReleaseWorkerLeases: rpc('ReleaseWorkerLeases', M.ReleaseWorkerLeasesRequest, M.ReleaseWorkerLeasesResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'worker.release_leases',
    summary: 'recover a dead worker\'s leased tasks now instead of at lease expiry (refused while it heartbeats, unless force)'
  }),
  SweepWorkers: rpc('SweepWorkers', M.SweepWorkersRequest, M.SweepWorkersResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'worker.sweep',
    summary: 'remove stale worker entries (stopped heartbeating), optionally only those older than an age'
  }),
  ListRateLimits: rpc('ListRateLimits', M.ListRateLimitsRequest, M.ListRateLimitsResponse, {
    ...read, summary: 'per-queue and per-handler flow limits with running, started, saturation and throttled tasks'
  }),
  SetFlowLimit: rpc('SetFlowLimit', M.SetFlowLimitRequest, M.SetFlowLimitResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'flow.limit.set',
    summary: 'create or replace a cluster-wide concurrency and/or rate limit of a queue or handler'
  }),
  ClearFlowLimit: rpc('ClearFlowLimit', M.ClearFlowLimitRequest, M.ClearFlowLimitResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'flow.limit.clear',
    summary: 'remove the flow limit of a queue or handler'
  })
} as const satisfies Record<RouteName, RpcDefinition> // every route is an RPC's

export type Rpcs = typeof RPCS
export type RpcName = keyof Rpcs
export const RPC_NAMES = Object.keys(RPCS) as RpcName[]
export const RPC_LIST: readonly RpcDefinition[] = Object.values(RPCS)

/** the RPCs whose `stream` is true, at the type level (a test checks it matches the table) */
export type StreamRpcName = 'StreamEvents' | 'GetJobArtifact'
export const STREAM_RPC_NAMES: readonly StreamRpcName[] = ['StreamEvents', 'GetJobArtifact']

export type RequestOf<N extends RpcName> = Static<Rpcs[N]['request']>
export type ResponseOf<N extends RpcName> = Static<Rpcs[N]['response']>

export function getRpc (name: string): RpcDefinition | undefined {
  return Object.hasOwn(RPCS, name) ? RPCS[name as RpcName] : undefined
}

/** request fields bound to `:params` of the HTTP path */
export function pathParams (def: RpcDefinition): string[] {
  return [...def.http.path.matchAll(/:([A-Za-z][A-Za-z0-9]*)/g)].map(match => match[1] as string)
}
