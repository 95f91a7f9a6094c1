import { Errors } from '../errors.ts'
import { markNormalized } from '../backend/payload-json.ts'
import { checkStorableJson, checkStorableString } from '../backend/storable.ts'
import { IDEMPOTENCY_MODES, MAX_PARENTS, PARENT_FAILURE_POLICIES, type IdempotencyMode, type NewTask, type ParentFailurePolicy } from '../backend/types.ts'

/** What callers (code, CLI, admin EnqueueTask) may pass; everything but handler is optional. */
export interface EnqueueInput {
  handler: string
  payload?: unknown
  queue?: string
  maxAttempts?: number
  priority?: number
  timeoutMs?: number
  /** absolute epoch ms */
  runAt?: number
  /** relative to the backend's clock; ignored when runAt is given */
  delayMs?: number
  idempotencyKey?: string
  /** ids of tasks that must succeed first (at most MAX_PARENTS); the task is blocked until then */
  dependsOn?: string[]
  /** what a parent that ends dead or canceled does to this task (default 'cancel') */
  onParentFailure?: ParentFailurePolicy
  /** what happens when idempotencyKey names a retained task (default reject); needs a key */
  idempotencyMode?: IdempotencyMode
  /** the tenant the task belongs to: a name of 1-128 characters */
  tenant?: string
  /** ties the tasks of one flow together: 1-255 characters, no control characters */
  correlationId?: string
}

export interface TaskDefaults {
  queue: string
  maxAttempts: number
  priority: number
  timeoutMs: number
}

export const DEFAULT_TASK_DEFAULTS: TaskDefaults = { queue: 'default', maxAttempts: 5, priority: 0, timeoutMs: 5 * 60_000 }

// Names end up in keys, URLs and metric labels: keep them boring.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/
const MAX_PAYLOAD_BYTES = 1024 * 1024
const MAX_KEY_LENGTH = 255
export const MAX_CORRELATION_ID_LENGTH = 255
// printable text: no C0/C1 controls, no unpaired surrogates (checkStorableString)
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** a tenant: the same boring names as queues and handlers (they end up in filters and labels) */
export function assertTenant (field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw Errors.validation(`${field}: must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit`, { details: { field } })
  }
  return value
}

export function assertCorrelationId (field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CORRELATION_ID_LENGTH || CONTROL.test(value)) {
    throw Errors.validation(`${field}: must be a string of 1-${MAX_CORRELATION_ID_LENGTH} characters without control characters`, { details: { field } })
  }
  checkStorableString(field, value)
  return value
}

export function assertIdempotencyMode (field: string, value: unknown): IdempotencyMode {
  if (!IDEMPOTENCY_MODES.includes(value as IdempotencyMode)) {
    throw Errors.validation(`${field}: must be one of ${IDEMPOTENCY_MODES.join(', ')}`, { details: { field } })
  }
  return value as IdempotencyMode
}
/** how far ahead a task may be scheduled, by delayMs or by runAt alike */
export const MAX_DELAY_MS = 365 * 24 * 3600_000

export function assertName (field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw Errors.validation(`${field}: must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit`, { details: { field } })
  }
  return value
}

function integerIn (field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw Errors.validation(`${field}: must be an integer from ${min} to ${max}`, { details: { field } })
  }
  return value
}

export interface NormalizeOptions {
  /** prefix of the fields errors name ('' for none): task.handler, tasks[3].queue */
  field?: string
  /** epoch ms runAt is bounded from (default Date.now()) */
  now?: number
}

/** Validates one enqueue request and fills its defaults; throws VALIDATION_FAILED naming the field. */
export function normalizeNewTask (input: EnqueueInput, defaults: TaskDefaults, options: string | NormalizeOptions = 'task'): NewTask {
  const { field = 'task', now } = typeof options === 'string' ? { field: options } : options
  const at = (name: string): string => field === '' ? name : `${field}.${name}`
  if (input === null || typeof input !== 'object') throw Errors.validation(`${field === '' ? 'task' : field}: must be an object`, { details: { field } })
  const handler = assertName(at('handler'), input.handler)
  const queue = assertName(at('queue'), input.queue ?? defaults.queue)
  const payload = input.payload === undefined ? {} : input.payload
  const payloadName = at('payload')
  checkStorableJson(payloadName, payload)
  let encoded: string | undefined
  try { encoded = JSON.stringify(payload) } catch { encoded = undefined }
  if (encoded === undefined) throw Errors.validation(`${payloadName}: must be JSON-serialisable`, { details: { field: payloadName } })
  if (Buffer.byteLength(encoded) > MAX_PAYLOAD_BYTES) {
    throw Errors.validation(`${payloadName}: larger than ${MAX_PAYLOAD_BYTES} bytes when encoded`, { details: { field: payloadName } })
  }
  const key = input.idempotencyKey
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
    throw Errors.validation(`${at('idempotencyKey')}: must be a string of 1-${MAX_KEY_LENGTH} characters`, { details: { field: at('idempotencyKey') } })
  }
  if (key !== undefined) checkStorableString(at('idempotencyKey'), key)
  let runAt: number | null = null
  if (input.runAt !== undefined) {
    runAt = integerIn(at('runAt'), input.runAt, 0, 8.64e15)
    const latest = (now ?? Date.now()) + MAX_DELAY_MS
    if (runAt > latest) {
      throw Errors.validation(`${at('runAt')}: at most ${MAX_DELAY_MS / (24 * 3600_000)} days from now, like delayMs (${new Date(latest).toISOString()})`, { details: { field: at('runAt') } })
    }
  }
  const dependencies = normalizeDependencies(input, at)
  const mode = input.idempotencyMode === undefined ? undefined : assertIdempotencyMode(at('idempotencyMode'), input.idempotencyMode)
  if (mode !== undefined && mode !== 'reject' && key === undefined) {
    throw Errors.validation(`${at('idempotencyMode')}: ${mode} needs an idempotencyKey`, { details: { field: at('idempotencyMode') } })
  }
  const tenant = input.tenant === undefined ? undefined : assertTenant(at('tenant'), input.tenant)
  const correlationId = input.correlationId === undefined ? undefined : assertCorrelationId(at('correlationId'), input.correlationId)
  const task: NewTask = {
    ...dependencies,
    queue,
    handler,
    payload,
    maxAttempts: integerIn(at('maxAttempts'), input.maxAttempts ?? defaults.maxAttempts, 1, 1000),
    priority: integerIn(at('priority'), input.priority ?? defaults.priority, -1000, 1000),
    timeoutMs: integerIn(at('timeoutMs'), input.timeoutMs ?? defaults.timeoutMs, 1, 7 * 24 * 3600_000),
    runAt,
    delayMs: runAt === null ? integerIn(at('delayMs'), input.delayMs ?? 0, 0, MAX_DELAY_MS) : 0,
    idempotencyKey: key ?? null
  }
  // only set when given, so the common task stays the same shape (and cost) as before
  if (mode !== undefined && mode !== 'reject') task.idempotencyMode = mode
  if (tenant !== undefined) task.tenant = tenant
  if (correlationId !== undefined) task.correlationId = correlationId
  // the backend stores this text (payloadJson) rather than encoding the payload again
  return markNormalized(task, encoded)
}

/** dependsOn and onParentFailure as NewTask carries them: both absent when there are no parents */
function normalizeDependencies (input: EnqueueInput, at: (name: string) => string): Pick<NewTask, 'dependsOn' | 'onParentFailure'> {
  const { dependsOn, onParentFailure } = input
  if (onParentFailure !== undefined && !PARENT_FAILURE_POLICIES.includes(onParentFailure)) {
    throw Errors.validation(`${at('onParentFailure')}: must be one of ${PARENT_FAILURE_POLICIES.join(', ')}`, { details: { field: at('onParentFailure') } })
  }
  if (dependsOn === undefined) return {}
  const field = at('dependsOn')
  if (!Array.isArray(dependsOn)) throw Errors.validation(`${field}: must be an array of task ids`, { details: { field } })
  const parents = [...new Set(dependsOn)]
  if (parents.length > MAX_PARENTS) throw Errors.validation(`${field}: at most ${MAX_PARENTS} parent tasks`, { details: { field } })
  for (const [i, parent] of parents.entries()) {
    if (typeof parent !== 'string' || parent.length === 0 || parent.length > MAX_KEY_LENGTH) {
      throw Errors.validation(`${field}[${i}]: must be a task id`, { details: { field: `${field}[${i}]` } })
    }
    checkStorableString(`${field}[${i}]`, parent)
  }
  if (parents.length === 0) return {}
  return { dependsOn: parents, onParentFailure: onParentFailure ?? 'cancel' }
}
