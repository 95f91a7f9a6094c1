import { Errors } from '../errors.ts'
import { checkClaim, checkCollection, checkIfVersion, checkRecordKey, checkRecordLimit, encodeRecordValue } from './records.ts'
import { checkProgress, checkResult, isNoResult, RESULT_MAX_BYTES_CEILING } from './results.ts'
import { isNormalized } from './payload-json.ts'
import { checkStorableJson, checkStorableString, unstorableReason } from './storable.ts'
import { FINAL_STATES, FLOW_SCOPE_KINDS, IDEMPOTENCY_MODES, TASK_ACTION_KINDS, TASK_STATES, type CompleteRequest, type FinalState, type FlowScopeKind, type NewTask, type TaskState, MAX_PARENTS, MAX_PUSH_WAIT_MS, PARENT_FAILURE_POLICIES, TASK_PAGE_POSITION_MAX, type ParentFailurePolicy } from './types.ts'

// The argument rules of the backend contract, in one place: the guard in
// argument-guard.ts runs them before a call reaches any backend, so every backend
// (ours and third-party ones) receives only valid input and a bad call fails the
// same way (VALIDATION_FAILED naming the field) whichever backend serves it.
// Backends keep only the rules of their own storage (the shape of their ids and
// cursors, BullMQ's queue names without ':').
//
// These run on the hot path (enqueue, lease, ack): flat loops over the arguments,
// no copies; payloads normalizeNewTask already walked are not walked again.

/** items per batch call (enqueue, acks, ids) */
export const MAX_BATCH = 10_000
export const MAX_NAME_LENGTH = 255
export const MAX_LEASE_MS = 7 * 24 * 3600_000
export const MAX_TTL_MS = 30 * 24 * 3600_000
export const MAX_PRUNE_LIMIT = 100_000
const MAX_RATE_WINDOW_MS = 24 * 3600_000

const fail = (field: string, message: string): never => {
  throw Errors.validation(`${field}: ${message}`, { details: { field } })
}

export function integer (field: string, value: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`)
  }
  return value as number
}

/** a name (queue, handler, worker, lock, event type): 1-255 characters every backend can store */
export function name (field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) fail(field, `must be a string of 1-${MAX_NAME_LENGTH} characters`)
  return checkStorableString(field, value as string)
}

/** a string every backend can store (a search text, an audit field) */
export function text (field: string, value: unknown): string {
  if (typeof value !== 'string') fail(field, 'must be a string')
  return checkStorableString(field, value as string)
}

function boolean (field: string, value: unknown): void {
  if (typeof value !== 'boolean') fail(field, 'must be a boolean')
}

function array (field: string, value: unknown, max = MAX_BATCH): unknown[] {
  if (!Array.isArray(value)) fail(field, 'must be an array')
  if ((value as unknown[]).length > max) fail(field, `at most ${max} items per call`)
  return value as unknown[]
}

function object (field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object') fail(field, 'must be an object')
  return value as Record<string, unknown>
}

export function names (field: string, value: unknown): void {
  const list = array(field, value)
  for (let i = 0; i < list.length; i++) name(`${field}[${i}]`, list[i])
}

export function state (field: string, value: unknown): TaskState {
  if (!TASK_STATES.includes(value as TaskState)) fail(field, `must be one of ${TASK_STATES.join(', ')}`)
  return value as TaskState
}

export const MAX_FLOW_CONCURRENCY = 1_000_000
export const MAX_FLOW_RATE = 1_000_000_000

/** a flow limit scope: { kind: 'queue' | 'handler', name } */
export function flowScope (value: unknown, field = 'scope'): void {
  const scope = object(field, value)
  if (!FLOW_SCOPE_KINDS.includes(scope.kind as FlowScopeKind)) fail(`${field}.kind`, `must be one of ${FLOW_SCOPE_KINDS.join(', ')}`)
  name(`${field}.name`, scope.name)
}

/** a flow limit: concurrency and/or rate, at least one set */
export function flowLimit (value: unknown, field = 'limit'): void {
  const limit = object(field, value)
  if (limit.concurrency !== null) integer(`${field}.concurrency`, limit.concurrency, 1, MAX_FLOW_CONCURRENCY)
  if (limit.rate !== null) {
    const rate = object(`${field}.rate`, limit.rate)
    integer(`${field}.rate.limit`, rate.limit, 1, MAX_FLOW_RATE)
    integer(`${field}.rate.windowMs`, rate.windowMs, 1, MAX_RATE_WINDOW_MS)
  }
  if (limit.concurrency === null && limit.rate === null) fail(field, 'set concurrency, rate or both')
}

function states (field: string, value: unknown): void {
  const list = array(field, value, TASK_STATES.length)
  if (list.length === 0) fail(field, 'must name at least one task state')
  for (let i = 0; i < list.length; i++) state(`${field}[${i}]`, list[i])
}

/** a task id: its shape is the backend's own, but it is a storable string */
function id (field: string, value: unknown): void {
  name(field, value)
}

function ids (field: string, value: unknown): void {
  const list = array(field, value)
  for (let i = 0; i < list.length; i++) id(`${field}[${i}]`, list[i])
}

function optional (value: unknown, check: () => void): void {
  if (value !== undefined) check()
}

/** (task id, lease token) pairs: malformed ones are a caller bug, not a lost lease */
function leaseRefs (field: string, value: unknown): void {
  const list = array(field, value)
  for (let i = 0; i < list.length; i++) {
    const ref = list[i] as { id?: unknown, leaseToken?: unknown } | null
    if (ref === null || typeof ref !== 'object' || typeof ref.id !== 'string' || typeof ref.leaseToken !== 'string') {
      fail(`${field}[${i}]`, 'must be a lease reference { id, leaseToken } of strings')
    }
  }
}

// Acks the worker built: it checked their result against tasks.resultMaxBytes (at most
// the ceiling), so the guard does not encode it again.
const checkedAcks = new WeakSet<CompleteRequest>()

export function markResultChecked (ack: CompleteRequest): CompleteRequest {
  checkedAcks.add(ack)
  return ack
}

/** lease refs with an optional result each: storable JSON of at most RESULT_MAX_BYTES_CEILING bytes */
function acks (field: string, value: unknown): void {
  leaseRefs(field, value)
  const list = value as CompleteRequest[]
  for (let i = 0; i < list.length; i++) {
    const ack = list[i] as CompleteRequest
    if (isNoResult(ack.result) || checkedAcks.has(ack)) continue
    const checked = checkResult(ack.result, RESULT_MAX_BYTES_CEILING)
    if (!checked.ok) fail(`${field}[${i}].result`, `cannot be stored: ${checked.reason}`)
  }
}

const isName = (value: unknown): boolean =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH && unstorableReason(value) === null
const isIntegerIn = (value: unknown, min: number, max: number): boolean =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max

/** the hot path: no field names are built unless something is wrong */
function isValidNewTask (task: NewTask): boolean {
  return task !== null && typeof task === 'object' &&
    isName(task.queue) && isName(task.handler) &&
    isIntegerIn(task.maxAttempts, 1, 1000) && isIntegerIn(task.priority, -1000, 1000) &&
    isIntegerIn(task.timeoutMs, 1, MAX_LEASE_MS) &&
    (task.runAt === null || isIntegerIn(task.runAt, 0, 8.64e15)) &&
    isIntegerIn(task.delayMs, 0, Number.MAX_SAFE_INTEGER) &&
    (task.idempotencyKey === null || isName(task.idempotencyKey)) &&
    (task.dependsOn === undefined || isParentList(task.dependsOn)) &&
    (task.onParentFailure === undefined || PARENT_FAILURE_POLICIES.includes(task.onParentFailure)) &&
    (task.idempotencyMode === undefined || IDEMPOTENCY_MODES.includes(task.idempotencyMode)) &&
    (task.tenant === undefined || task.tenant === null || isName(task.tenant)) &&
    (task.correlationId === undefined || task.correlationId === null || isName(task.correlationId))
}

function isParentList (list: unknown): boolean {
  if (!Array.isArray(list) || list.length > MAX_PARENTS) return false
  for (const parent of list) if (!isName(parent)) return false
  return new Set(list).size === list.length
}

function newTask (field: () => string, value: unknown): void {
  if (isValidNewTask(value as NewTask)) {
    // tasks normalizeNewTask built had their payload walked there (payload-json.ts)
    if (!isNormalized(value as NewTask)) checkPayload(field(), value as NewTask)
    return
  }
  describeNewTask(field(), value)
}

function checkPayload (field: string, task: NewTask): void {
  const kind = typeof task.payload
  if (kind === 'undefined' || kind === 'function' || kind === 'symbol') fail(`${field}.payload`, 'must be a JSON value')
  checkStorableJson(`${field}.payload`, task.payload)
}

/** throws naming the first bad field of a task isValidNewTask refused */
function describeNewTask (field: string, value: unknown): void {
  const task = object(field, value) as unknown as NewTask
  name(`${field}.queue`, task.queue)
  name(`${field}.handler`, task.handler)
  integer(`${field}.maxAttempts`, task.maxAttempts, 1, 1000)
  integer(`${field}.priority`, task.priority, -1000, 1000)
  integer(`${field}.timeoutMs`, task.timeoutMs, 1, MAX_LEASE_MS)
  if (task.runAt !== null) integer(`${field}.runAt`, task.runAt, 0, 8.64e15)
  integer(`${field}.delayMs`, task.delayMs, 0)
  if (task.idempotencyKey !== null) name(`${field}.idempotencyKey`, task.idempotencyKey)
  if (task.dependsOn !== undefined) {
    const parents = array(`${field}.dependsOn`, task.dependsOn, MAX_PARENTS)
    for (let i = 0; i < parents.length; i++) id(`${field}.dependsOn[${i}]`, parents[i])
    if (new Set(parents).size !== parents.length) fail(`${field}.dependsOn`, 'must not name a parent twice')
  }
  if (task.onParentFailure !== undefined && !PARENT_FAILURE_POLICIES.includes(task.onParentFailure as ParentFailurePolicy)) {
    fail(`${field}.onParentFailure`, `must be one of ${PARENT_FAILURE_POLICIES.join(', ')}`)
  }
  if (task.idempotencyMode !== undefined && !IDEMPOTENCY_MODES.includes(task.idempotencyMode)) fail(`${field}.idempotencyMode`, `must be one of ${IDEMPOTENCY_MODES.join(', ')}`)
  if (task.tenant !== undefined && task.tenant !== null) name(`${field}.tenant`, task.tenant)
  if (task.correlationId !== undefined && task.correlationId !== null) name(`${field}.correlationId`, task.correlationId)
  fail(field, 'must be a task')
}

function taskFilter (prefix: string, filter: Record<string, unknown>): void {
  optional(filter.state, () => state(`${prefix}state`, filter.state))
  optional(filter.queue, () => name(`${prefix}queue`, filter.queue))
  optional(filter.handler, () => name(`${prefix}handler`, filter.handler))
  optional(filter.query, () => text(`${prefix}query`, filter.query))
  optional(filter.since, () => integer(`${prefix}since`, filter.since, 0))
  optional(filter.until, () => integer(`${prefix}until`, filter.until, 0))
  optional(filter.timeField, () => {
    if (filter.timeField !== 'created' && filter.timeField !== 'finished') fail(`${prefix}timeField`, 'must be created or finished')
  })
  optional(filter.tenant, () => name(`${prefix}tenant`, filter.tenant))
  optional(filter.correlationId, () => name(`${prefix}correlationId`, filter.correlationId))
}

function leaseRequest (value: unknown): void {
  const req = object('lease', value)
  name('workerId', req.workerId)
  names('queues', req.queues)
  integer('limit', req.limit, 0)
  integer('leaseMs', req.leaseMs, 1, MAX_LEASE_MS)
  optional(req.handlers, () => names('handlers', req.handlers))
}

function jsonValue (field: string, value: unknown): void {
  if (value === undefined) return
  let encoded: string | undefined
  try { encoded = JSON.stringify(value) } catch { encoded = undefined }
  if (encoded === undefined) fail(field, 'must be JSON-serialisable')
  checkStorableJson(field, value)
}

type Check = (args: unknown[]) => void

/** per method of the Backend contract: checks its arguments or throws VALIDATION_FAILED */
export const ARGUMENT_CHECKS: Readonly<Record<string, Check>> = {
  enqueue ([tasks, events]) {
    const list = array('tasks', tasks)
    for (let i = 0; i < list.length; i++) newTask(() => `tasks[${i}]`, list[i])
    if (events === undefined) return
    const spec = object('events', events)
    name('events.type', spec.type)
    const data = array('events.data', spec.data)
    if (data.length !== list.length) fail('events.data', `must hold one entry per task (${list.length})`)
    for (let i = 0; i < data.length; i++) {
      const entry = object(`events.data[${i}]`, data[i])
      if (Array.isArray(entry)) fail(`events.data[${i}]`, 'must be an object')
      if ('id' in entry) fail(`events.data[${i}].id`, 'is the task id the backend fills in')
    }
  },
  leaseTasks ([req]) { leaseRequest(req) },
  awaitPushedTasks ([req]) {
    leaseRequest(req)
    const wait = req as { waitMs?: unknown, signal?: unknown }
    integer('waitMs', wait.waitMs, 1, MAX_PUSH_WAIT_MS)
    if (wait.signal !== undefined && !(wait.signal instanceof AbortSignal)) fail('signal', 'must be an AbortSignal')
  },
  completeAndLease ([items, req]) {
    acks('acks', items)
    leaseRequest(req)
  },
  completeTasks ([items]) { acks('items', items) },
  setTaskProgress ([items]) {
    leaseRefs('items', items)
    const list = items as Array<{ progress?: unknown }>
    for (let i = 0; i < list.length; i++) checkProgress(`items[${i}].progress`, list[i]!.progress)
  },
  releaseTasks ([items]) { leaseRefs('items', items) },
  failTasks ([items]) {
    leaseRefs('items', items)
    const list = items as Array<{ error?: unknown, retryDelayMs?: unknown }>
    for (let i = 0; i < list.length; i++) {
      const item = list[i] as { error?: { message?: unknown, stack?: unknown }, retryDelayMs?: unknown }
      if (item.retryDelayMs !== null) integer(`items[${i}].retryDelayMs`, item.retryDelayMs, 0)
      if (item.error === null || typeof item.error !== 'object' || typeof item.error.message !== 'string') fail(`items[${i}].error.message`, 'must be a string')
    }
  },
  extendLeases ([items, leaseMs]) {
    leaseRefs('items', items)
    integer('leaseMs', leaseMs, 1, MAX_LEASE_MS)
  },
  recoverExpiredLeases ([limit]) { integer('limit', limit, 0) },

  cancelTask ([taskId]) { id('id', taskId) },
  getTask ([taskId]) { id('id', taskId) },
  taskLinks ([list]) { ids('ids', list) },
  getTaskByKey ([key]) { name('key', key) },
  requeueTasks ([value]) {
    const req = object('request', value)
    states('fromStates', req.fromStates)
    if ((req.ids === undefined) === (req.filter === undefined)) fail('ids', 'give exactly one of ids or filter')
    if (req.ids !== undefined) ids('ids', req.ids)
    if (req.filter !== undefined) {
      const filter = object('filter', req.filter)
      taskFilter('filter.', filter)
      integer('filter.limit', filter.limit, 0)
    }
    optional(req.queue, () => name('queue', req.queue))
    jsonValue('payload', req.payload)
    optional(req.dryRun, () => boolean('dryRun', req.dryRun))
  },
  deleteTasks ([value]) {
    const req = object('request', value)
    states('fromStates', req.fromStates)
    ids('ids', req.ids)
    optional(req.dryRun, () => boolean('dryRun', req.dryRun))
  },
  applyTaskAction ([value]) {
    const req = object('request', value)
    const action = object('action', req.action)
    if (!TASK_ACTION_KINDS.includes(action.kind as never)) fail('action.kind', `must be one of ${TASK_ACTION_KINDS.join(', ')}`)
    if (action.kind === 'reschedule') {
      optional(action.runAt, () => integer('action.runAt', action.runAt, 0))
      optional(action.priority, () => integer('action.priority', action.priority, -1000, 1000))
      optional(action.maxAttempts, () => integer('action.maxAttempts', action.maxAttempts, 1, 1000))
      if (action.runAt === undefined && action.priority === undefined && action.maxAttempts === undefined) fail('action', 'reschedule needs runAt, priority or maxAttempts')
    }
    if (action.kind === 'move') name('action.queue', action.queue)
    if ((req.ids === undefined) === (req.filter === undefined)) fail('ids', 'give exactly one of ids or filter')
    if (req.ids !== undefined) ids('ids', req.ids)
    if (req.filter !== undefined) {
      const filter = object('filter', req.filter)
      taskFilter('filter.', filter)
      integer('filter.limit', filter.limit, 0)
    }
    optional(req.dryRun, () => boolean('dryRun', req.dryRun))
  },
  listTasks ([value]) {
    const req = object('request', value)
    integer('limit', req.limit, 0)
    integer('offset', req.offset, 0)
    optional(req.after, () => {
      if (typeof req.after !== 'string' || req.after === '' || req.after.length > TASK_PAGE_POSITION_MAX) fail('after', `must be a non-empty string of at most ${TASK_PAGE_POSITION_MAX} characters`)
      if (req.offset !== 0) fail('offset', 'must be 0 with after (a position replaces the offset)')
    })
    taskFilter('', req)
  },
  pruneFinished ([value]) {
    const req = object('request', value)
    if (!FINAL_STATES.includes(req.state as FinalState)) fail('state', `must be one of ${FINAL_STATES.join(', ')}`)
    integer('finishedOlderThanMs', req.finishedOlderThanMs, 0)
    integer('limit', req.limit, 0, MAX_PRUNE_LIMIT)
  },
  pendingHandlers ([value]) {
    const req = object('request', value)
    names('queues', req.queues)
    integer('limit', req.limit, 0)
  },

  queueStats ([list]) { optional(list, () => names('names', list)) },
  readOverview ([value]) {
    const req = object('request', value)
    integer('pendingLimit', req.pendingLimit, 0)
    if (req.events !== null) {
      const events = object('events', req.events)
      integer('events.limit', events.limit, 0)
      if (events.afterId != null && typeof events.afterId !== 'string') fail('events.afterId', 'must be an event id or null')
    }
  },
  ensureQueues ([list]) { names('names', list) },
  setQueueWeight ([queue, weight]) {
    name('name', queue)
    if (weight !== null) integer('weight', weight, 0, 1000)
  },
  setQueuePaused ([queue, paused]) {
    name('name', queue)
    boolean('paused', paused)
  },

  setGlobalPause ([paused]) { boolean('paused', paused) },
  acquireLeader ([lock, holder, ttlMs]) {
    name('name', lock)
    name('holder', holder)
    integer('ttlMs', ttlMs, 1, MAX_TTL_MS)
  },
  releaseLeader ([lock, holder, token]) {
    name('name', lock)
    name('holder', holder)
    if (!Number.isSafeInteger(token)) fail('token', 'must be an integer')
  },
  setRateLimit ([limit]) {
    if (limit === null) return
    const rate = object('rateLimit', limit)
    integer('rateLimit.limit', rate.limit, 0)
    integer('rateLimit.windowMs', rate.windowMs, 1, MAX_RATE_WINDOW_MS)
  },
  takeRatePermits ([n]) { integer('n', n, 0) },
  leaseWithinRateLimit ([req]) { leaseRequest(req) },
  setFlowLimit ([scope, limit]) {
    flowScope(scope)
    flowLimit(limit)
  },
  clearFlowLimit ([scope]) { flowScope(scope) },

  heartbeatWorker ([value, ttlMs]) {
    const info = object('info', value)
    name('info.id', info.id)
    names('info.queues', info.queues)
    names('info.handlers', info.handlers)
    integer('ttlMs', ttlMs, 1, MAX_TTL_MS)
  },
  removeWorker ([workerId]) { name('id', workerId) },
  listWorkers ([options]) {
    if (options === undefined) return
    const o = object('options', options)
    if (o.includeStale !== undefined) boolean('options.includeStale', o.includeStale)
  },
  setWorkerCordoned ([workerId, cordoned]) {
    name('id', workerId)
    boolean('cordoned', cordoned)
  },
  releaseWorkerLeases ([value]) {
    const req = object('req', value)
    name('workerId', req.workerId)
    integer('limit', req.limit, 0)
    if (req.dryRun !== undefined) boolean('dryRun', req.dryRun)
  },
  sweepWorkers ([value]) {
    const req = object('req', value)
    integer('olderThanMs', req.olderThanMs, 0, MAX_TTL_MS)
    integer('limit', req.limit, 0)
    if (req.dryRun !== undefined) boolean('dryRun', req.dryRun)
  },

  appendEvents ([events, options]) {
    const list = array('events', events)
    for (let i = 0; i < list.length; i++) {
      const event = object(`events[${i}]`, list[i])
      name(`events[${i}].type`, event.type)
    }
    optional(options, () => {
      const o = object('options', options)
      if (o.answer !== undefined) boolean('options.answer', o.answer)
    })
  },
  readEvents ([value]) {
    const req = object('request', value)
    integer('limit', req.limit, 0)
    if (req.afterId != null && typeof req.afterId !== 'string') fail('afterId', 'must be an event id or null')
  },
  readEventsNewestFirst ([value]) {
    const req = object('request', value)
    integer('limit', req.limit, 0)
    if (req.beforeId != null && typeof req.beforeId !== 'string') fail('beforeId', 'must be an event id or null')
  },
  appendAudit ([value]) {
    const event = object('event', value)
    name('action', event.action)
    // Audit strings are what callers sent, refused or not: only their type is checked
    // here, so recording a refused request never fails on its own content.
    for (const field of ['target', 'actor', 'requestId'] as const) if (typeof event[field] !== 'string') fail(field, 'must be a string')
    if (!['ok', 'error', 'denied'].includes(event.outcome as string)) fail('outcome', 'must be ok, error or denied')
    optional(event.error, () => { if (typeof event.error !== 'string') fail('error', 'must be a string') })
  },
  listAudit ([value]) {
    const req = object('request', value)
    integer('limit', req.limit, 0)
    optional(req.action, () => { if (typeof req.action !== 'string') fail('action', 'must be a string') })
    optional(req.target, () => { if (typeof req.target !== 'string') fail('target', 'must be a string') })
    optional(req.since, () => integer('since', req.since, 0))
    optional(req.beforeId, () => { if (typeof req.beforeId !== 'string') fail('beforeId', 'must be an audit event id') })
  },
  pruneAudit ([value]) {
    const req = object('request', value)
    optional(req.maxCount, () => integer('maxCount', req.maxCount, 0))
    optional(req.maxAgeMs, () => integer('maxAgeMs', req.maxAgeMs, 0))
  },

  putRecord ([collection, key, value, options]) {
    checkCollection(collection)
    checkStorableString('key', checkRecordKey('key', key))
    encodeRecordValue(value)
    checkStorableJson('value', value)
    checkIfVersion(options as { ifVersion?: number } | undefined)
  },
  getRecord ([collection, key]) {
    checkCollection(collection)
    checkStorableString('key', checkRecordKey('key', key))
  },
  listRecords ([collection, value]) {
    checkCollection(collection)
    const req = object('request', value)
    checkRecordLimit(req.limit)
    optional(req.afterKey, () => checkStorableString('afterKey', checkRecordKey('afterKey', req.afterKey)))
  },
  deleteRecord ([collection, key, options]) {
    checkCollection(collection)
    checkStorableString('key', checkRecordKey('key', key))
    checkIfVersion(options as { ifVersion?: number } | undefined)
  },
  claimOnce ([key, ttlMs]) {
    checkStorableString('key', checkClaim(key, ttlMs).key)
  }
}
