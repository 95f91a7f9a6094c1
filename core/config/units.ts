// Durations and byte sizes are written for people ("30s", "1h30m", "64mb") and used
// by code as plain numbers (milliseconds, bytes). Both spellings are accepted
// everywhere a config value or an environment variable takes one.

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** JSON Schema pattern for a duration string: one or more <integer><unit> parts, e.g. 1h30m. */
export const DURATION_PATTERN = '^(?:[0-9]+(?:ms|s|m|h|d))+$'
const DURATION_PART = /([0-9]+)(ms|s|m|h|d)/g
const DURATION_WHOLE = new RegExp(DURATION_PATTERN)

export const DURATION_HINT = 'use e.g. 500ms, 30s, 5m, 1h30m, 7d, or a number of milliseconds'

/** Milliseconds, or null when the value is not a duration. */
export function parseDuration (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string' || !DURATION_WHOLE.test(value)) return null
  let total = 0
  for (const [, amount, unit] of value.matchAll(DURATION_PART)) total += Number(amount) * (DURATION_UNITS_MS[unit as string] as number)
  return Number.isSafeInteger(total) ? total : null
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 }

/** JSON Schema pattern for a byte size string; units are powers of 1024 (64mb = 64 MiB). */
export const BYTE_SIZE_PATTERN = '^[0-9]+(?:[bB]|[kKmMgG][iI]?[bB])$'
const BYTE_SIZE_WHOLE = new RegExp(BYTE_SIZE_PATTERN)

export const BYTE_SIZE_HINT = 'use e.g. 512kb, 1mb, 64mb, 1gb, or a number of bytes'

/** Bytes, or null when the value is not a byte size. */
export function parseByteSize (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string' || !BYTE_SIZE_WHOLE.test(value)) return null
  const match = /^([0-9]+)(.*)$/.exec(value) as RegExpExecArray
  const total = Number(match[1]) * (BYTE_UNITS[(match[2] as string).toLowerCase()] as number)
  return Number.isSafeInteger(total) ? total : null
}
