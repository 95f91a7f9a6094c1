// The backend contract: everything the worker runtime and the admin service need
// from queue storage. Core talks to storage only through this interface, so the
// admin contract stays the same whichever backend a deployment runs.
//
// Conventions every implementation keeps (the conformance suite checks them):
// - Times are epoch milliseconds taken from the BACKEND's clock (Postgres now(),
//   Redis TIME), never from the caller's, so lease expiry means the same thing on
//   every node.
// - Every multi-step state change is atomic (one SQL statement/transaction, one Lua
//   script). Batch methods are atomic per item, not per batch: one lost lease in a
//   batch of acks does not fail the others.
// - A lease is identified by (task id, lease token). Writes that name a stale token
//   (the lease expired and the task was recovered or leased again) change nothing
//   and report 'lease_lost'.
// - Lists are bounded: callers pass a limit, implementations also clamp to
//   MAX_LIST_LIMIT.
// - Capabilities a backend cannot offer are declared in `capabilities` and the
//   corresponding method throws Errors.unsupported (code UNSUPPORTED_BY_BACKEND);
//   never a silent no-op.

export const MAX_LIST_LIMIT = 1000

export type TaskState =
  | 'scheduled' // runAt in the future, never attempted
  | 'ready' // waiting for a worker
  | 'processing' // leased by a worker
  | 'succeeded'
  | 'retrying' // failed with attempts left, waiting for its backoff (runAt)
  | 'dead' // in the DLQ: attempts exhausted or failed fatally
  | 'canceled'
  | 'blocked' // waits for its parent tasks (NewTask.dependsOn) to succeed

export const TASK_STATES: readonly TaskState[] = ['scheduled', 'ready', 'processing', 'succeeded', 'retrying', 'dead', 'canceled', 'blocked']

/**
 * What becomes of a blocked task when one of its parents ends dead or canceled (or is
 * deleted before it succeeded): canceled, or dead-lettered. Either way its lastError
 * names the parent, and its own blocked children follow by their own policy.
 */
export type ParentFailurePolicy = 'cancel' | 'dead'

export const PARENT_FAILURE_POLICIES: readonly ParentFailurePolicy[] = ['cancel', 'dead']

/** parents one task may wait for */
export const MAX_PARENTS = 100

export interface TaskError {
  attempt: number
  message: string
  /** epoch ms */
  at: number
  stack?: string
}

export interface Task {
  id: string
  queue: string
  handler: string
  payload: unknown
  state: TaskState
  /** attempts started so far (a lease counts as an attempt, so crash redeliveries count) */
  attempts: number
  maxAttempts: number
  /** higher runs first within a queue */
  priority: number
  /** earliest time the task may run (epoch ms) */
  runAt: number
  idempotencyKey: string | null
  timeoutMs: number
  lastError: string | null
  /** most recent errors first; bounded (implementations keep at least the last 10) */
  errors: TaskError[]
  createdAt: number
  updatedAt: number
  /** start of the latest attempt */
  startedAt: number | null
  /** when it reached succeeded, dead or canceled */
  finishedAt: number | null
  leaseExpiresAt: number | null
  workerId: string | null
  /** how many times it was replayed or retried by an operator */
  replays: number
  /** bytes of the JSON-encoded payload */
  payloadSize: number
  /** what the handler returned (succeeded tasks only); absent when it returned nothing (undefined or null) */
  result?: unknown
  /** the latest progress the handler reported (ctx.progress), kept across attempts; absent when none */
  progress?: unknown
  /** the parent tasks it waited or waits for (NewTask.dependsOn); absent when none */
  dependsOn?: string[]
  /** with dependsOn: what a dying parent does to it */
  onParentFailure?: ParentFailurePolicy
  /** the tenant the task belongs to; absent when none (see NewTask.tenant) */
  tenant?: string
  /** ties tasks of one business flow together; absent when none (see NewTask.correlationId) */
  correlationId?: string
}

/**
 * What enqueue does when the idempotency key names a task the backend retains:
 * - reject: the existing task wins unchanged (created: false, outcome 'existing')
 * - replace: a task that has not started yet (state scheduled or ready, attempts 0) is
 *   updated in place (payload, priority, runAt, maxAttempts, timeoutMs; its queue,
 *   handler, tenant and correlation id stay); a started or finished one is left as is
 *   (outcome 'existing' with its state)
 * - preserve_run_at: as replace, but the existing runAt is kept
 */
export type IdempotencyMode = 'reject' | 'replace' | 'preserve_run_at'

export const IDEMPOTENCY_MODES: readonly IdempotencyMode[] = ['reject', 'replace', 'preserve_run_at']

/** A fully-normalised enqueue request: core fills every default before calling. */
export interface NewTask {
  queue: string
  handler: string
  payload: unknown
  maxAttempts: number
  priority: number
  timeoutMs: number
  /** absolute time (epoch ms); when null the task runs at backend-now + delayMs */
  runAt: number | null
  delayMs: number
  /** unique among the tasks the backend retains, in any state */
  idempotencyKey: string | null
  /**
   * Ids of stored tasks (at most MAX_PARENTS, distinct) that must all succeed before
   * this one runs: until then it is `blocked`. It becomes ready (or scheduled, by its
   * runAt) in the same atomic step as the last parent's success. A parent already
   * succeeded counts as done; one already dead or canceled applies onParentFailure at
   * once. An id no stored task has fails the whole call (VALIDATION_FAILED, field
   * dependsOn) and nothing is enqueued. Absent or empty: no dependencies (capability
   * `dependencies`).
   */
  dependsOn?: string[]
  /** with dependsOn; default 'cancel' */
  onParentFailure?: ParentFailurePolicy
  /** absent: 'reject'; only meaningful with an idempotency key */
  idempotencyMode?: IdempotencyMode
  /** absent or null: none. A name (see core/tasks/enqueue.ts for the bounds) */
  tenant?: string | null
  /** absent or null: none */
  correlationId?: string | null
}

/**
 * The event enqueue appends for each task it creates, in the same atomic step as the
 * task (capability `enqueueEvents`), so no process can lease the task, and log what
 * it does to it, before the event is in the log: the events of one task stay in
 * causal order whichever processes append them. Core decides the content; the
 * backend stores `{ id: <the task's id>, ...data[i] }` for each created task i, and
 * nothing for a task whose idempotency key matched an existing one.
 */
export interface EnqueueEvents {
  type: string
  /** one per task, in request order */
  data: Array<Record<string, unknown>>
}

export type EnqueueOutcome = 'created' | 'replaced' | 'existing'

export interface EnqueueResult {
  id: string
  /** false when the idempotency key matched an existing task (its id is returned) */
  created: boolean
  /**
   * What happened: created, replaced (mode replace/preserve_run_at updated a task that
   * had not started) or existing (the key's task was left as is). Backends may leave it
   * out when it follows from `created` (created or existing); core always fills it.
   */
  outcome?: EnqueueOutcome
  /** with outcome existing under a replace mode: the state that kept the task from being replaced */
  state?: TaskState
}

export interface LeaseRequest {
  workerId: string
  /**
   * Queues in preference order. The backend fills `limit` from the first queue,
   * then the next, and so on, skipping paused queues. Core shuffles this order by
   * weight on every call, which is how weights become dequeue shares.
   */
  queues: string[]
  limit: number
  leaseMs: number
  /**
   * Handler names the caller can run. Only tasks whose handler is listed are leased;
   * the others stay where they are (ready, scheduled or retrying) with their attempts
   * untouched, so a worker never takes a task it would have to fail. Absent: every
   * handler (tools and tests); the worker runtime always passes its registered set.
   * An empty list leases nothing.
   */
  handlers?: string[]
}

/** What Backend.leaseWithinRateLimit answers. */
export interface RateLimitedLease {
  tasks: LeasedTask[]
  /**
   * true when the global rate limit, not the queues, ended the lease: the current
   * window's permits ran out before `limit` tasks were taken (maybe before any). The
   * caller asks again once the window turns instead of waiting for new work.
   */
  rateLimited: boolean
}

/**
 * An idle worker's wait for pushed tasks (awaitPushedTasks): the lease it would ask for,
 * where `limit` is how many tasks it can take now (its free slots), and how long to wait.
 */
export interface PushWaitRequest extends LeaseRequest {
  /** how long to wait for a push when the lease taken on registering finds nothing; 1..MAX_PUSH_WAIT_MS */
  waitMs: number
  /** ends the wait early (the call still returns what was pushed before it ended) */
  signal?: AbortSignal
}

/** the longest wait one awaitPushedTasks call may ask for */
export const MAX_PUSH_WAIT_MS = 60_000

/** What a worker needs to run a task; deliberately narrower than Task so leasing stays cheap. */
export interface LeasedTask {
  id: string
  queue: string
  handler: string
  payload: unknown
  /** includes this attempt */
  attempts: number
  maxAttempts: number
  priority: number
  timeoutMs: number
  createdAt: number
  runAt: number
  leaseToken: string
  leaseExpiresAt: number
}

export interface LeaseRef {
  id: string
  leaseToken: string
}

export type AckOutcome = 'ok' | 'lease_lost'

/** An ack: the lease, and what the handler returned. */
export interface CompleteRequest extends LeaseRef {
  /**
   * The handler's return value, stored with the succeeded task (Task.result). Absent or
   * null: none. Core has checked it is storable JSON of at most RESULT_MAX_BYTES_CEILING
   * bytes encoded (the worker applies the smaller configured bound, tasks.resultMaxBytes).
   */
  result?: unknown
}

/** A progress report of a running task: stored only while this lease holds. */
export interface ProgressRequest extends LeaseRef {
  /** a number from 0 to 100, or a JSON object or array of at most PROGRESS_MAX_BYTES encoded */
  progress: unknown
}

export interface FailRequest extends LeaseRef {
  error: { message: string, stack?: string }
  /** null: dead-letter now (attempts exhausted or fatal); a number: retry after this delay */
  retryDelayMs: number | null
}

export type FailOutcome = 'retrying' | 'dead' | 'lease_lost'

export interface RecoveredLeases {
  /** tasks put back to ready (attempts left) */
  requeued: string[]
  /** tasks dead-lettered because the expired attempt was their last */
  dead: string[]
}

/**
 * A blocked task a dependency cascade finished: a parent ended dead or canceled (or was
 * deleted before it succeeded) and this task took its policy (onParentFailure), as did
 * the blocked tasks below it (Backend.watchCascades).
 */
export interface CascadedTask {
  id: string
  queue: string
  state: 'dead' | 'canceled'
}

/** cascaded tasks one backend call reports at most (a deeper graph is finished all the same, only not all reported) */
export const MAX_CASCADE_REPORT = 10_000

export type CancelOutcome =
  | { outcome: 'canceled' }
  | { outcome: 'not_found' }
  /** already started or finished: the cancel lost the race and changed nothing */
  | { outcome: 'conflict', state: TaskState }

export interface TaskFilter {
  state?: TaskState
  queue?: string
  handler?: string
  /** case-insensitive substring over id, handler, payload text and last error */
  query?: string
  /**
   * Time window (epoch ms, both ends inclusive) over the time named by `timeField`
   * (see taskWindowField in core/backend/time-window.ts). A task without that time
   * (an unfinished task judged on its finish) is outside every window.
   */
  since?: number
  until?: number
  /** which time since/until judge; default: 'finished' for the final states succeeded, dead and canceled, else 'created' */
  timeField?: TaskTimeField
  /** exact tenant */
  tenant?: string
  /** exact correlation id */
  correlationId?: string
}

export type TaskTimeField = 'created' | 'finished'

export interface ListTasksRequest extends TaskFilter {
  limit: number
  offset: number
  /**
   * Keyset paging: continue right after this position, a `next` this backend answered
   * for the same filter (core checks that; offset is then 0). Opaque to core; a value
   * the backend cannot read is refused with a validation error naming `cursor`.
   */
  after?: string
}

/** most characters a backend's page position (TaskPage.next, ListTasksRequest.after) may have */
export const TASK_PAGE_POSITION_MAX = 512

export interface TaskPage {
  tasks: Task[]
  /** number of matching tasks, or null when the backend cannot count them cheaply */
  total: number | null
  /**
   * The position after the last task listed (or examined, when a scan bound cut the
   * page short), present while more tasks may follow: passed back as `after`, it gives
   * the next page in the same total order (sort key, then id), so a page never repeats
   * or skips a task that stays in the list, however many tasks are added meanwhile.
   */
  next?: string
}

export interface RequeueRequest {
  /** exact ids; or a filter with a limit (oldest first) */
  ids?: string[]
  filter?: TaskFilter & { limit: number }
  /** only tasks currently in one of these states move; others are skipped */
  fromStates: TaskState[]
  /** move to another queue */
  queue?: string
  /** replace the payload */
  payload?: unknown
  /** report what would move, change nothing */
  dryRun?: boolean
}

export interface SkippedTask {
  id: string
  reason: 'not_found' | 'wrong_state'
  state?: TaskState
}

export interface RequeueResult {
  /** ids now ready with a fresh attempt budget (attempts = 0, replays + 1; result and progress cleared) */
  requeued: string[]
  skipped: SkippedTask[]
}

export interface DeleteRequest {
  ids: string[]
  fromStates: TaskState[]
  dryRun?: boolean
}

export interface DeleteResult {
  deleted: string[]
  skipped: SkippedTask[]
}

/**
 * What applyTaskAction does to each selected task (see TASK_ACTION_STATES for the states
 * each one moves from):
 * - cancel: a task no worker has started becomes canceled
 * - retry: dead, canceled or retrying becomes ready now with a fresh attempt budget (as requeueTasks)
 * - delete: removed for good, as deleteTasks (any state but processing)
 * - run_now: a scheduled or retrying task becomes ready now (runAt = backend now, attempts kept)
 * - reschedule: a waiting task gets a new runAt, priority and/or maxAttempts; with runAt it is
 *   scheduled when that is in the future and ready otherwise (a retrying task stays retrying)
 * - move: a waiting task moves to another queue, keeping its state, runAt and priority
 */
export type TaskAction =
  | { kind: 'cancel' }
  | { kind: 'retry' }
  | { kind: 'delete' }
  | { kind: 'run_now' }
  | { kind: 'reschedule', runAt?: number, priority?: number, maxAttempts?: number }
  | { kind: 'move', queue: string }

export type TaskActionKind = TaskAction['kind']

export const TASK_ACTION_KINDS: readonly TaskActionKind[] = ['cancel', 'retry', 'delete', 'run_now', 'reschedule', 'move']

/** the states each action moves a task from; a processing task is never touched */
export const TASK_ACTION_STATES: Readonly<Record<TaskActionKind, readonly TaskState[]>> = {
  cancel: ['scheduled', 'ready', 'retrying'],
  retry: ['dead', 'canceled', 'retrying'],
  delete: ['scheduled', 'ready', 'retrying', 'succeeded', 'dead', 'canceled'],
  run_now: ['scheduled', 'retrying'],
  reschedule: ['scheduled', 'ready', 'retrying'],
  move: ['scheduled', 'ready', 'retrying']
}

export interface TaskActionRequest {
  action: TaskAction
  /**
   * Exact ids (duplicates count once), or a filter with a limit. A filter selects as
   * listTasks does (the same predicate, in its order): with a state, at most `limit`
   * tasks of that state; without one, at most `limit` tasks in the states the action
   * moves from, taken state by state in TASK_ACTION_STATES order.
   */
  ids?: string[]
  filter?: TaskFilter & { limit: number }
  /** report what would change, change nothing: the same call without it changes exactly that set (if nothing else moved) */
  dryRun?: boolean
}

export interface TaskActionResult {
  /** ids changed (or that would be), in selection order */
  changed: string[]
  /** selected ids left alone: missing, or in a state the action does not move from (processing included) */
  skipped: SkippedTask[]
}

export interface QueueStats {
  name: string
  ready: number
  scheduled: number
  processing: number
  retrying: number
  dead: number
  succeeded: number
  canceled: number
  /** tasks waiting for their parents (dependsOn) */
  blocked: number
  /** stored override; null means "use the configured default" */
  weight: number | null
  paused: boolean
  /**
   * ready tasks held back now by a saturated flow limit (of this queue, or of their
   * handler or tenant; tenant-held tasks may be counted up to a bound); 0 or absent
   * when none is (capability `flowControl`)
   */
  throttled?: number
}

/** One task of the dependency graph with its direct links (Backend.taskLinks). */
export interface TaskLinks {
  id: string
  queue: string
  handler: string
  state: TaskState
  /** the tasks it depends on (its dependsOn) */
  parents: string[]
  /** the tasks that depend on it, at most MAX_CHILD_LINKS */
  children: string[]
}

/** children taskLinks reports per task */
export const MAX_CHILD_LINKS = 1000

export interface DLQStats {
  total: number
  byQueue: Record<string, number>
  byHandler: Record<string, number>
  oldestFailedAt: number | null
  newestFailedAt: number | null
}

export interface RateLimit {
  /** tasks started per window, cluster-wide */
  limit: number
  windowMs: number
}

/**
 * What a flow limit applies to: a queue, a handler, or a tenant (NewTask.tenant; a task
 * without a tenant is never held back by a tenant limit). Code that switches over kinds
 * must keep a default branch.
 */
export type FlowScopeKind = 'queue' | 'handler' | 'tenant'

export const FLOW_SCOPE_KINDS: readonly FlowScopeKind[] = ['queue', 'handler', 'tenant']

export interface FlowScope {
  kind: FlowScopeKind
  name: string
}

/** A cluster-wide limit on one scope; at least one of the two is set. */
export interface FlowLimit {
  /** at most this many tasks of the scope processing at once across all workers; null: no bound */
  concurrency: number | null
  /** at most `limit` starts of the scope per fixed window of `windowMs` (backend clock); null: no bound */
  rate: RateLimit | null
}

export interface FlowLimitState extends FlowScope, FlowLimit {
  /** tasks of the scope processing now (cluster-wide, exact) */
  running: number
  /** starts counted in the current rate window; 0 without a rate */
  started: number
  /** a lease of the scope would take nothing now (concurrency or rate used up) */
  saturated: boolean
  /** ready tasks of the scope held back because it is saturated (counted up to a bound) */
  throttled: number
}

export interface LeaderLock {
  name: string
  holder: string
  /** fencing token: strictly increases every time the lock changes holder */
  token: number
  expiresAt: number
}

export interface CoordinationState {
  globalPaused: boolean
  rateLimit: RateLimit | null
  leaders: LeaderLock[]
}

export interface LeaderAcquireResult {
  acquired: boolean
  /** the current lock after the call (null if nobody holds it) */
  lock: LeaderLock | null
}

export interface WorkerInfo {
  id: string
  host: string
  pid: number
  version: string
  queues: string[]
  /** handler names this worker runs (what it passes as LeaseRequest.handlers) */
  handlers: string[]
  concurrency: number
  inFlight: number
  startedAt: number
  lastHeartbeatAt: number
  /**
   * Set by an operator (setWorkerCordoned), stored in the registry entry: the worker
   * finishes what it runs and leases nothing more until uncordoned. Ignored in a
   * heartbeat (a beat never clears it); listWorkers and sweepWorkers always report it.
   */
  cordoned?: boolean
  /** true for an entry whose ttl passed (listed only with includeStale); listWorkers and sweepWorkers always report it */
  stale?: boolean
}

/**
 * How long the registry keeps a worker's entry after its ttl passed (it stopped
 * heartbeating): listed as stale with includeStale, removed by sweepWorkers, and
 * forgotten after this on every backend. A worker that beats again within it keeps
 * its entry, cordon included.
 */
export const WORKER_RETENTION_MS = 3_600_000

/** What a heartbeat answers: the worker's own state as operators set it. */
export interface WorkerHeartbeat {
  /** stop leasing (finish what runs) while true */
  cordoned: boolean
}

export interface ListWorkersOptions {
  /** also entries whose ttl passed, retained for WORKER_RETENTION_MS (stale: true) */
  includeStale?: boolean
}

export interface ReleaseWorkerLeasesRequest {
  workerId: string
  /** at most this many tasks per call (clamped to MAX_LIST_LIMIT) */
  limit: number
  /** report what would be recovered, change nothing */
  dryRun?: boolean
}

export interface SweepWorkersRequest {
  /** only stale entries whose last heartbeat is at least this old (backend clock) */
  olderThanMs: number
  /** at most this many per call (clamped to MAX_LIST_LIMIT), oldest heartbeat first */
  limit: number
  /** report what would be removed, change nothing */
  dryRun?: boolean
}

/** One queue's handler that has pending work (see Backend.pendingHandlers). */
export interface PendingHandler {
  queue: string
  handler: string
}

export interface PendingHandlersRequest {
  queues: string[]
  /** at most this many pairs in total */
  limit: number
}

export interface EventInput {
  type: string
  data: unknown
}

/** how an append is answered */
export interface AppendEventsOptions {
  /**
   * false: the caller does not read the answer (the worker's event log), so a backend may
   * answer [] instead of the stored events; building them is client work per event
   * (Postgres: decoding the page's JSON again). Default true. The events are stored alike.
   */
  answer?: boolean
}

export interface StoredEvent {
  /** monotonic: a reader that resumes after id X never misses an event appended later */
  id: string
  type: string
  time: number
  data: unknown
}

export interface ReadEventsRequest {
  /** null: from the oldest retained event */
  afterId: string | null
  limit: number
}

/** What the admin overview reads in one call (Backend.readOverview). */
export interface OverviewReadRequest {
  /** pending (queue, handler) pairs over every listed queue, at most this many; 0: none read */
  pendingLimit: number
  /** a page of the event log to read along (the overview's latency samples); null: none */
  events: ReadEventsRequest | null
}

/** Each part is what the separate call answers (Backend.readOverview). */
export interface OverviewRead {
  /** queueStats() */
  queues: QueueStats[]
  /** listWorkers() with capability workerRegistry; null without it */
  workers: WorkerInfo[] | null
  /** getCoordinationState() */
  coordination: CoordinationState
  /** pendingHandlers({ queues: every queue of `queues`, limit: pendingLimit }); [] without workerRegistry */
  pending: PendingHandler[]
  /** readEvents(events) with capability eventLog; [] without it or when events is null */
  events: StoredEvent[]
}

/** A newest-first read of the event log (Backend.readEventsNewestFirst). */
export interface ReadEventsBackwardRequest {
  /** null: from the newest event readable now; otherwise only events older than this id */
  beforeId: string | null
  limit: number
}

export interface AuditInput {
  action: string
  target: string
  actor: string
  requestId: string
  params: Record<string, unknown>
  outcome: 'ok' | 'error' | 'denied'
  error?: string
}

export interface AuditEvent extends AuditInput {
  id: string
  time: number
}

export interface ListAuditRequest {
  limit: number
  action?: string
  target?: string
  /** only events with time >= since */
  since?: number
  /** page backwards: only events older than this id */
  beforeId?: string
}

/** The states a task ends in: what retention prunes. */
export type FinalState = 'succeeded' | 'canceled' | 'dead'

export const FINAL_STATES: readonly FinalState[] = ['succeeded', 'canceled', 'dead']

export interface PruneRequest {
  /** the final state whose tasks are deleted; each state has its own retention */
  state: FinalState
  /** delete tasks of that state finished before backend-now minus this */
  finishedOlderThanMs: number
  /** at most this many per call, oldest finished first, so pruning never holds locks for long */
  limit: number
}

/** One small keyed document (a schedule, a definition), shared by every node. */
export interface StoredRecord {
  key: string
  value: unknown
  /** 1 on creation, +1 on every write: the compare-and-set token */
  version: number
  /** backend clock, epoch ms */
  updatedAt: number
}

export interface PutRecordOptions {
  /**
   * Compare-and-set. Absent: write unconditionally. null: only when the key does not
   * exist. A number: only when the stored version equals it.
   */
  ifVersion?: number | null
}

export type PutRecordResult =
  | { ok: true, record: StoredRecord }
  /** the condition did not hold: nothing was written; `current` is what is stored */
  | { ok: false, current: StoredRecord | null }

export interface ListRecordsRequest {
  limit: number
  /** keyset paging: only keys sorting after this one (byte order) */
  afterKey?: string
}

/**
 * Which task lists (listTasks, listDLQ) carry an exact `total`. A total is exact or
 * null, never an estimate.
 */
export interface TaskTotals {
  /** a list filtered by these fields only (or not at all) always carries its exact total */
  exact: Array<keyof TaskFilter>
  /**
   * A list that also filters by another honoured field (counting it means examining
   * tasks one by one) carries its exact total while the backend stores at most this
   * many tasks, and null whenever more than this many tasks match; in between, exact
   * or null. 0: such lists never carry a total.
   */
  examineUpTo: number
}

export interface BackendCapabilities {
  /** which TaskFilter fields listTasks/listDLQ honour */
  taskFilters: Array<keyof TaskFilter>
  /** which lists carry `total`; null: none does (total is always null) */
  taskCount: TaskTotals | null
  priorities: boolean
  delayedTasks: boolean
  idempotencyKeys: boolean
  /** the idempotency modes enqueue honours beyond 'reject' (absent: only 'reject') */
  idempotencyModes?: IdempotencyMode[]
  cancel: boolean
  queuePause: boolean
  globalPause: boolean
  queueWeights: boolean
  rateLimit: boolean
  leaderLock: boolean
  workerRegistry: boolean
  eventLog: boolean
  /**
   * enqueue appends the events its request carries atomically with the tasks
   * (EnqueueEvents). Absent or false: core appends `task.enqueued` after enqueue
   * returns, and a worker of another process may log a task's start before it.
   */
  enqueueEvents?: boolean
  audit: boolean
  /** subscribeWork wakes idle workers when tasks arrive */
  workNotifications: boolean
  /**
   * awaitPushedTasks: enqueue leases a task that can start at once straight to an idle
   * worker waiting for it, so the worker starts it without a lease call of its own.
   * Absent or false: the method is not offered.
   */
  pushDelivery?: boolean
  /**
   * completeAndLease costs the backend markedly less per task than completeTasks then
   * leaseTasks (its acks take the next tasks in their own step): while a worker's lease
   * calls are flowing, its acks wait (a few ms at most) for the next lease call to carry
   * them instead of going in calls of their own. Absent or false: acks go out on their
   * own schedule, and ride along only when a lease call finds some waiting.
   */
  acksAwaitLeases?: boolean
  /**
   * Tasks a worker's lease call asks for while a single queue of short tasks stays deep
   * (it holds up to two such calls' worth waiting for slots). Absent: 8 of its batches,
   * at most 500. Declared: 20 of its batches, at most this (so a worker with a small
   * batch, which defaults to its concurrency, still asks for little). An embedded
   * database declares more: every worker of it is in its process, and each call costs
   * it much more than a task does.
   */
  deepLeaseCall?: number
  /** putRecord/getRecord/listRecords/deleteRecord and claimOnce (schedules, definitions) */
  records: boolean
  /** NewTask.dependsOn (the blocked state) and taskLinks; absent or false: neither */
  dependencies?: boolean
  /** per-queue and per-handler flow limits enforced by leaseTasks (setFlowLimit and friends) */
  flowControl?: boolean
  /**
   * the scope kinds setFlowLimit takes when flowControl is on; absent: queue and handler
   * (flowScopeKindsOf). A kind left out is refused with UNSUPPORTED_BY_BACKEND.
   */
  flowScopeKinds?: readonly FlowScopeKind[]
}

/** the flow scope kinds a backend enforces: none without flowControl, else flowScopeKinds or queue and handler */
export function flowScopeKindsOf (caps: Pick<BackendCapabilities, 'flowControl' | 'flowScopeKinds'>): readonly FlowScopeKind[] {
  if (caps.flowControl !== true) return []
  return caps.flowScopeKinds ?? ['queue', 'handler']
}

export type Unsubscribe = () => Promise<void>

export interface Backend {
  /** short name for health and logs, e.g. "postgres", "pglite", "redis", "bullmq" */
  readonly name: string
  readonly capabilities: BackendCapabilities

  /** connect, apply migrations/scripts; idempotent */
  init (): Promise<void>
  close (): Promise<void>
  /** the backend's clock (epoch ms) */
  now (): Promise<number>

  // --- producing ---------------------------------------------------------
  /**
   * Results in request order; registers unknown queues. With `events` (only passed to
   * a backend declaring `enqueueEvents`), appends an event for each created task in
   * the same atomic step.
   */
  enqueue (tasks: NewTask[], events?: EnqueueEvents): Promise<EnqueueResult[]>

  // --- working -----------------------------------------------------------
  /** attempts++ and state processing for each task returned; [] when globally paused or the worker id is cordoned */
  leaseTasks (req: LeaseRequest): Promise<LeasedTask[]>
  /** succeeded with its result (if any); lastError is cleared, the error history kept */
  completeTasks (items: CompleteRequest[]): Promise<AckOutcome[]>
  /**
   * Optional: completeTasks(acks) followed by leaseTasks(lease), in one round trip.
   * Same semantics and validation as those two calls, each item atomic on its own:
   * an ack that lost its lease is 'lease_lost' and the rest still succeed. The acks
   * are applied even when nothing can be leased (globally paused, queues empty).
   * Workers use it to write acks and fetch the next batch together; backends
   * without it are driven through the two calls.
   */
  completeAndLease? (acks: CompleteRequest[], lease: LeaseRequest): Promise<{ acks: AckOutcome[], leased: LeasedTask[] }>
  failTasks (items: FailRequest[]): Promise<FailOutcome[]>
  /** new lease expiry per item, or null where the lease was lost */
  extendLeases (items: LeaseRef[], leaseMs: number): Promise<Array<number | null>>
  /**
   * Stores each task's progress (replacing the previous one) where the lease still
   * holds; 'lease_lost' changes nothing. Workers coalesce a handler's calls, so this
   * sees at most one write per task in flight.
   */
  setTaskProgress (items: ProgressRequest[]): Promise<AckOutcome[]>
  /** give leased tasks back without consuming the attempt (graceful shutdown) */
  releaseTasks (items: LeaseRef[]): Promise<AckOutcome[]>
  /** processing tasks whose lease expired: requeue, or dead-letter on their last attempt */
  recoverExpiredLeases (limit: number): Promise<RecoveredLeases>
  /** calls listener (with the queue name) when a task becomes ready; optional by capability */
  subscribeWork? (listener: (queue: string) => void): Promise<Unsubscribe>
  /**
   * Optional (capability `pushDelivery`): registers the worker as idle for req.queues and
   * req.handlers with req.limit free slots, leases once (so nothing enqueued before the
   * registration is missed), and when that finds nothing waits up to req.waitMs (or until
   * req.signal aborts) for tasks an enqueue leases to it directly; then unregisters, in
   * the same step as it collects what was pushed, and returns the tasks, leased to it
   * exactly as leaseTasks leases them. A task an enqueue can push is one ready at once,
   * of a queue not paused, while nothing is paused globally and no flow or rate limit is
   * stored; every other task wakes workers as before (subscribeWork). A push whose
   * worker is gone is an ordinary lease: it expires and is recovered.
   */
  awaitPushedTasks? (req: PushWaitRequest): Promise<LeasedTask[]>

  // --- operating on tasks --------------------------------------------------
  /** wins atomically against leasing: only scheduled/ready/retrying/blocked tasks can be canceled; blocked children of the task follow by their policy */
  cancelTask (id: string): Promise<CancelOutcome>
  requeueTasks (req: RequeueRequest): Promise<RequeueResult>
  deleteTasks (req: DeleteRequest): Promise<DeleteResult>
  /**
   * One operator action over many tasks (TaskAction), each task atomic on its own: its
   * state is re-checked in the same step that changes it, so a task a worker leased in
   * between is skipped, never changed.
   */
  applyTaskAction (req: TaskActionRequest): Promise<TaskActionResult>
  getTask (id: string): Promise<Task | null>
  /** the retained task holding this idempotency key, or null */
  getTaskByKey (key: string): Promise<Task | null>
  /**
   * Order: with state dead/succeeded/canceled, most recently finished first; with
   * state ready/scheduled/retrying, the order they will run; otherwise newest first.
   */
  listTasks (req: ListTasksRequest): Promise<TaskPage>
  dlqStats (): Promise<DLQStats>
  /**
   * The direct dependency links of each stored task named (capability `dependencies`);
   * unknown ids are left out. Core walks the graph with it (GetTaskGraph), bounded.
   */
  taskLinks (ids: string[]): Promise<TaskLinks[]>
  /**
   * Optional (capability `dependencies`): calls listener, in this process, with the
   * tasks a dependency cascade canceled or dead-lettered (CascadedTask), when the call
   * of this backend object that caused it returns: an ack or failure, lease recovery or
   * release, a cancel, a delete, a bulk action, an enqueue naming a parent that is dead
   * already. Each cascade is reported once, by the call that ran it (at most
   * MAX_CASCADE_REPORT tasks per call), never for the parent itself, which its caller
   * sees. The metrics history counts the dead ones there. Returns the function that
   * removes the listener. A listener must not throw and must not block.
   */
  watchCascades? (listener: (tasks: CascadedTask[]) => void): () => void
  /**
   * Distinct (queue, handler) pairs among pending tasks (ready, scheduled or
   * retrying) of the given queues, at most `limit`. The admin service compares them
   * with the live workers' handlers to report work no worker can run. Cost
   * O(queues × handlers), never O(tasks); a backend that has to scan examines a
   * bounded number of tasks per queue and says so in its README.
   */
  pendingHandlers (req: PendingHandlersRequest): Promise<PendingHandler[]>
  /**
   * Deletes tasks of one final state that finished before backend-now minus the age,
   * as deleteTasks does: counts follow and their idempotency keys are free again.
   * Returns how many were deleted.
   */
  pruneFinished (req: PruneRequest): Promise<number>

  // --- queues -----------------------------------------------------------------
  /**
   * Optional: queueStats(), listWorkers(), getCoordinationState(), pendingHandlers()
   * over the listed queues and a readEvents() page, in one round trip; each part as
   * the separate call answers it (read at nearly the same moment, not atomically).
   * The admin overview uses it; backends without it are driven through the calls.
   */
  readOverview? (req: OverviewReadRequest): Promise<OverviewRead>
  /** every known queue in one call; cost O(queues), never O(tasks) */
  queueStats (names?: string[]): Promise<QueueStats[]>
  /** register queues so they are listed before their first task */
  ensureQueues (names: string[]): Promise<void>
  /** null clears the override */
  setQueueWeight (name: string, weight: number | null): Promise<void>
  setQueuePaused (name: string, paused: boolean): Promise<void>

  // --- coordination -------------------------------------------------------------
  setGlobalPause (paused: boolean): Promise<void>
  getCoordinationState (): Promise<CoordinationState>
  /** acquire, or renew when `holder` already holds it */
  acquireLeader (name: string, holder: string, ttlMs: number): Promise<LeaderAcquireResult>
  /** releases only if (holder, token) still hold it */
  releaseLeader (name: string, holder: string, token: number): Promise<boolean>
  setRateLimit (limit: RateLimit | null): Promise<void>
  /**
   * take up to n start permits from the cluster-wide limiter; returns how many were granted (n when unlimited).
   * Counted in the window of the call, not of the starts that follow it: leasing after it
   * is a separate step, so use leaseWithinRateLimit to lease within the limit.
   */
  takeRatePermits (n: number): Promise<number>
  /**
   * Optional (capability `rateLimit`; every built-in backend offers it): leaseTasks within
   * the global rate limit, its permits taken in the same atomic step as the lease and on
   * the clock that stamps each task's start. At most as many tasks are leased as the
   * current window has permits left; each leased task counts in the window of its own
   * Task.startedAt (windows of windowMs aligned to the epoch), so by startedAt no window
   * holds more than `limit` starts; a lease that took fewer tasks uses fewer permits.
   * With no limit stored it leases as leaseTasks does (rateLimited false). Workers lease
   * through it while a rate limit is stored (core/backend/rate-lease.ts); a backend
   * without it is driven through takeRatePermits then leaseTasks, where a permit taken
   * just before a window turns can start a task in the next window, past its limit.
   */
  leaseWithinRateLimit? (req: LeaseRequest): Promise<RateLimitedLease>

  // --- flow control (capability `flowControl`) -----------------------------------
  // Limits are stored in the backend and enforced atomically by leaseTasks (and
  // completeAndLease): a task of a saturated scope stays where it is, attempts
  // untouched, and counts as throttled. With no limit stored the lease path pays at
  // most one cheap check.
  /** create or replace the limit of one scope */
  setFlowLimit (scope: FlowScope, limit: FlowLimit): Promise<void>
  /** true when a limit existed */
  clearFlowLimit (scope: FlowScope): Promise<boolean>
  /** every stored limit with its usage, ordered by kind then name (at most MAX_LIST_LIMIT) */
  listFlowLimits (): Promise<FlowLimitState[]>

  // --- workers --------------------------------------------------------------------
  /**
   * Records a live worker (its entry lives ttlMs past this beat, then is stale for
   * WORKER_RETENTION_MS) and answers what operators set on it (cordoned). The beat
   * keeps a stored cordon: only setWorkerCordoned changes it.
   */
  heartbeatWorker (info: WorkerInfo, ttlMs: number): Promise<WorkerHeartbeat>
  /**
   * Live workers: a worker that stopped heartbeating drops out after its ttl. With
   * includeStale, also the retained entries past their ttl (stale: true). Ordered by id.
   */
  listWorkers (options?: ListWorkersOptions): Promise<WorkerInfo[]>
  removeWorker (id: string): Promise<void>
  /**
   * Stores the cordon flag on a registry entry (live or stale). From then on leaseTasks
   * (and completeAndLease's lease) for that worker id returns nothing, however the
   * worker learns of it; the worker also reads it from its next heartbeat. False when
   * the registry has no entry of that id.
   */
  setWorkerCordoned (id: string, cordoned: boolean): Promise<boolean>
  /**
   * Recovers now, as an expired lease would be (requeued, or dead-lettered when the
   * attempt was its last; the attempt stays counted), the processing tasks whose
   * lease the worker holds, whatever their lease expiry. Atomic per task: the worker's
   * later ack, failure or extension of such a task names a stale token (lease_lost).
   * With dryRun, reports what would happen and changes nothing.
   */
  releaseWorkerLeases (req: ReleaseWorkerLeasesRequest): Promise<RecoveredLeases>
  /**
   * Removes stale registry entries (their ttl passed) whose last heartbeat is at least
   * olderThanMs old, and returns them (stale: true); live entries are never removed.
   * With dryRun, returns them and removes nothing.
   */
  sweepWorkers (req: SweepWorkersRequest): Promise<WorkerInfo[]>

  // --- event log (SSE replay) ------------------------------------------------------------
  /** the events as stored, in order; with `{ answer: false }` possibly [] (AppendEventsOptions) */
  appendEvents (events: EventInput[], options?: AppendEventsOptions): Promise<StoredEvent[]>
  readEvents (req: ReadEventsRequest): Promise<StoredEvent[]>
  /**
   * The event log newest first: events older than `beforeId` (null: the newest), in the
   * reverse of readEvents' order, at most `limit` (clamped to MAX_LIST_LIMIT). A page of
   * it and a forward read from the same place meet without a gap or an overlap. Ids are
   * judged as readEvents judges afterId (VALIDATION_FAILED). Optional: a backend with an
   * event log that cannot read backwards leaves it out, and the timeline (ListEvents)
   * then answers only forward reads.
   */
  readEventsNewestFirst? (req: ReadEventsBackwardRequest): Promise<StoredEvent[]>
  /** calls listener after events are appended (any process); optional by capability */
  subscribeEvents? (listener: () => void): Promise<Unsubscribe>

  // --- audit ---------------------------------------------------------------------------------
  appendAudit (event: AuditInput): Promise<AuditEvent>
  /** newest first */
  listAudit (req: ListAuditRequest): Promise<AuditEvent[]>
  /** keep at most maxCount events and none older than maxAgeMs; returns how many were removed */
  pruneAudit (req: { maxCount?: number, maxAgeMs?: number }): Promise<number>

  // --- records (capability `records`) ------------------------------------------------------
  // Small JSON documents in named collections, for state every node must share (durable
  // schedules, definitions). Limits and argument checks: core/backend/records.ts.
  /** atomic write, optionally compare-and-set on the version */
  putRecord (collection: string, key: string, value: unknown, options?: PutRecordOptions): Promise<PutRecordResult>
  getRecord (collection: string, key: string): Promise<StoredRecord | null>
  /** ordered by key (byte order), at most limit (clamped to MAX_LIST_LIMIT) */
  listRecords (collection: string, req: ListRecordsRequest): Promise<StoredRecord[]>
  /** true when it existed; with ifVersion, only deletes that version */
  deleteRecord (collection: string, key: string, options?: { ifVersion?: number }): Promise<boolean>
  /**
   * Set-if-absent with expiry: true for exactly one caller cluster-wide until ttlMs
   * (backend clock) has passed since that caller's claim. Deduplicates one-off
   * actions such as firing a schedule for one instant.
   */
  claimOnce (key: string, ttlMs: number): Promise<boolean>
}
