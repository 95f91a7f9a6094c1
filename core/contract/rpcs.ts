import type { Static, TSchema } from 'typebox'
import * as M from './messages.ts'

// The admin contract v1 in one table. Transports are generic over it: the gRPC
// server registers every entry by name, the HTTP gateway mounts every entry at its
// route, the OpenAPI document and the drift test read it. An RPC that is not in this
// table does not exist.

export type Role = 'viewer' | 'operator' | 'admin'
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 }

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
  /** more routes for the same RPC, each with request fields fixed by the route */
  aliases?: ReadonlyArray<{ path: string, fields: Readonly<Record<string, string>> }>
}

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

function rpc<Req extends TSchema, Res extends TSchema> (
  name: string, request: Req, response: Res, rest: Omit<RpcDefinition<Req, Res>, 'name' | 'request' | 'response' | 'requestType' | 'responseType'> & { responseType?: string }
): RpcDefinition<Req, Res> {
  return { name, requestType: `${name}Request`, responseType: rest.responseType ?? `${name}Response`, request, response, ...rest }
}

const read = { kind: 'read', minRole: 'viewer' } as const

export const RPCS = {
  GetHealth: rpc('GetHealth', M.GetHealthRequest, M.GetHealthResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/health' }, summary: 'status, version, commit, Node version, backend, uptime'
  }),
  GetOverview: rpc('GetOverview', M.GetOverviewRequest, M.GetOverviewResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/overview' }, summary: 'totals, queues, workers, latency, action counters, coordination'
  }),
  ListQueues: rpc('ListQueues', M.ListQueuesRequest, M.ListQueuesResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/queues' }, summary: 'every queue with counts, weight and pause flag'
  }),
  GetQueue: rpc('GetQueue', M.GetQueueRequest, M.GetQueueResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/queues/:name' }, summary: 'one queue'
  }),
  UpdateQueueWeight: rpc('UpdateQueueWeight', M.UpdateQueueWeightRequest, M.UpdateQueueWeightResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.weight.update',
    http: { method: 'POST', path: '/admin/v1/queues/:name/weight', bodyFields: ['weight'] }, summary: 'store a queue weight override'
  }),
  ResetQueueWeight: rpc('ResetQueueWeight', M.ResetQueueWeightRequest, M.ResetQueueWeightResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.weight.reset',
    http: { method: 'DELETE', path: '/admin/v1/queues/:name/weight' }, summary: 'drop a queue weight override'
  }),
  PauseQueue: rpc('PauseQueue', M.PauseQueueRequest, M.PauseQueueResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'queue.pause',
    http: { method: 'POST', path: '/admin/v1/queues/:name/pause', bodyFields: ['paused'] }, summary: 'pause or resume a queue'
  }),
  ListScheduleFactories: rpc('ListScheduleFactories', M.ListScheduleFactoriesRequest, M.ListScheduleFactoriesResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/schedules/factories' }, summary: 'registered schedule factories'
  }),
  ListSchedules: rpc('ListSchedules', M.ListSchedulesRequest, M.ListSchedulesResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/schedules' }, summary: 'schedules with next/previous run and last status'
  }),
  CreateSchedule: rpc('CreateSchedule', M.CreateScheduleRequest, M.CreateScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.upsert',
    http: { method: 'POST', path: '/admin/v1/schedules', bodyFields: ['name', 'spec', 'durable', 'timezone', 'paused', 'overlap', 'catchUp'] },
    summary: 'create or update a schedule (by name; it must match a registered factory)'
  }),
  DeleteSchedule: rpc('DeleteSchedule', M.DeleteScheduleRequest, M.DeleteScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.delete',
    http: { method: 'DELETE', path: '/admin/v1/schedules/:name' }, summary: 'delete a schedule'
  }),
  PauseSchedule: rpc('PauseSchedule', M.PauseScheduleRequest, M.PauseScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.pause',
    http: { method: 'POST', path: '/admin/v1/schedules/:name/pause', bodyFields: ['paused'] }, summary: 'pause or resume a schedule'
  }),
  RunSchedule: rpc('RunSchedule', M.RunScheduleRequest, M.RunScheduleResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'schedule.run',
    http: { method: 'POST', path: '/admin/v1/schedules/:name/run' }, summary: 'run a schedule now'
  }),
  PauseSchedules: rpc('PauseSchedules', M.PauseSchedulesRequest, M.PauseSchedulesResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'schedule.pause_all',
    http: { method: 'POST', path: '/admin/v1/schedules/pause', bodyFields: ['paused', 'dryRun'] }, summary: 'pause or resume every schedule'
  }),
  ListScheduleEvents: rpc('ListScheduleEvents', M.ListScheduleEventsRequest, M.ListScheduleEventsResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/schedules/events' }, summary: 'recent schedule history'
  }),
  ListDLQ: rpc('ListDLQ', M.ListDLQRequest, M.ListDLQResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/dlq' }, summary: 'dead tasks, most recently failed first'
  }),
  GetDLQStats: rpc('GetDLQStats', M.GetDLQStatsRequest, M.GetDLQStatsResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/dlq/stats' }, summary: 'DLQ totals by queue and handler'
  }),
  GetDLQEntry: rpc('GetDLQEntry', M.GetDLQEntryRequest, M.GetDLQEntryResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/dlq/:id' }, summary: 'one DLQ entry'
  }),
  ReplayDLQ: rpc('ReplayDLQ', M.ReplayDLQRequest, M.ReplayDLQResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'dlq.replay',
    http: { method: 'POST', path: '/admin/v1/dlq/replay', bodyFields: ['limit', 'queue', 'handler', 'targetQueue', 'dryRun'] },
    summary: 'replay dead tasks by filter'
  }),
  ReplayDLQByID: rpc('ReplayDLQByID', M.ReplayDLQByIDRequest, M.ReplayDLQByIDResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'dlq.replay_ids',
    http: { method: 'POST', path: '/admin/v1/dlq/replay/ids', bodyFields: ['ids', 'payload', 'targetQueue', 'dryRun'] },
    summary: 'replay chosen dead tasks, optionally with a new payload or queue'
  }),
  DeleteDLQEntry: rpc('DeleteDLQEntry', M.DeleteDLQEntryRequest, M.DeleteDLQEntryResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dlq.delete',
    http: { method: 'DELETE', path: '/admin/v1/dlq/:id' }, summary: 'delete one DLQ entry for good'
  }),
  PauseDequeue: rpc('PauseDequeue', M.PauseDequeueRequest, M.PauseDequeueResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dequeue.pause',
    http: { method: 'POST', path: '/admin/v1/pause' }, summary: 'pause durable dequeue cluster-wide'
  }),
  ResumeDequeue: rpc('ResumeDequeue', M.ResumeDequeueRequest, M.ResumeDequeueResponse, {
    kind: 'mutation', minRole: 'admin', auditAction: 'dequeue.resume',
    http: { method: 'POST', path: '/admin/v1/resume' }, summary: 'resume durable dequeue cluster-wide'
  }),
  ListTasks: rpc('ListTasks', M.ListTasksRequest, M.ListTasksResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/tasks' }, summary: 'tasks by state, queue, handler or text'
  }),
  GetTask: rpc('GetTask', M.GetTaskRequest, M.GetTaskResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/tasks/:id' }, summary: 'one task with payload, errors and timeline'
  }),
  EnqueueTask: rpc('EnqueueTask', M.EnqueueTaskRequest, M.EnqueueTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.enqueue',
    http: { method: 'POST', path: '/admin/v1/tasks', bodyFields: ['handler', 'queue', 'payload', 'maxAttempts', 'priority', 'timeoutMs', 'runAt', 'delayMs', 'idempotencyKey'] },
    summary: 'enqueue a durable task'
  }),
  CancelTask: rpc('CancelTask', M.CancelTaskRequest, M.CancelTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.cancel',
    http: { method: 'POST', path: '/admin/v1/tasks/:id/cancel' }, summary: 'cancel a task no worker has started'
  }),
  RetryTask: rpc('RetryTask', M.RetryTaskRequest, M.RetryTaskResponse, {
    kind: 'mutation', minRole: 'operator', auditAction: 'task.retry',
    http: { method: 'POST', path: '/admin/v1/tasks/:id/retry' }, summary: 'run a dead, retrying or canceled task again now'
  }),
  ListWorkers: rpc('ListWorkers', M.ListWorkersRequest, M.ListWorkersResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/workers' }, summary: 'live worker processes'
  }),
  ListAuditEvents: rpc('ListAuditEvents', M.ListAuditEventsRequest, M.ListAuditEventsResponse, {
    ...read, http: { method: 'GET', path: '/admin/v1/audit' }, summary: 'audit events, newest first'
  }),
  ExportAudit: rpc('ExportAudit', M.ExportAuditRequest, M.ExportAuditResponse, {
    kind: 'read', minRole: 'operator',
    http: { method: 'GET', path: '/admin/v1/audit/export', download: true }, summary: 'download audit events as jsonl, json or csv'
  }),
  GetMetrics: rpc('GetMetrics', M.GetMetricsRequest, M.GetMetricsResponse, {
    ...read,
    http: { method: 'GET', path: '/admin/v1/metrics', download: true, aliases: [{ path: '/admin/v1/metrics/prometheus', fields: { format: 'prometheus' } }] },
    summary: 'task, queue and admin metrics as JSON, or as Prometheus text (format=prometheus or /metrics/prometheus)'
  }),
  StreamEvents: rpc('StreamEvents', M.StreamEventsRequest, M.AdminEvent, {
    ...read, stream: true, responseType: 'AdminEvent',
    http: { method: 'GET', path: '/admin/v1/events', headerFields: { afterId: 'last-event-id' } },
    summary: 'server stream of admin events; resumable by id'
  })
} as const

export type Rpcs = typeof RPCS
export type RpcName = keyof Rpcs
export const RPC_NAMES = Object.keys(RPCS) as RpcName[]
export const RPC_LIST: readonly RpcDefinition[] = Object.values(RPCS)

/** the RPCs whose `stream` is true, at the type level (a test checks it matches the table) */
export type StreamRpcName = 'StreamEvents'
export const STREAM_RPC_NAMES: readonly StreamRpcName[] = ['StreamEvents']

export type RequestOf<N extends RpcName> = Static<Rpcs[N]['request']>
export type ResponseOf<N extends RpcName> = Static<Rpcs[N]['response']>

export function getRpc (name: string): RpcDefinition | undefined {
  return Object.hasOwn(RPCS, name) ? RPCS[name as RpcName] : undefined
}

/** request fields bound to `:params` of the HTTP path */
export function pathParams (def: RpcDefinition): string[] {
  return [...def.http.path.matchAll(/:([A-Za-z][A-Za-z0-9]*)/g)].map(match => match[1] as string)
}
