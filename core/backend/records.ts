import { Errors } from '../errors.ts'
import { MAX_LIST_LIMIT, type PutRecordOptions } from './types.ts'

// Argument rules of the record methods, shared by every backend so a bad call fails
// the same way (VALIDATION_FAILED naming the field) whichever backend serves it.
// Records are meant for small shared state (a schedule, a definition), not for bulk
// data: their size is capped so a listing stays cheap.

export const RECORD_COLLECTION_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/
export const RECORD_KEY_MAX_LENGTH = 256
export const RECORD_VALUE_MAX_BYTES = 256 * 1024
export const CLAIM_KEY_MAX_LENGTH = 512
export const CLAIM_TTL_MAX_MS = 30 * 24 * 3600_000

export function checkCollection (collection: unknown): string {
  if (typeof collection !== 'string' || !RECORD_COLLECTION_PATTERN.test(collection)) {
    throw Errors.validation('collection: must be 1-64 characters of a-z, 0-9, "_", "." or "-", starting with a letter', { details: { field: 'collection' } })
  }
  return collection
}

export function checkRecordKey (field: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > RECORD_KEY_MAX_LENGTH) {
    throw Errors.validation(`${field}: must be a string of 1-${RECORD_KEY_MAX_LENGTH} characters`, { details: { field } })
  }
  return key
}

/** the JSON text stored for a value */
export function encodeRecordValue (value: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw Errors.validation('value: must be JSON-serialisable', { cause: err, details: { field: 'value' } })
  }
  if (text === undefined) throw Errors.validation('value: must be JSON-serialisable', { details: { field: 'value' } })
  if (Buffer.byteLength(text) > RECORD_VALUE_MAX_BYTES) {
    throw Errors.validation(`value: at most ${RECORD_VALUE_MAX_BYTES} bytes of JSON`, { details: { field: 'value' } })
  }
  return text
}

/** undefined: unconditional; null: only if absent; n: only if the stored version is n */
export function checkIfVersion (options: PutRecordOptions | { ifVersion?: number } | undefined): number | null | undefined {
  const version = options?.ifVersion
  if (version === undefined || version === null) return version
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw Errors.validation('ifVersion: must be a positive integer, null (only if absent) or absent', { details: { field: 'ifVersion' } })
  }
  return version
}

export function checkRecordLimit (limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
    throw Errors.validation('limit: must be a non-negative integer', { details: { field: 'limit' } })
  }
  return Math.min(limit, MAX_LIST_LIMIT)
}

export function checkClaim (key: unknown, ttlMs: unknown): { key: string, ttlMs: number } {
  if (typeof key !== 'string' || key.length === 0 || key.length > CLAIM_KEY_MAX_LENGTH) {
    throw Errors.validation(`key: must be a string of 1-${CLAIM_KEY_MAX_LENGTH} characters`, { details: { field: 'key' } })
  }
  if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > CLAIM_TTL_MAX_MS) {
    throw Errors.validation(`ttlMs: must be an integer number of milliseconds from 1 to ${CLAIM_TTL_MAX_MS}`, { details: { field: 'ttlMs' } })
  }
  return { key, ttlMs }
}
