import { Errors } from '../errors.ts'

// What every backend can store. Postgres text and jsonb cannot hold U+0000 nor an
// unpaired surrogate (a 500 there), while Redis and BullMQ take them: NUL silently,
// a lone surrogate as U+FFFD, which is not what went in. JSON has no Infinity or
// NaN (JSON.stringify writes null), and deep nesting overflows parsers (Redis'
// cjson stops at 1000 levels). Refusing these in core, naming the field, gives the
// same 400 on every backend instead of a 500 on some and a silent change on others.

/** levels of arrays and objects a payload may nest; the payload itself is level 1 */
export const MAX_JSON_DEPTH = 100

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
// with the u flag a pair is one code point, so only unpaired halves match
const LONE_SURROGATE = /\p{Surrogate}/u
const LONE_SURROGATES = /\p{Surrogate}/gu

/** why `text` cannot be stored on every backend, or null when it can */
export function unstorableReason (text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which not every backend can store'
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate (not well-formed Unicode), which not every backend can store'
  return null
}

/** `text` with NUL and unpaired surrogates replaced by U+FFFD: for records of what was sent (audit), never for data */
export function storableText (text: string): string {
  return unstorableReason(text) === null ? text : text.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATES, '\ufffd')
}

/** refuses a string no backend-independent storage can hold, naming the field */
export function checkStorableString (field: string, text: string): string {
  const reason = unstorableReason(text)
  if (reason !== null) throw Errors.validation(`${field}: ${reason}`, { details: { field } })
  return text
}

/** `field` followed by the steps into it, as errors name them: payload.user.name, payload.items[2], payload["a b"] */
export function jsonPath (field: string, trail: ReadonlyArray<string | number>): string {
  let path = field
  for (const step of trail) path += typeof step === 'number' ? `[${step}]` : IDENTIFIER.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`
  return path
}

/**
 * Refuses a JSON value (a payload, a record value) that would not come back as it
 * went in on every backend: a non-finite number, a string or key with NUL or an
 * unpaired surrogate, nesting deeper than MAX_JSON_DEPTH (which also stops cycles).
 * Errors name the path inside `field` (payload.user.name), except for depth, which
 * names `field`. One walk, no copies; the path is only spelled out for an error.
 */
export function checkStorableJson (field: string, value: unknown): void {
  walk(field, [], value, 1)
}

function refuse (field: string, trail: ReadonlyArray<string | number>, message: string): never {
  const path = jsonPath(field, trail)
  throw Errors.validation(`${path}: ${message}`, { details: { field: path } })
}

function walk (field: string, trail: Array<string | number>, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string': {
      const reason = unstorableReason(value)
      if (reason !== null) refuse(field, trail, reason)
      return
    }
    case 'number':
      if (!Number.isFinite(value)) refuse(field, trail, 'must be a finite number (JSON has no Infinity or NaN)')
      return
    case 'bigint':
      refuse(field, trail, 'must be a JSON number, not a BigInt')
      break
    case 'object':
      break
    default:
      // booleans, and what JSON.stringify drops (undefined, functions, symbols)
      return
  }
  if (value === null) return
  if (depth > MAX_JSON_DEPTH) throw Errors.validation(`${field}: nested deeper than ${MAX_JSON_DEPTH} levels`, { details: { field } })
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    // what JSON.stringify stores (a Date's ISO string); depth + 1 bounds a toJSON that returns itself
    walk(field, trail, toJSON.call(value), depth + 1)
    return
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      trail.push(i)
      walk(field, trail, value[i], depth + 1)
      trail.pop()
    }
    return
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    trail.push(key)
    const reason = unstorableReason(key)
    if (reason !== null) refuse(field, trail, `the key ${reason}`)
    walk(field, trail, (value as Record<string, unknown>)[key], depth + 1)
    trail.pop()
  }
}
