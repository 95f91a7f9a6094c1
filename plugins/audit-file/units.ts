// Durations ("30s", "7d") and byte sizes ("64mb") as the config file writes them,
// read the same way core reads its own keys.
const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
export const DURATION_PATTERN = '^(?:[0-9]+(?:ms|s|m|h|d))+$'
const DURATION_WHOLE = new RegExp(DURATION_PATTERN)
const DURATION_PART = /([0-9]+)(ms|s|m|h|d)/g

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 }
export const BYTE_SIZE_PATTERN = '^[0-9]+(?:[bB]|[kKmMgG][iI]?[bB])$'
const BYTE_SIZE_WHOLE = /^([0-9]+)((?:[bB]|[kKmMgG][iI]?[bB]))$/

/** Milliseconds, or null when the value is not a duration. */
export function parseDuration (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string' || !DURATION_WHOLE.test(value)) return null
  let total = 0
  for (const [, amount, unit] of value.matchAll(DURATION_PART)) total += Number(amount) * (DURATION_UNITS_MS[unit as string] as number)
  return Number.isSafeInteger(total) ? total : null
}

/** Bytes, or null when the value is not a byte size; units are powers of 1024. */
export function parseByteSize (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  const match = typeof value === 'string' ? BYTE_SIZE_WHOLE.exec(value) : null
  if (match === null) return null
  const total = Number(match[1]) * (BYTE_UNITS[(match[2] as string).toLowerCase()] as number)
  return Number.isSafeInteger(total) ? total : null
}
