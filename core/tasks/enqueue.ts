import { Errors } from '../errors.ts'
import type { NewTask } from '../backend/types.ts'

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

/** Validates one enqueue request and fills its defaults; throws VALIDATION_FAILED naming the field. */
export function normalizeNewTask (input: EnqueueInput, defaults: TaskDefaults, field = 'task'): NewTask {
  if (input === null || typeof input !== 'object') throw Errors.validation(`${field}: must be an object`, { details: { field } })
  const handler = assertName(`${field}.handler`, input.handler)
  const queue = assertName(`${field}.queue`, input.queue ?? defaults.queue)
  const payload = input.payload === undefined ? {} : input.payload
  let encoded: string | undefined
  try { encoded = JSON.stringify(payload) } catch { encoded = undefined }
  if (encoded === undefined) throw Errors.validation(`${field}.payload: must be JSON-serialisable`, { details: { field: `${field}.payload` } })
  if (Buffer.byteLength(encoded) > MAX_PAYLOAD_BYTES) {
    throw Errors.validation(`${field}.payload: larger than ${MAX_PAYLOAD_BYTES} bytes when encoded`, { details: { field: `${field}.payload` } })
  }
  const key = input.idempotencyKey
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
    throw Errors.validation(`${field}.idempotencyKey: must be a string of 1-${MAX_KEY_LENGTH} characters`, { details: { field: `${field}.idempotencyKey` } })
  }
  const runAt = input.runAt === undefined ? null : integerIn(`${field}.runAt`, input.runAt, 0, 8.64e15)
  return {
    queue,
    handler,
    payload,
    maxAttempts: integerIn(`${field}.maxAttempts`, input.maxAttempts ?? defaults.maxAttempts, 1, 1000),
    priority: integerIn(`${field}.priority`, input.priority ?? defaults.priority, -1000, 1000),
    timeoutMs: integerIn(`${field}.timeoutMs`, input.timeoutMs ?? defaults.timeoutMs, 1, 7 * 24 * 3600_000),
    runAt,
    delayMs: runAt === null ? integerIn(`${field}.delayMs`, input.delayMs ?? 0, 0, 365 * 24 * 3600_000) : 0,
    idempotencyKey: key ?? null
  }
}
