import { Errors } from '../errors.ts'
import { checkStorableJson } from './storable.ts'

// What a handler hands back besides success or failure: its return value (stored with
// the succeeded task, BullMQ's `returnvalue`) and its progress (ctx.progress, BullMQ's
// `updateProgress`). Both are JSON values stored in the task, so both are bounded: a
// result by tasks.resultMaxBytes (at most the ceiling below, which the argument guard
// enforces for every caller), progress by a small fixed bound, since it is rewritten
// while the task runs.

/** the largest result any caller may store (bytes of its JSON encoding) */
export const RESULT_MAX_BYTES_CEILING = 1024 * 1024
/** tasks.resultMaxBytes when the config does not say */
export const DEFAULT_RESULT_MAX_BYTES = 64 * 1024
/** the largest progress value (bytes of its JSON encoding) */
export const PROGRESS_MAX_BYTES = 4096

/** a result that is stored, or why it is not */
export type EncodedResult =
  | { ok: true, value: unknown, bytes: number }
  | { ok: false, reason: string }

/** true when `value` means "no result" (a handler that returned nothing) */
export function isNoResult (value: unknown): boolean {
  return value === undefined || value === null
}

function encode (value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch (err) {
    throw new TypeError((err as Error).message)
  }
}

/**
 * Checks a handler's return value against what every backend stores: JSON (no BigInt,
 * no cycles, no functions or symbols), storable strings, at most maxBytes encoded.
 * Never throws: a result that cannot be stored is reported, and the caller decides.
 */
export function checkResult (value: unknown, maxBytes: number): EncodedResult {
  const kind = typeof value
  if (kind === 'function' || kind === 'symbol') return { ok: false, reason: `a ${kind} is not a JSON value` }
  let json: string | undefined
  try {
    json = encode(value)
    // what JSON.stringify turns into nothing at the top (a toJSON answering undefined)
    if (json === undefined) return { ok: false, reason: 'it has no JSON encoding' }
    checkStorableJson('result', value)
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  const bytes = Buffer.byteLength(json)
  if (bytes > maxBytes) return { ok: false, reason: `its JSON encoding is ${bytes} bytes, more than the ${maxBytes} allowed (tasks.resultMaxBytes)` }
  return { ok: true, value, bytes }
}

/** Refuses a progress value that is not a number from 0 to 100 or a JSON object/array of at most PROGRESS_MAX_BYTES, naming `field`. */
export function checkProgress (field: string, value: unknown): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || value > 100) throw Errors.validation(`${field}: a number must be from 0 to 100`, { details: { field } })
    return
  }
  if (value === null || typeof value !== 'object') throw Errors.validation(`${field}: must be a number from 0 to 100 or a JSON object`, { details: { field } })
  let json: string | undefined
  try {
    json = encode(value)
  } catch (err) {
    throw Errors.validation(`${field}: must be JSON-serialisable (${(err as Error).message})`, { details: { field } })
  }
  if (json === undefined) throw Errors.validation(`${field}: must be JSON-serialisable`, { details: { field } })
  const bytes = Buffer.byteLength(json)
  if (bytes > PROGRESS_MAX_BYTES) throw Errors.validation(`${field}: its JSON encoding is ${bytes} bytes, more than ${PROGRESS_MAX_BYTES}`, { details: { field } })
  checkStorableJson(field, value)
}
