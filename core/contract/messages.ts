import { Type, type Static, type TSchema } from 'typebox'
import { IDEMPOTENCY_MODES, MAX_LIST_LIMIT, MAX_PARENTS, PARENT_FAILURE_POLICIES, TASK_STATES } from '../backend/types.ts'
import { GRAPH_DEPTH_DEFAULT, GRAPH_DEPTH_MAX, GRAPH_NODES_DEFAULT, GRAPH_NODES_MAX } from '../tasks/dependencies.ts'

// The admin contract's messages, field for field the same as core/proto/worker/v1/admin.proto
// (core/contract/drift.test.ts fails when they differ). Conventions both sides keep:
// - JSON names are lowerCamel; the proto uses snake_case, which proto-loader maps
//   to lowerCamel (keepCase: false).
// - A field is optional here exactly when it is `optional` in the proto; every other
//   field, and every repeated or map field, is always present. The gRPC transport
//   decodes with `defaults: true` so required scalars arrive even when zero.
// - No nulls outside JSON values: an absent value is an absent optional field.
// - Timestamps are RFC 3339 strings.
// - Arbitrary JSON (payloads, event data, audit params) is a JsonValue field: any
//   JSON value here and on the gateway, a google.protobuf.Value in the proto (the
//   gRPC transport maps the two, core/transport/grpc/json-value.ts). In requests
//   validateRequest refuses what a backend cannot store and enforces maxBytes
//   (json-fields.ts).
// - int64 counters are decoded as JS numbers (proto-loader `longs: Number`).

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'
export const LIST_LIMIT_DEFAULT = 100
export const LIST_LIMIT_MAX = MAX_LIST_LIMIT
/** deep offsets cost O(offset) in every backend; past this, narrow the filter instead */
export const LIST_OFFSET_MAX = 100_000
/** absolute ceilings; the configurable guardrails (WORKER_ADMIN_*_MAX) sit below them */
export const REPLAY_LIMIT_CEILING = 100_000
export const REPLAY_IDS_CEILING = 10_000
export const AUDIT_EXPORT_CEILING = 100_000
/** bytes of a request payload serialized as JSON */
export const PAYLOAD_MAX_BYTES = 1024 * 1024
export const QUERY_MAX_LENGTH = 200
export const ID_MAX_LENGTH = 128

const Name = (description: string) => Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 128, description })
const Id = (description: string) => Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, description })
const Text = (description: string) => Type.String({ description })
const Timestamp = (description: string) => Type.String({ format: 'date-time', description })
const Count = (description: string) => Type.Integer({ minimum: 0, description })
const Query = (description: string) => Type.String({ minLength: 1, maxLength: QUERY_MAX_LENGTH, description })
const Limit = (max: number, description: string) => Type.Integer({ minimum: 1, maximum: max, description })
const Offset = () => Type.Integer({ minimum: 0, maximum: LIST_OFFSET_MAX, description: 'rows to skip (default 0); walks every skipped row: page with cursor instead' })
/** characters of a list cursor: the backend's page position plus the filter fingerprint, base64url */
export const LIST_CURSOR_MAX_LENGTH = 1024
const Cursor = () => Type.String({ minLength: 1, maxLength: LIST_CURSOR_MAX_LENGTH, pattern: '^[A-Za-z0-9_-]+$', description: 'continue after the page that answered this nextCursor (same filter; not with offset): fast at any depth' })
const NextCursor = () => Type.String({ description: 'pass as cursor for the page after this one; absent on the last page' })
const DryRun = () => Type.Boolean({ description: 'report the exact targets, change nothing' })
/** the selection of an "all matching" bulk action (core/admin/selection.ts) */
const ExpectedSelection = () => Type.String({
  pattern: '^[0-9]{1,9}-[0-9a-f]{16}$',
  maxLength: 26,
  description: 'confirm a preview: the selection a dry run of the same request answered. The call changes exactly those tasks (tasks arriving meanwhile are never touched), or is refused with SELECTION_CHANGED and changes nothing when the request no longer selects that set'
})
const SelectionAnswer = () => Type.String({ description: 'the count and a digest of the exact set of tasks selected: pass it back as expectedSelection with the same request to change exactly this set' })

/** the schema keyword that marks a field as any JSON value (google.protobuf.Value in the proto) */
export const JSON_VALUE_KEYWORD = 'x-json-value'
/** the schema keyword bounding a request JSON value: bytes of its JSON serialization */
export const JSON_MAX_BYTES_KEYWORD = 'x-max-bytes'

/**
 * Any JSON value: an object, array, string, number, boolean or null. The proto field
 * of the same name must be a google.protobuf.Value (the drift test checks both ways);
 * the gRPC transport converts every such field on its own, so a new JSON field needs
 * nothing more than this schema and its proto line.
 */
export function JsonValue (description: string, options: { maxBytes?: number } = {}) {
  return Type.Unknown({ description, [JSON_VALUE_KEYWORD]: true, ...(options.maxBytes === undefined ? {} : { [JSON_MAX_BYTES_KEYWORD]: options.maxBytes }) })
}

/** whether a schema (TypeBox or its plain JSON copy) is a JsonValue field */
export function isJsonValueSchema (schema: unknown): boolean {
  return schema !== null && typeof schema === 'object' && (schema as Record<string, unknown>)[JSON_VALUE_KEYWORD] === true
}

const Payload = (description: string) => JsonValue(`${description}; at most ${PAYLOAD_MAX_BYTES} bytes as JSON`, { maxBytes: PAYLOAD_MAX_BYTES })
const Request = <P extends Record<string, TSchema>>(properties: P, description: string) =>
  Type.Object(properties, { additionalProperties: false, description })
const Response = <P extends Record<string, TSchema>>(properties: P, description: string) =>
  Type.Object(properties, { description })

export const TaskStateSchema = Type.Enum([...TASK_STATES], { type: 'string', description: 'task state' })
export const ParentFailurePolicySchema = Type.Enum([...PARENT_FAILURE_POLICIES], { type: 'string', description: 'what a parent that ends dead or canceled does to the task: cancel it (default) or dead-letter it' })
export const CORRELATION_ID_MAX_LENGTH = 255
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255
const Tenant = (description: string) => Name(description)
const CorrelationId = (description: string) => Type.String({ minLength: 1, maxLength: CORRELATION_ID_MAX_LENGTH, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$', description })
const IdempotencyKey = (description: string) => Type.String({ minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH, description })
export const IdempotencyModeSchema = Type.Enum([...IDEMPOTENCY_MODES], {
  type: 'string',
  description: 'when the key names a retained task: reject (default; it wins unchanged), replace (a task not started yet, scheduled or ready with no attempt, takes the new payload, priority, runAt, maxAttempts and timeoutMs), preserve_run_at (as replace, keeping its runAt)'
})
export const EnqueueOutcomeSchema = Type.Enum(['created', 'replaced', 'existing'], {
  type: 'string',
  description: 'created; replaced (a replace mode updated the key\'s task); existing (the key\'s task was left as is: reject mode, or it had started; see state)'
})

// --- shared shapes ---------------------------------------------------------------

export const QueueSummary = Response({
  name: Name('queue name'),
  ready: Count('tasks waiting for a worker'),
  scheduled: Count('tasks whose runAt is in the future'),
  processing: Count('tasks leased by a worker'),
  retrying: Count('failed tasks waiting for their backoff'),
  dead: Count('tasks in the DLQ'),
  succeeded: Count('succeeded tasks still retained'),
  canceled: Count('canceled tasks still retained'),
  blocked: Count('tasks waiting for their parent tasks (dependsOn)'),
  weight: Type.Integer({ minimum: 0, description: 'effective weight: the stored override, else the configured default' }),
  defaultWeight: Type.Integer({ minimum: 0, description: 'configured default weight' }),
  weightOverridden: Type.Boolean({ description: 'true when an override is stored in the backend' }),
  paused: Type.Boolean({ description: 'durable dequeue from this queue is paused' }),
  throttled: Type.Optional(Count('ready tasks held back now by a saturated flow limit of the queue, of their handler or of their tenant; absent when the backend has no flow control'))
}, 'one queue: counts by state, weight and pause flag')

export const TaskErrorView = Response({
  attempt: Type.Integer({ minimum: 0, description: 'attempt that failed' }),
  message: Text('error message'),
  at: Timestamp('when it failed'),
  stack: Type.Optional(Text('stack trace, when the handler threw an Error'))
}, 'one failed attempt')

export const TaskSummary = Response({
  id: Id('task id'),
  queue: Name('queue'),
  handler: Name('handler name'),
  state: TaskStateSchema,
  attempts: Count('attempts started so far'),
  maxAttempts: Count('attempt budget'),
  priority: Type.Integer({ description: 'higher runs first within a queue' }),
  runAt: Timestamp('earliest time it may run'),
  createdAt: Timestamp('when it was enqueued'),
  updatedAt: Timestamp('last state change'),
  finishedAt: Type.Optional(Timestamp('when it succeeded, died or was canceled')),
  lastError: Type.Optional(Text('latest error message')),
  replays: Count('operator replays and retries'),
  payloadSize: Count('bytes of the JSON payload'),
  progress: Type.Optional(JsonValue('latest progress the handler reported (ctx.progress): a number 0-100 or a JSON object; absent when none')),
  tenant: Type.Optional(Tenant('tenant the task belongs to')),
  correlationId: Type.Optional(Text('correlation id tying the tasks of one flow together'))
}, 'a task without its payload, for lists')

export const TaskView = Response({
  id: Id('task id'),
  queue: Name('queue'),
  handler: Name('handler name'),
  payload: JsonValue('the payload, a JSON value'),
  state: TaskStateSchema,
  attempts: Count('attempts started so far'),
  maxAttempts: Count('attempt budget'),
  priority: Type.Integer({ description: 'higher runs first within a queue' }),
  runAt: Timestamp('earliest time it may run'),
  idempotencyKey: Type.Optional(Text('deduplication key given at enqueue')),
  timeoutMs: Count('per-attempt timeout'),
  lastError: Type.Optional(Text('latest error message')),
  errors: Type.Array(TaskErrorView, { description: 'recent failed attempts, newest first' }),
  createdAt: Timestamp('when it was enqueued'),
  updatedAt: Timestamp('last state change'),
  startedAt: Type.Optional(Timestamp('start of the latest attempt')),
  finishedAt: Type.Optional(Timestamp('when it succeeded, died or was canceled')),
  leaseExpiresAt: Type.Optional(Timestamp('lease expiry while processing')),
  workerId: Type.Optional(Text('worker holding or last holding the lease')),
  replays: Count('operator replays and retries'),
  payloadSize: Count('bytes of the JSON payload'),
  result: Type.Optional(JsonValue('what the handler returned, a JSON value (at most tasks.resultMaxBytes); absent unless it succeeded and returned one')),
  progress: Type.Optional(JsonValue('latest progress the handler reported (ctx.progress): a number 0-100 or a JSON object; absent when none')),
  dependsOn: Type.Array(Id('parent task id'), { description: 'the parent tasks it waits or waited for (empty: none)' }),
  onParentFailure: Type.Optional(ParentFailurePolicySchema),
  tenant: Type.Optional(Tenant('tenant the task belongs to')),
  correlationId: Type.Optional(Text('correlation id tying the tasks of one flow together'))
}, 'a task with its payload and error history')

export const TimelineEntry = Response({
  at: Timestamp('when it happened'),
  event: Type.Enum(['created', 'scheduled', 'started', 'failed', 'finished'], { type: 'string', description: 'what happened' }),
  detail: Type.Optional(Text('attempt number, error or final state'))
}, 'one step in a task\'s life, derived from its stored timestamps and errors')

export const SkippedTaskView = Response({
  id: Id('task id'),
  reason: Type.Enum(['not_found', 'wrong_state'], { type: 'string', description: 'why it was not touched' }),
  state: Type.Optional(TaskStateSchema)
}, 'a requested task that was left alone')

export const WorkerView = Response({
  id: Text('worker id'),
  host: Text('host name'),
  pid: Count('process id'),
  version: Text('Switchyard version the worker runs'),
  queues: Type.Array(Name('queue'), { description: 'queues it consumes' }),
  concurrency: Count('maximum tasks in flight'),
  inFlight: Count('tasks running now'),
  startedAt: Timestamp('process start'),
  lastHeartbeatAt: Timestamp('latest heartbeat'),
  handlers: Type.Array(Name('handler'), { description: 'handlers it runs; it leases only tasks of these' }),
  cordoned: Type.Boolean({ description: 'an operator cordoned it: it finishes what it runs and leases nothing more until uncordoned' }),
  stale: Type.Boolean({ description: 'it stopped heartbeating (listed only with includeStale); its entry is kept for an hour, or until swept' })
}, 'a worker process in the registry')

export const UnservedHandler = Response({
  queue: Name('queue'),
  handler: Name('handler with pending tasks in that queue')
}, 'a handler with pending tasks that no live worker runs; its tasks wait, using no attempt, until such a worker starts')

export const AuditEventView = Response({
  id: Text('audit event id'),
  time: Timestamp('when it was recorded'),
  action: Text('action, e.g. queue.pause'),
  target: Text('what it acted on: a queue, a task id, "dlq", "dequeue"'),
  actor: Text('caller identity (client certificate subject)'),
  requestId: Text('request id of the call'),
  outcome: Type.Enum(['ok', 'error', 'denied'], { type: 'string', description: 'ok, error (failed) or denied (guard refused)' }),
  error: Type.Optional(Text('error code and message when not ok')),
  params: JsonValue('request parameters: payloads reduced to their size (payloadBytes), long values cut, no secrets')
}, 'one audited admin action')

export const AdminEvent = Response({
  id: Text('monotonic event id; resume after it with afterId / Last-Event-ID'),
  type: Text('overview, queue.*, schedule.*, job.*, task.*, dlq.* or audit'),
  time: Timestamp('when it was appended'),
  data: JsonValue('event data, a JSON value')
}, 'one event from the event log')

export const RateLimitView = Response({
  limit: Count('task starts per window, cluster-wide'),
  windowMs: Count('window length')
}, 'the cluster-wide start rate limit')

export const LeaderLockView = Response({
  name: Text('lock name'),
  holder: Text('current holder'),
  token: Count('fencing token'),
  expiresAt: Timestamp('expiry unless renewed')
}, 'a leader lock')

export const CoordinationView = Response({
  globalPaused: Type.Boolean({ description: 'durable dequeue is paused everywhere' }),
  rateLimit: Type.Optional(RateLimitView),
  leaders: Type.Array(LeaderLockView, { description: 'held leader locks' })
}, 'cluster coordination state')

export const TaskTotals = Response({
  ready: Count('ready tasks'),
  processing: Count('processing tasks'),
  scheduled: Count('scheduled tasks'),
  retrying: Count('retrying tasks'),
  dead: Count('tasks in the DLQ'),
  succeeded: Count('succeeded tasks still retained'),
  canceled: Count('canceled tasks still retained'),
  blocked: Count('tasks waiting for their parent tasks')
}, 'task counts summed over all queues')

export const LatencyView = Response({
  source: Text('where the numbers come from'),
  samples: Count('completions the numbers are computed from'),
  windowSeconds: Count('only completions this recent count'),
  avgMs: Type.Optional(Type.Number({ minimum: 0, description: 'mean handler run time' })),
  p95Ms: Type.Optional(Type.Number({ minimum: 0, description: '95th percentile handler run time' }))
}, 'task run latency')

export const ActionCounters = Response({
  since: Timestamp('when this admin service started counting'),
  pauses: Count('successful queue pauses and global dequeue pauses'),
  resumes: Count('successful queue resumes and global dequeue resumes'),
  replays: Count('successful DLQ replay calls (dry runs excluded)'),
  replayedTasks: Count('tasks those replays moved'),
  byAction: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'successful mutations by audit action' })
}, 'admin actions answered by this admin service process')

// --- requests and responses, one pair per RPC ----------------------------------------

export const GetHealthRequest = Request({}, 'no parameters')
export const GetHealthResponse = Response({
  status: Type.Enum(['ok', 'degraded'], { type: 'string', description: 'degraded when the backend does not answer' }),
  version: Text('Switchyard version'),
  commit: Text('source commit'),
  nodeVersion: Text('Node.js version'),
  backend: Text('backend name'),
  uptimeSeconds: Type.Number({ minimum: 0, description: 'seconds since start' }),
  startedAt: Timestamp('process start'),
  backendError: Type.Optional(Text('why the backend check failed'))
}, 'service health')

export const GetOverviewRequest = Request({}, 'no parameters')
export const GetOverviewResponse = Response({
  generatedAt: Timestamp('when this overview was computed'),
  totals: TaskTotals,
  queues: Type.Array(QueueSummary, { description: 'every known queue' }),
  activeWorkers: Type.Optional(Count('live worker processes; absent when the backend has no worker registry')),
  inFlight: Type.Optional(Count('tasks the live workers report running')),
  latency: LatencyView,
  actions: ActionCounters,
  coordination: Type.Optional(CoordinationView),
  unservedHandlers: Type.Array(UnservedHandler, { description: 'pending work no live worker can run (empty when the backend has no worker registry)' })
}, 'one-call summary; costs O(queues), never O(tasks)')

export const ListQueuesRequest = Request({}, 'no parameters')
export const ListQueuesResponse = Response({
  queues: Type.Array(QueueSummary, { description: 'every known queue, by name' })
}, 'all queues')

export const GetQueueRequest = Request({ name: Name('queue name') }, 'one queue by name')
export const GetQueueResponse = Response({
  queue: QueueSummary,
  unservedHandlers: Type.Array(Name('handler'), { description: 'handlers with pending tasks in this queue that no live worker runs (empty when the backend has no worker registry)' })
}, 'the queue')

export const UpdateQueueWeightRequest = Request({
  name: Name('queue name'),
  weight: Type.Integer({ minimum: 1, maximum: 1000, description: 'share of dequeues relative to other queues' })
}, 'store a weight override, shared by every node')
export const UpdateQueueWeightResponse = Response({ queue: QueueSummary }, 'the queue after the change')

export const ResetQueueWeightRequest = Request({ name: Name('queue name') }, 'drop the weight override')
export const ResetQueueWeightResponse = Response({ queue: QueueSummary }, 'the queue after the change')

export const PauseQueueRequest = Request({
  name: Name('queue name'),
  paused: Type.Boolean({ description: 'true pauses durable dequeue from the queue, false resumes it' })
}, 'pause or resume a queue (idempotent)')
export const PauseQueueResponse = Response({ queue: QueueSummary }, 'the queue after the change')

export const TASK_TIME_FIELDS = ['created', 'finished'] as const
/** the time window of a task or DLQ list (and of the DLQ actions that select like one) */
const TaskWindow = (subject: string) => ({
  since: Type.Optional(Timestamp(`only ${subject} whose time (timeField) is at or after this`)),
  until: Type.Optional(Timestamp(`only ${subject} whose time (timeField) is at or before this`)),
  timeField: Type.Optional(Type.Enum([...TASK_TIME_FIELDS], { type: 'string', description: 'the time since/until judge: created, or finished (a task not finished is outside the window); default finished for the states succeeded, dead and canceled and for the DLQ, else created' }))
})
/** how many ids a purge answers as its sample */
export const PURGE_SAMPLE_MAX = 20
export const PURGE_LIMIT_CEILING = 100_000

export const ListDLQRequest = Request({
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, `entries per page (default ${LIST_LIMIT_DEFAULT})`)),
  offset: Type.Optional(Offset()),
  cursor: Type.Optional(Cursor()),
  queue: Type.Optional(Name('only this queue')),
  handler: Type.Optional(Name('only this handler')),
  query: Type.Optional(Query('case-insensitive text in id, handler, payload or error')),
  ...TaskWindow('entries'),
  tenant: Type.Optional(Tenant('only this tenant')),
  correlationId: Type.Optional(CorrelationId('only this correlation id'))
}, 'dead tasks, most recently failed first')
export const ListDLQResponse = Response({
  entries: Type.Array(TaskSummary, { description: 'one page' }),
  total: Type.Optional(Count('matching entries, when the backend can count them cheaply')),
  limit: Count('page size used'),
  offset: Count('offset used'),
  nextCursor: Type.Optional(NextCursor())
}, 'a page of the DLQ')

export const GetDLQEntryRequest = Request({ id: Id('task id') }, 'one DLQ entry')
export const GetDLQEntryResponse = Response({ entry: TaskView }, 'the dead task with payload, error history and timestamps')

export const ReplayDLQRequest = Request({
  limit: Type.Integer({ minimum: 1, maximum: REPLAY_LIMIT_CEILING, description: 'replay at most this many, oldest failures first (capped by WORKER_ADMIN_REPLAY_LIMIT_MAX)' }),
  queue: Type.Optional(Name('only entries from this queue')),
  handler: Type.Optional(Name('only entries of this handler')),
  targetQueue: Type.Optional(Name('move the replayed tasks to this queue')),
  dryRun: Type.Optional(DryRun()),
  query: Type.Optional(Query('only entries with this case-insensitive text in id, handler, payload or error (as ListDLQ)')),
  ...TaskWindow('entries'),
  tenant: Type.Optional(Tenant('only entries of this tenant (as ListDLQ)')),
  correlationId: Type.Optional(CorrelationId('only entries with this correlation id (as ListDLQ)')),
  expectedSelection: Type.Optional(ExpectedSelection())
}, 'put dead tasks back to ready with a fresh attempt budget')
export const ReplayResponse = (description: string) => Response({
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  count: Count('tasks replayed (or that would be)'),
  replayed: Type.Array(Id('task id'), { description: 'tasks replayed (or that would be)' }),
  skipped: Type.Array(SkippedTaskView, { description: 'requested tasks that were not in the DLQ' })
}, description)
export const ReplayDLQResponse = Response({
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  count: Count('tasks replayed (or that would be)'),
  replayed: Type.Array(Id('task id'), { description: 'tasks replayed (or that would be)' }),
  skipped: Type.Array(SkippedTaskView, { description: 'requested tasks that were not in the DLQ' }),
  selection: SelectionAnswer()
}, 'what the replay touched')

/** bytes of ReplayDLQByID's per-task payloads together, as JSON */
export const REPLAY_PAYLOADS_MAX_BYTES = 4 * 1024 * 1024

export const ReplayDLQByIDRequest = Request({
  ids: Type.Array(Id('task id'), { minItems: 1, maxItems: REPLAY_IDS_CEILING, description: 'DLQ entries to replay (capped by WORKER_ADMIN_REPLAY_IDS_MAX); ids not in the DLQ are skipped' }),
  payload: Type.Optional(Payload('replace the payload of every replayed task with this JSON value')),
  targetQueue: Type.Optional(Name('move the replayed tasks to this queue')),
  dryRun: Type.Optional(DryRun()),
  payloads: Type.Optional(JsonValue(`per-task edited payloads: a JSON object from task id (each one of ids) to the payload that task is replayed with (each at most ${PAYLOAD_MAX_BYTES} bytes as JSON, all together at most ${REPLAY_PAYLOADS_MAX_BYTES}); they win over payload, which applies to the other ids`, { maxBytes: REPLAY_PAYLOADS_MAX_BYTES }))
}, 'replay chosen DLQ entries; replaying an id twice moves it once')
export const ReplayDLQByIDResponse = ReplayResponse('what the replay touched')

export const DeleteDLQEntryRequest = Request({ id: Id('task id') }, 'delete one DLQ entry (idempotent)')
export const DeleteDLQEntryResponse = Response({
  id: Id('task id'),
  deleted: Type.Boolean({ description: 'false when it was already gone' })
}, 'outcome of the delete')

export const PurgeDLQRequest = Request({
  queue: Type.Optional(Name('only entries from this queue')),
  handler: Type.Optional(Name('only entries of this handler')),
  query: Type.Optional(Query('only entries with this case-insensitive text in id, handler, payload or error (as ListDLQ)')),
  ...TaskWindow('entries'),
  olderThan: Type.Optional(Type.String({ minLength: 2, maxLength: 32, pattern: '^(?:[0-9]+(?:ms|s|m|h|d))+$', description: 'only entries that failed longer ago than this, e.g. 7d or 36h (judged on the backend clock); combines with until' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PURGE_LIMIT_CEILING, description: 'delete at most this many, oldest failures first (default and cap: WORKER_ADMIN_PURGE_LIMIT_MAX)' })),
  dryRun: Type.Optional(DryRun()),
  tenant: Type.Optional(Tenant('only entries of this tenant (as ListDLQ)')),
  correlationId: Type.Optional(CorrelationId('only entries with this correlation id (as ListDLQ)')),
  expectedSelection: Type.Optional(ExpectedSelection())
}, 'delete dead tasks for good by filter and age; a dry run answers the count the same call would delete')
export const PurgeDLQResponse = Response({
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  count: Count('entries deleted (or that would be)'),
  sample: Type.Array(Id('task id'), { description: `the first entries deleted (or that would be), oldest failures first; at most ${PURGE_SAMPLE_MAX}` }),
  more: Type.Boolean({ description: 'more entries match than limit allowed: call again to purge the rest' }),
  limit: Count('the bound applied to this call'),
  selection: SelectionAnswer()
}, 'what the purge touched')

export const GetDLQStatsRequest = Request({}, 'no parameters')
export const GetDLQStatsResponse = Response({
  total: Count('dead tasks'),
  byQueue: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'dead tasks per queue' }),
  byHandler: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'dead tasks per handler' }),
  oldestFailedAt: Type.Optional(Timestamp('oldest failure in the DLQ')),
  newestFailedAt: Type.Optional(Timestamp('newest failure in the DLQ'))
}, 'DLQ statistics')

export const PauseDequeueRequest = Request({}, 'no parameters')
export const PauseDequeueResponse = Response({
  globalPaused: Type.Boolean({ description: 'global dequeue pause after the call' })
}, 'coordination after the call')
export const ResumeDequeueRequest = Request({}, 'no parameters')
export const ResumeDequeueResponse = Response({
  globalPaused: Type.Boolean({ description: 'global dequeue pause after the call' })
}, 'coordination after the call')

export const ListTasksRequest = Request({
  state: Type.Optional(TaskStateSchema),
  queue: Type.Optional(Name('only this queue')),
  handler: Type.Optional(Name('only this handler')),
  query: Type.Optional(Query('case-insensitive text in id, handler, payload or error')),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, `tasks per page (default ${LIST_LIMIT_DEFAULT})`)),
  offset: Type.Optional(Offset()),
  cursor: Type.Optional(Cursor()),
  ...TaskWindow('tasks'),
  tenant: Type.Optional(Tenant('only this tenant')),
  correlationId: Type.Optional(CorrelationId('only this correlation id'))
}, 'tasks matching a filter')
export const ListTasksResponse = Response({
  tasks: Type.Array(TaskSummary, { description: 'one page' }),
  total: Type.Optional(Count('matching tasks, when the backend can count them cheaply')),
  limit: Count('page size used'),
  offset: Count('offset used'),
  nextCursor: Type.Optional(NextCursor())
}, 'a page of tasks')

export const GetTaskRequest = Request({ id: Id('task id') }, 'one task')
export const GetTaskResponse = Response({
  task: TaskView,
  timeline: Type.Array(TimelineEntry, { description: 'oldest first' }),
  handlerServed: Type.Optional(Type.Boolean({ description: 'for a pending task: whether a live worker runs its handler (false: it waits until one starts); absent for other states or without a worker registry' }))
}, 'the task and its timeline')

export const EnqueueTaskRequest = Request({
  handler: Name('handler that runs the task'),
  queue: Type.Optional(Name('queue (default: the configured default queue)')),
  payload: Type.Optional(Payload('the payload, any JSON value (default {})')),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'attempt budget' })),
  priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, description: 'higher runs first' })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600_000, description: 'per-attempt timeout' })),
  runAt: Type.Optional(Timestamp('do not run before this time')),
  delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 * 24 * 3600_000, description: 'run after this delay (ignored with runAt)' })),
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'enqueue at most once per key' })),
  dependsOn: Type.Optional(Type.Object({
    ids: Type.Array(Id('parent task id'), { maxItems: MAX_PARENTS, description: `stored tasks that must all succeed first (at most ${MAX_PARENTS}); until then the task is blocked` }),
    onParentFailure: Type.Optional(ParentFailurePolicySchema)
  }, { additionalProperties: false, description: 'run only after these tasks succeeded' })),
  idempotencyMode: Type.Optional(IdempotencyModeSchema),
  tenant: Type.Optional(Tenant('tenant the task belongs to')),
  correlationId: Type.Optional(CorrelationId('ties the tasks of one flow together'))
}, 'enqueue one durable task')
export const EnqueueTaskResponse = Response({
  id: Id('task id'),
  created: Type.Boolean({ description: 'false when the idempotency key matched an existing task' }),
  queue: Name('queue it went to'),
  warnings: Type.Array(Text('a warning'), { description: 'e.g. no live worker runs the handler (the task is stored and waits for one)' }),
  outcome: EnqueueOutcomeSchema,
  state: Type.Optional(TaskStateSchema)
}, 'the enqueued task')

export const TaskGraphNode = Response({
  id: Id('task id'),
  handler: Name('handler name'),
  queue: Name('queue'),
  state: TaskStateSchema
}, 'one task of a dependency graph')
export const TaskGraphEdge = Response({
  parent: Id('the task waited for'),
  child: Id('the task that waits')
}, 'one dependency: child runs after parent succeeded')
export const GetTaskGraphRequest = Request({
  id: Id('task id'),
  depth: Type.Optional(Type.Integer({ minimum: 1, maximum: GRAPH_DEPTH_MAX, description: `levels walked up and down from the task (default ${GRAPH_DEPTH_DEFAULT})` })),
  limit: Type.Optional(Limit(GRAPH_NODES_MAX, `tasks at most (default ${GRAPH_NODES_DEFAULT})`))
}, 'the dependency graph around one task')
export const GetTaskGraphResponse = Response({
  id: Id('the task asked about (the first node)'),
  nodes: Type.Array(TaskGraphNode, { description: 'the task, its ancestors and its descendants' }),
  edges: Type.Array(TaskGraphEdge, { description: 'parent -> child links between the nodes' }),
  truncated: Type.Boolean({ description: 'true when the depth or size bound left part of the graph out' })
}, 'a bounded dependency graph')

export const CancelTaskRequest = Request({ id: Id('task id') }, 'cancel a task that no worker has started')
export const CancelTaskResponse = Response({
  id: Id('task id'),
  state: TaskStateSchema
}, 'the task state after the call (canceled)')

export const GetTaskByKeyRequest = Request({ key: IdempotencyKey('idempotency key') }, 'the task holding an idempotency key')
export const GetTaskByKeyResponse = Response({
  task: TaskView,
  timeline: Type.Array(TimelineEntry, { description: 'oldest first' }),
  handlerServed: Type.Optional(Type.Boolean({ description: 'for a pending task: whether a live worker runs its handler' }))
}, 'the task and its timeline')

export const CancelTaskByKeyRequest = Request({ key: IdempotencyKey('idempotency key') }, 'cancel the task holding an idempotency key, if no worker has started it')
export const CancelTaskByKeyResponse = Response({
  id: Id('task id'),
  key: IdempotencyKey('idempotency key'),
  state: TaskStateSchema
}, 'the task state after the call (canceled)')

export const DeleteTaskByKeyRequest = Request({
  key: IdempotencyKey('idempotency key'),
  dryRun: Type.Optional(DryRun())
}, 'delete the task holding an idempotency key (not while a worker runs it); frees the key')
export const DeleteTaskByKeyResponse = Response({
  key: IdempotencyKey('idempotency key'),
  deleted: Type.Boolean({ description: 'false when no task holds the key (nothing to delete) or with dryRun' }),
  id: Type.Optional(Id('the task deleted (or that would be)')),
  state: Type.Optional(TaskStateSchema)
}, 'what was deleted')

export const RetryTaskRequest = Request({ id: Id('task id') }, 'run a dead, retrying or canceled task again now with a fresh attempt budget')
export const RetryTaskResponse = Response({
  id: Id('task id'),
  requeued: Type.Boolean({ description: 'false when it was already ready (an earlier retry won)' }),
  state: TaskStateSchema
}, 'the task state after the call')

export const ListWorkersRequest = Request({
  includeStale: Type.Optional(Type.Boolean({ description: 'also workers that stopped heartbeating, kept for an hour (stale: true)' }))
}, 'workers in the registry')
export const ListWorkersResponse = Response({
  workers: Type.Array(WorkerView, { description: 'live workers; a worker that stops heartbeating drops out' })
}, 'live workers')

export const RELEASE_LEASES_LIMIT_DEFAULT = LIST_LIMIT_MAX

export const CordonWorkerRequest = Request({ id: Id('worker id') }, 'cordon a worker: it finishes what it runs and leases nothing more (idempotent)')
export const CordonWorkerResponse = Response({
  worker: WorkerView,
  changed: Type.Boolean({ description: 'false when it was already cordoned' })
}, 'the worker after the call; it learns the cordon on its next heartbeat')
export const UncordonWorkerRequest = Request({ id: Id('worker id') }, 'uncordon a worker: it leases again (idempotent)')
export const UncordonWorkerResponse = Response({
  worker: WorkerView,
  changed: Type.Boolean({ description: 'false when it was not cordoned' })
}, 'the worker after the call; it learns it on its next heartbeat')

export const ReleaseWorkerLeasesRequest = Request({
  id: Id('worker id (the workerId of the tasks it leased)'),
  force: Type.Optional(Type.Boolean({ description: 'release even though the worker still heartbeats (its running tasks then lose their lease)' })),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, `tasks per call (default ${RELEASE_LEASES_LIMIT_DEFAULT}; capped by WORKER_ADMIN_REPLAY_LIMIT_MAX); call again while count equals it`)),
  dryRun: Type.Optional(DryRun())
}, 'recover the tasks a dead worker leased now, as their lease expiry would')
export const ReleaseWorkerLeasesResponse = Response({
  id: Id('worker id'),
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  alive: Type.Boolean({ description: 'the worker was heartbeating (only released with force)' }),
  count: Count('tasks recovered (or that would be)'),
  requeued: Type.Array(Id('task id'), { description: 'tasks put back to ready (attempts left)' }),
  dead: Type.Array(Id('task id'), { description: 'tasks dead-lettered: the released attempt was their last' })
}, 'what the release touched')

export const SweepWorkersRequest = Request({
  olderThanMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 24 * 3600_000, description: 'only entries whose last heartbeat is at least this old (default 0: every stale entry)' })),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, `entries per call (default ${LIST_LIMIT_MAX})`)),
  dryRun: Type.Optional(DryRun())
}, 'remove stale worker entries (workers that stopped heartbeating); live workers are never removed')
export const SweepWorkersResponse = Response({
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  count: Count('entries removed (or that would be)'),
  workers: Type.Array(WorkerView, { description: 'the entries removed (or that would be), oldest heartbeat first' })
}, 'what the sweep removed')

export const ListAuditEventsRequest = Request({
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, `events per page (default ${LIST_LIMIT_DEFAULT})`)),
  action: Type.Optional(Query('only this action')),
  target: Type.Optional(Query('only this target')),
  since: Type.Optional(Timestamp('only events at or after this time')),
  beforeId: Type.Optional(Text('page backwards: only events older than this id'))
}, 'audit events, newest first')
export const ListAuditEventsResponse = Response({
  events: Type.Array(AuditEventView, { description: 'one page, newest first' }),
  nextBeforeId: Type.Optional(Text('pass as beforeId for the next page; absent on the last page'))
}, 'a page of audit events')

export const GetMetricsRequest = Request({
  format: Type.Optional(Type.Enum(['json', 'prometheus'], { type: 'string', description: 'json (default): a snapshot object; prometheus: the text exposition format' }))
}, 'the metrics of this process')
export const GetMetricsResponse = Response({
  contentType: Text('MIME type of body'),
  body: Text('the metrics: JSON text or Prometheus text exposition')
}, 'metrics; the HTTP gateway serves body as the response itself')

export const ExportAuditRequest = Request({
  format: Type.Optional(Type.Enum(['jsonl', 'json', 'csv'], { type: 'string', description: 'file format (default jsonl)' })),
  limit: Type.Optional(Limit(AUDIT_EXPORT_CEILING, 'events to export, newest first (default and cap: WORKER_ADMIN_AUDIT_EXPORT_LIMIT_MAX)')),
  action: Type.Optional(Query('only this action')),
  target: Type.Optional(Query('only this target')),
  since: Type.Optional(Timestamp('only events at or after this time'))
}, 'export audit events as a file')
export const ExportAuditResponse = Response({
  contentType: Text('MIME type of body'),
  filename: Text('suggested file name'),
  count: Count('events in the file'),
  body: Text('the file')
}, 'the export; the HTTP gateway serves body as the download')

export const StreamEventsRequest = Request({
  afterId: Type.Optional(Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, description: 'replay events after this id, then follow live (HTTP: Last-Event-ID header); "0" replays from the oldest retained event; an id the backend did not issue is VALIDATION_FAILED; without it, only new events' }))
}, 'follow the event log')

// --- schedules ----------------------------------------------------------------------------

export const CRON_SPEC_MAX_LENGTH = 200
const CronSpec = () => Type.String({ minLength: 1, maxLength: CRON_SPEC_MAX_LENGTH, description: 'cron expression: 5 fields, or 6 with leading seconds (e.g. "*/5 * * * *")' })
const TimeZone = () => Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone the spec is read in (default UTC)' })
const OverlapPolicy = () => Type.Enum(['skip', 'allow'], { type: 'string', description: 'skip: skip a tick while the previous run is queued or running; allow: always enqueue' })
const CatchUpPolicy = () => Type.Enum(['none', 'latest'], { type: 'string', description: 'after downtime: none skips missed instants, latest runs the most recent one' })

export const ScheduleFactoryView = Response({
  name: Name('factory name; a schedule of this name runs it'),
  description: Text('what it enqueues'),
  durableDefault: Type.Boolean({ description: 'schedules of it are durable unless CreateSchedule says otherwise' })
}, 'a registered schedule factory')

export const ScheduleView = Response({
  name: Name('schedule name (= its factory)'),
  spec: Text('cron expression'),
  timezone: Text('IANA time zone'),
  durable: Type.Boolean({ description: 'stored in the backend, fired once cluster-wide by the leader' }),
  paused: Type.Boolean({ description: 'ticks are skipped while paused' }),
  overlap: OverlapPolicy(),
  catchUp: CatchUpPolicy(),
  nextRunAt: Type.Optional(Timestamp('next cron instant (absent when paused or never again)')),
  previousRunAt: Type.Optional(Timestamp('instant of the latest fire, or time of the latest manual run')),
  lastStatus: Type.Enum(['none', 'fired', 'skipped', 'failed'], { type: 'string', description: 'outcome of the latest tick' }),
  lastError: Type.Optional(Text('why the latest failed tick failed')),
  lastTaskId: Type.Optional(Id('task of the latest fire')),
  fired: Count('fires so far (manual runs included)'),
  skipped: Count('ticks skipped (overlap, missed during downtime)'),
  failed: Count('ticks that failed'),
  factoryRegistered: Type.Boolean({ description: 'this process has its factory (a durable schedule fires on the leader, which needs it too)' }),
  createdAt: Timestamp('when it was created'),
  updatedAt: Timestamp('last definition change')
}, 'a schedule with its run state')

export const ScheduleEventView = Response({
  schedule: Name('schedule name'),
  durable: Type.Boolean({ description: 'a durable schedule' }),
  at: Timestamp('when it happened'),
  type: Type.Enum(['created', 'updated', 'fired', 'skipped', 'failed', 'paused', 'resumed', 'run_now'], { type: 'string', description: 'what happened' }),
  instant: Type.Optional(Timestamp('the cron instant concerned')),
  taskId: Type.Optional(Id('task enqueued (or still running, for an overlap skip)')),
  reason: Type.Optional(Text('why it was skipped or failed; the new definition')),
  count: Type.Optional(Count('instants this entry stands for (missed during downtime)'))
}, 'one entry of a schedule\'s bounded history')

export const ListScheduleFactoriesRequest = Request({}, 'no parameters')
export const ListScheduleFactoriesResponse = Response({
  factories: Type.Array(ScheduleFactoryView, { description: 'factories registered in the process serving this call, by name' })
}, 'schedule factories')

export const ListSchedulesRequest = Request({}, 'no parameters')
export const ListSchedulesResponse = Response({
  schedules: Type.Array(ScheduleView, { description: 'durable schedules, and the in-memory ones of the process serving this call, by name' })
}, 'schedules')

export const CreateScheduleRequest = Request({
  name: Name('a registered schedule factory'),
  spec: CronSpec(),
  durable: Type.Optional(Type.Boolean({ description: 'durable (default: the factory\'s default)' })),
  timezone: Type.Optional(TimeZone()),
  paused: Type.Optional(Type.Boolean({ description: 'create paused; an existing schedule keeps its pause state when absent' })),
  overlap: Type.Optional(OverlapPolicy()),
  catchUp: Type.Optional(CatchUpPolicy())
}, 'create a schedule, or update the one of this name (its run state and history are kept)')
export const CreateScheduleResponse = Response({
  schedule: ScheduleView,
  created: Type.Boolean({ description: 'false when an existing schedule was updated' })
}, 'the schedule after the call')

export const DeleteScheduleRequest = Request({ name: Name('schedule name') }, 'delete a schedule (idempotent); its factory stays registered')
export const DeleteScheduleResponse = Response({
  name: Name('schedule name'),
  deleted: Type.Boolean({ description: 'false when it did not exist' })
}, 'outcome of the delete')

export const PauseScheduleRequest = Request({
  name: Name('schedule name'),
  paused: Type.Boolean({ description: 'true pauses, false resumes (from now: paused instants are not caught up)' })
}, 'pause or resume one schedule (idempotent)')
export const PauseScheduleResponse = Response({ schedule: ScheduleView }, 'the schedule after the call')

export const RunScheduleRequest = Request({ name: Name('schedule name') }, 'run the schedule\'s factory now (counts against WORKER_ADMIN_SCHEDULE_RUN_MAX per window)')
export const RunScheduleResponse = Response({
  schedule: ScheduleView,
  taskId: Id('the task enqueued')
}, 'the run')

export const PauseSchedulesRequest = Request({
  paused: Type.Boolean({ description: 'true pauses every schedule, false resumes every schedule' }),
  dryRun: Type.Optional(DryRun())
}, 'pause or resume all schedules at once')
export const PauseSchedulesResponse = Response({
  paused: Type.Boolean({ description: 'the state requested' }),
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  changed: Type.Array(Name('schedule name'), { description: 'schedules whose state changed (or would)' }),
  total: Count('schedules considered')
}, 'what the call changed')

export const ListScheduleEventsRequest = Request({
  name: Type.Optional(Name('only this schedule')),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, 'events to return, newest first (default 25)'))
}, 'recent schedule history, newest first')
export const ListScheduleEventsResponse = Response({
  events: Type.Array(ScheduleEventView, { description: 'newest first' })
}, 'schedule events')

export type ScheduleViewT = Static<typeof ScheduleView>
export type ScheduleEventViewT = Static<typeof ScheduleEventView>
export type QueueSummaryT = Static<typeof QueueSummary>
export type TaskViewT = Static<typeof TaskView>
export type TaskSummaryT = Static<typeof TaskSummary>
export type TimelineEntryT = Static<typeof TimelineEntry>
export type AuditEventViewT = Static<typeof AuditEventView>
export type AdminEventT = Static<typeof AdminEvent>
export type WorkerViewT = Static<typeof WorkerView>

// --- console support: session, event log, metrics history --------------------------------

export const EVENT_PAGE_LIMIT_DEFAULT = 50
export const EVENT_PAGE_LIMIT_MAX = 500
/** at most this many comma-separated entries in ListEvents' type filter */
export const EVENT_TYPE_FILTERS_MAX = 20
export const METRICS_HISTORY_WINDOWS = ['1h', '24h', '7d', '30d'] as const

export const GetSessionRequest = Request({}, 'no parameters')
export const GetSessionResponse = Response({
  actor: Text('the caller\'s identity: the client certificate subject, or the end user a trusted gateway named'),
  via: Type.Optional(Text('the trusted gateway that named the actor')),
  role: Type.Enum(['viewer', 'operator', 'admin'], { type: 'string', description: 'the caller\'s role (admin when no role map is configured)' }),
  readOnly: Type.Boolean({ description: 'every mutation is refused (READ_ONLY)' }),
  approvalRequired: Type.Boolean({ description: 'mutations need the approval token (X-Admin-Approval)' }),
  canMutate: Type.Boolean({ description: 'the caller may call operator RPCs now: role operator or admin, and not read-only' }),
  backend: Text('backend name'),
  capabilities: Type.Array(Text('capability name'), { description: 'the backend\'s capabilities that are on (e.g. queuePause, eventLog, records), plus eventsNewestFirst when its event log reads backwards, and idempotencyMode.<mode> for each idempotency key mode beyond reject (replace, preserve_run_at)' }),
  taskFilters: Type.Array(Text('filter field'), { description: 'task list filters the backend honours (state, queue, handler, query, since, until, timeField, tenant, correlationId)' }),
  version: Text('Switchyard version of the serving process'),
  commit: Text('source commit of the serving process')
}, 'who is calling and what the service allows')

export const ListEventsRequest = Request({
  type: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: `event types, comma-separated (at most ${EVENT_TYPE_FILTERS_MAX}): each exact (task.dead) or, ending in "." or ".*", a prefix (task.); "audit" selects audit events` })),
  target: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'only events about this task id, queue, schedule, job or job run: matched against the data fields id, taskId, queue, targetQueue, schedule, job, runId, name and target, and the ids list' })),
  since: Type.Optional(Timestamp('only events appended at or after this time')),
  until: Type.Optional(Timestamp('only events appended at or before this time')),
  beforeId: Type.Optional(Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, description: 'newest first, from the event before this id (a nextBeforeId); without beforeId and afterId: from the newest' })),
  afterId: Type.Optional(Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, description: 'oldest first, after this id (a nextAfterId, or "0" for the oldest retained event): catching up' })),
  limit: Type.Optional(Limit(EVENT_PAGE_LIMIT_MAX, `events to return (default ${EVENT_PAGE_LIMIT_DEFAULT})`))
}, 'the persisted event log (task, queue, schedule, job, DLQ and audit events), filtered and paged; a call examines a bounded number of events')
export const ListEventsResponse = Response({
  events: Type.Array(AdminEvent, { description: 'newest first (or oldest first with afterId)' }),
  nextBeforeId: Type.Optional(Text('older matching events may remain: ask again with beforeId set to this; absent when the log (or the since window) is exhausted')),
  nextAfterId: Type.Optional(Text('the newest event examined: ask with afterId set to this for what comes later')),
  scanned: Count('events examined for this page (bounded; a page can be short or empty while nextBeforeId is present)')
}, 'a page of the event log')

export const MetricsCountsView = Response({
  enqueued: Count('tasks enqueued'),
  succeeded: Count('attempts that succeeded'),
  failed: Count('attempts that failed (retried or dead-lettered)'),
  dead: Count('tasks that went to the DLQ'),
  replayed: Count('tasks replayed from the DLQ or retried by an operator')
}, 'what happened in one step, cluster-wide')

export const MetricsDepthView = Response({
  ready: Count('tasks waiting for a worker'),
  processing: Count('tasks leased by a worker'),
  scheduled: Count('tasks whose runAt is in the future'),
  dead: Count('tasks in the DLQ')
}, 'queue depth sampled by the leader in the step (the latest sample)')

export const MetricsPointView = Response({
  time: Timestamp('start of the step'),
  counts: MetricsCountsView,
  depth: Type.Optional(MetricsDepthView)
}, 'one step of a metrics series')

export const GetMetricsHistoryRequest = Request({
  window: Type.Optional(Type.Enum([...METRICS_HISTORY_WINDOWS], { type: 'string', description: '1h or 24h: one point a minute; 7d or 30d: one point an hour (default 1h)' })),
  queue: Type.Optional(Name('one queue\'s series; without it, all queues together'))
}, 'per-minute and hourly task counts and queue depths, cluster-wide')
export const GetMetricsHistoryResponse = Response({
  window: Type.Enum([...METRICS_HISTORY_WINDOWS], { type: 'string', description: 'the window answered' }),
  stepSeconds: Count('60 (per minute) or 3600 (hourly)'),
  queue: Type.Optional(Name('the queue of the series; absent: all queues')),
  from: Timestamp('start of the first point'),
  to: Timestamp('end of the last point (the current, unfinished step)'),
  points: Type.Array(MetricsPointView, { description: 'one per step, oldest first, every step present (zero counts when nothing happened; depth absent when not sampled)' }),
  queues: Type.Array(Name('queue'), { description: 'queues with data in the window, by name' })
}, 'a metrics history')

// --- jobs -------------------------------------------------------------------------------

export const JOB_NAME_MAX_LENGTH = 64
export const JOB_SOURCE_KINDS = ['git_tag', 'tarball_url', 'tarball_path'] as const
export const JOB_RUN_STATES = ['queued', 'fetching', 'building', 'running', 'succeeded', 'failed', 'timed_out', 'canceled'] as const
/** bytes of one GetJobArtifact chunk before base64 */
export const ARTIFACT_CHUNK_BYTES = 48 * 1024
const JobName = (description: string) => Type.String({ minLength: 1, maxLength: JOB_NAME_MAX_LENGTH, description })
const RunId = (description: string) => Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, description })
const ArtifactName = (description: string) => Type.String({ minLength: 1, maxLength: 512, description })
const JobSourceKind = () => Type.Enum([...JOB_SOURCE_KINDS], { type: 'string', description: 'git_tag, tarball_url or tarball_path' })
const StringList = (description: string) => Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 128, description })

export const JobResourcesView = Response({
  memoryBytes: Count('container memory limit in bytes'),
  cpus: Type.Number({ description: 'container CPU limit' }),
  pids: Count('container process limit')
}, 'resource limits of a job\'s container')

export const JobView = Response({
  name: JobName('job name'),
  description: Text('what it does'),
  source: JobSourceKind(),
  repo: Type.Optional(Text('git repository (git_tag)')),
  tag: Type.Optional(Text('git tag, fetched as refs/tags/<tag> (git_tag)')),
  tarballUrl: Type.Optional(Text('https URL of the archive (tarball_url)')),
  tarballPath: Type.Optional(Text('archive path inside jobs.tarballDir (tarball_path)')),
  tarballSha256: Type.Optional(Text('hex SHA-256 the archive must have')),
  path: Text('build context inside the source'),
  dockerfile: Text('Dockerfile relative to the build context'),
  command: Type.Array(Text('argument'), { description: 'overrides the image\'s CMD when not empty' }),
  env: Type.Array(Text('NAME=value'), { description: 'environment of the container' }),
  queue: Text('queue of the run tasks'),
  retries: Count('further attempts after a failed one'),
  timeoutSeconds: Count('a run is stopped after this long'),
  resources: JobResourcesView,
  network: Type.Optional(Text('container network; absent: jobs.network (none by default)')),
  createdAt: Timestamp('when it was first stored'),
  updatedAt: Timestamp('when it was last changed')
}, 'a job definition')

export const JobArtifactView = Response({
  name: Text('artifact name within its run (e.g. the source archive, output.log)'),
  key: Text('key in the artifact store'),
  size: Count('bytes'),
  sha256: Text('hex SHA-256 of the content'),
  contentType: Text('MIME type'),
  createdAt: Timestamp('when it was stored')
}, 'an artifact of a run')

export const JobRunView = Response({
  id: RunId('run id (sorts newest first)'),
  job: JobName('job name'),
  state: Type.Enum([...JOB_RUN_STATES], { type: 'string', description: 'queued, fetching, building, running, succeeded, failed, timed_out or canceled' }),
  taskId: Text('the durable task that carries the run (empty until enqueued)'),
  attempt: Count('1 for the first attempt, +1 per retry'),
  maxAttempts: Count('attempts the run may take (retries + 1)'),
  trigger: Text('admin (RunJob) or schedule:<name>'),
  queuedAt: Timestamp('when it was queued'),
  startedAt: Type.Optional(Timestamp('when the latest attempt started')),
  finishedAt: Type.Optional(Timestamp('when it reached a final state')),
  durationMs: Type.Optional(Count('container run time')),
  exitCode: Type.Optional(Type.Integer({ description: 'exit code of the container' })),
  revision: Type.Optional(Text('git commit SHA of the tag')),
  sourceSha256: Type.Optional(Text('SHA-256 of the fetched archive')),
  imageId: Type.Optional(Text('image the container ran')),
  imageCached: Type.Optional(Type.Boolean({ description: 'the image came from the build cache' })),
  containerId: Type.Optional(Text('container of the latest attempt')),
  error: Type.Optional(Text('why it failed, timed out or was canceled')),
  cancelRequestedAt: Type.Optional(Timestamp('when CancelJobRun asked')),
  artifacts: Type.Array(JobArtifactView, { description: 'artifacts stored for the run' }),
  outputBytes: Type.Optional(Count('combined output bytes the container produced')),
  outputTruncated: Type.Optional(Type.Boolean({ description: 'output was cut at jobs.outputBytes' })),
  definition: JobView
}, 'one run of a job, with the definition as it was when queued')

export const JobResourcesInput = Type.Object({
  memory: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'memory limit: bytes or a size such as 512mb, 1gb' })),
  memoryBytes: Type.Optional(Type.Integer({ minimum: 0, description: 'memory limit in bytes (instead of memory)' })),
  cpus: Type.Optional(Type.Number({ description: 'CPU limit, above 0 and at most 64' })),
  pids: Type.Optional(Type.Integer({ description: 'process limit, 1 to 32768' }))
}, { additionalProperties: false, description: 'resource limits; absent ones come from jobs.defaults' })

export const UpsertJobRequest = Request({
  name: JobName("1-64 of a-z, 0-9, '-', '_', '.', starting with a letter or digit"),
  description: Type.Optional(Type.String({ maxLength: 1000, description: 'what it does' })),
  source: JobSourceKind(),
  repo: Type.Optional(Type.String({ maxLength: 512, description: 'git_tag: https:// or ssh:// URL (or user@host:path) on jobs.repoAllowlist' })),
  tag: Type.Optional(Type.String({ maxLength: 200, description: 'git_tag: the tag, fetched as refs/tags/<tag>' })),
  tarballUrl: Type.Optional(Type.String({ maxLength: 2048, description: 'tarball_url: https URL on a host of jobs.tarballAllowlist' })),
  tarballPath: Type.Optional(Type.String({ maxLength: 1024, description: 'tarball_path: path that resolves inside jobs.tarballDir' })),
  tarballSha256: Type.Optional(Type.String({ maxLength: 64, description: 'hex SHA-256 the archive must have' })),
  path: Type.Optional(Type.String({ maxLength: 1024, description: "build context inside the source, relative, no '..' (default .)" })),
  dockerfile: Type.Optional(Type.String({ maxLength: 1024, description: 'Dockerfile relative to the build context (default Dockerfile)' })),
  command: StringList('overrides the image\'s CMD when not empty (absent on the gateway: empty)'),
  env: StringList('NAME=value entries (absent on the gateway: empty)'),
  queue: Type.Optional(Name('queue of the run tasks (default jobs.defaults.queue)')),
  retries: Type.Optional(Type.Integer({ description: 'further attempts after a failed one, 0 to 100' })),
  timeoutSeconds: Type.Optional(Type.Integer({ description: 'run timeout, 1 to 86400' })),
  resources: Type.Optional(JobResourcesInput),
  network: Type.Optional(Type.String({ maxLength: 128, description: 'container network (default jobs.network; host is refused)' }))
}, 'create a job definition, or replace the one of this name (its runs are kept)')
export const UpsertJobResponse = Response({
  job: JobView,
  created: Type.Boolean({ description: 'false when an existing definition was replaced' })
}, 'the stored definition')

export const GetJobRequest = Request({ name: JobName('job name') }, 'one job definition')
export const GetJobResponse = Response({ job: JobView }, 'the definition')

export const ListJobsRequest = Request({
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, 'definitions to return, by name (default 100)')),
  afterName: Type.Optional(JobName('the page after this name'))
}, 'job definitions by name')
export const ListJobsResponse = Response({
  jobs: Type.Array(JobView, { description: 'by name' }),
  nextAfterName: Type.Optional(JobName('pass as afterName for the next page; absent on the last page'))
}, 'a page of job definitions')

export const DeleteJobRequest = Request({ name: JobName('job name') }, 'delete a job definition (idempotent); its runs are kept')
export const DeleteJobResponse = Response({
  name: JobName('job name'),
  deleted: Type.Boolean({ description: 'false when it did not exist' })
}, 'outcome of the delete')

export const RunJobRequest = Request({ name: JobName('job name') }, 'queue a run of the job now')
export const RunJobResponse = Response({
  run: JobRunView,
  taskId: Id('the durable task that carries the run')
}, 'the queued run')

export const ListJobRunsRequest = Request({
  job: Type.Optional(JobName('only runs of this job')),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, 'runs to return, newest first (default 100)')),
  afterId: Type.Optional(RunId('the page after this run id'))
}, 'job runs, newest first')
export const ListJobRunsResponse = Response({
  runs: Type.Array(JobRunView, { description: 'newest first' }),
  nextAfterId: Type.Optional(RunId('pass as afterId for the next page; absent on the last page'))
}, 'a page of job runs')

export const GetJobRunRequest = Request({ runId: RunId('run id') }, 'one job run')
export const GetJobRunResponse = Response({ run: JobRunView }, 'the run')

export const CancelJobRunRequest = Request({ runId: RunId('run id') }, 'cancel a run: a queued one at once, a running one by stopping its container')
export const CancelJobRunResponse = Response({
  run: JobRunView,
  outcome: Type.Enum(['canceled', 'cancel_requested', 'already_canceled'], { type: 'string', description: 'canceled: it had not started; cancel_requested: the runner stops its container; already_canceled: nothing to do' })
}, 'the run after the call')

export const ListJobEventsRequest = Request({
  name: Type.Optional(JobName('only events of this job')),
  runId: Type.Optional(RunId('only events of this run')),
  afterId: Type.Optional(Type.String({ minLength: 1, maxLength: ID_MAX_LENGTH, description: 'events after this event id' })),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, 'events to return, oldest first (default 25)'))
}, 'job.* events, oldest first')
export const ListJobEventsResponse = Response({
  events: Type.Array(AdminEvent, { description: 'oldest first' })
}, 'job events')

export const GetJobArtifactMetaRequest = Request({
  name: JobName('job name'),
  runId: Type.Optional(RunId('the run (default: the latest run that stored the artifact)')),
  artifact: Type.Optional(ArtifactName('artifact name within the run (default: the source archive)'))
}, 'metadata of a job artifact')
export const GetJobArtifactMetaResponse = Response({
  job: JobName('job name'),
  runId: Type.Optional(RunId('the run it belongs to (absent for a tarball_path archive read from jobs.adminTarballDir)')),
  artifact: JobArtifactView
}, 'the artifact\'s metadata')

export const GetJobArtifactRequest = Request({
  name: JobName('job name'),
  runId: Type.Optional(RunId('the run (default: the latest run that stored the artifact)')),
  artifact: Type.Optional(ArtifactName('artifact name within the run (default: the source archive)'))
}, 'download a job artifact')
export const JobArtifactChunk = Response({
  contentType: Type.Optional(Text('MIME type (first chunk only)')),
  filename: Type.Optional(Text('suggested file name (first chunk only)')),
  size: Type.Optional(Count('total bytes (first chunk only)')),
  sha256: Type.Optional(Text('hex SHA-256 of the whole content (first chunk only)')),
  dataBase64: Text(`the next bytes of the content, base64 (at most ${ARTIFACT_CHUNK_BYTES} bytes before encoding)`)
}, 'one piece of an artifact; the HTTP gateway serves the decoded bytes as the download')

export type JobViewT = Static<typeof JobView>
export type JobRunViewT = Static<typeof JobRunView>
export type JobArtifactViewT = Static<typeof JobArtifactView>
export type JobArtifactChunkT = Static<typeof JobArtifactChunk>

// --- bulk task actions, queue drain, reschedule -----------------------------------------

/** absolute ceiling of one bulk task action; the configurable guardrail (admin.guardrails.bulkMax) sits below it */
export const BULK_TASKS_CEILING = 10_000
/** tasks a bulk answer describes in full (`sample`) */
export const BULK_SAMPLE_SIZE = 20
export const TASK_ACTION_NAMES = ['cancel', 'retry', 'delete', 'run_now', 'reschedule', 'move'] as const

const TaskPriority = (description: string) => Type.Integer({ minimum: -1000, maximum: 1000, description })
const TaskMaxAttempts = (description: string) => Type.Integer({ minimum: 1, maximum: 1000, description })

export const BulkTaskActionRequest = Request({
  action: Type.Enum([...TASK_ACTION_NAMES], {
    type: 'string',
    description: 'cancel (scheduled, ready, retrying), retry (dead, canceled, retrying: ready now with a fresh attempt budget), delete (any state but processing), run_now (scheduled, retrying: ready now), reschedule (waiting tasks: runAt, priority, maxAttempts), move (waiting tasks, to targetQueue)'
  }),
  ids: Type.Array(Id('task id'), { maxItems: BULK_TASKS_CEILING, description: 'the tasks to act on (at most admin.guardrails.bulkMax); empty: select by filter' }),
  filter: Type.Optional(ListTasksRequest),
  runAt: Type.Optional(Timestamp('reschedule: the new earliest run time')),
  priority: Type.Optional(TaskPriority('reschedule: the new priority (higher runs first)')),
  maxAttempts: Type.Optional(TaskMaxAttempts('reschedule: the new attempt budget')),
  targetQueue: Type.Optional(Name('move: the queue the tasks go to')),
  dryRun: Type.Optional(DryRun()),
  expectedSelection: Type.Optional(ExpectedSelection())
}, 'one action over many tasks, by ids or by the ListTasks filter (its limit bounds the selection, default admin.guardrails.bulkMax; without a state it selects only tasks the action moves from); processing tasks are never touched, each task changes atomically on its own')
export const BulkTaskActionResponse = Response({
  dryRun: Type.Boolean({ description: 'true when nothing was changed' }),
  action: Text('the action applied'),
  count: Count('tasks changed (or that would be)'),
  changed: Type.Array(Id('task id'), { description: 'every task changed (or that would be), in selection order' }),
  skipped: Type.Array(SkippedTaskView, { description: 'selected tasks left alone, and why (not found, or a state the action does not move from, processing included)' }),
  sample: Type.Array(TaskSummary, { description: `up to ${BULK_SAMPLE_SIZE} of the changed tasks: as they are now on a dry run, as they are after the change otherwise (deleted tasks are left out)` }),
  limitReached: Type.Boolean({ description: 'a filter selected as many tasks as its limit: more may match; call again' }),
  selection: SelectionAnswer()
}, 'what the action changed or, on a dry run, would change')

export const DrainQueueRequest = Request({
  name: Name('queue name'),
  includeScheduled: Type.Optional(Type.Boolean({ description: 'also delete the queue\'s scheduled and retrying tasks (default: only ready ones)' })),
  limit: Type.Optional(Limit(LIST_LIMIT_MAX, 'delete at most this many (default and most: admin.guardrails.bulkMax)')),
  dryRun: Type.Optional(DryRun()),
  expectedSelection: Type.Optional(ExpectedSelection())
}, 'delete the tasks waiting in a queue: its ready tasks, and with includeScheduled its scheduled and retrying ones; processing tasks run on')

export const RescheduleTaskRequest = Request({
  id: Id('task id'),
  runAt: Type.Optional(Timestamp('the new earliest run time: a future time makes a ready task scheduled, a past one makes a scheduled task ready')),
  priority: Type.Optional(TaskPriority('the new priority (higher runs first)')),
  maxAttempts: Type.Optional(TaskMaxAttempts('the new attempt budget'))
}, 'change when, in which order and how often a waiting (scheduled, ready or retrying) task runs')
export const RescheduleTaskResponse = Response({
  task: TaskSummary
}, 'the task after the change')

// --- flow control (per-queue and per-handler limits) -----------------------------

export const FLOW_SCOPE_KINDS_V1 = ['queue', 'handler', 'tenant'] as const
export const FLOW_CONCURRENCY_MAX = 1_000_000
export const FLOW_RATE_MAX = 1_000_000_000
export const FLOW_WINDOW_MS_MAX = 24 * 3600_000
const FlowKind = () => Type.Enum([...FLOW_SCOPE_KINDS_V1], { type: 'string', description: 'what the limit applies to: queue, handler or tenant (tasks without a tenant are never held back by a tenant limit)' })

export const FlowLimitView = Response({
  kind: FlowKind(),
  name: Name('queue or handler name'),
  concurrency: Type.Optional(Count('at most this many running at once across all workers; absent: no bound')),
  rateLimit: Type.Optional(Count('at most this many starts per window; absent: no rate bound')),
  rateWindowMs: Type.Optional(Count('the rate window in ms')),
  running: Count('tasks of the scope processing now, cluster-wide'),
  started: Count('starts counted in the current rate window (0 without a rate)'),
  inUse: Count('the usage of the tightest bound: running for concurrency, started for rate'),
  saturation: Type.Number({ minimum: 0, description: 'usage over limit of the tightest bound (1 or more: saturated)' }),
  saturated: Type.Boolean({ description: 'a lease would take no task of the scope now' }),
  throttled: Count('ready tasks held back because the limit is saturated')
}, 'one flow limit and its usage')

export const ListRateLimitsRequest = Request({}, 'no parameters')
export const ListRateLimitsResponse = Response({
  limits: Type.Array(FlowLimitView, { description: 'every stored limit, by kind then name' })
}, 'the flow limits, stored in the backend and shared by every node')

export const SetFlowLimitRequest = Request({
  kind: FlowKind(),
  name: Name('queue or handler name'),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: FLOW_CONCURRENCY_MAX, description: 'at most this many running at once across all workers' })),
  rateLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: FLOW_RATE_MAX, description: 'at most this many starts per window (with rateWindowMs)' })),
  rateWindowMs: Type.Optional(Type.Integer({ minimum: 1, maximum: FLOW_WINDOW_MS_MAX, description: 'the rate window in ms (with rateLimit)' }))
}, 'create or replace the limit of a queue or handler; concurrency, a rate or both')
export const SetFlowLimitResponse = Response({ limit: FlowLimitView }, 'the limit after the change')

export const ClearFlowLimitRequest = Request({
  kind: FlowKind(),
  name: Name('queue or handler name')
}, 'remove the limit of a queue or handler (idempotent)')
export const ClearFlowLimitResponse = Response({
  cleared: Type.Boolean({ description: 'false when no limit was stored' })
}, 'whether a limit was removed')

export type FlowLimitViewT = Static<typeof FlowLimitView>
