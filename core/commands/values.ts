// Flag values from the command line, checked before anything is called: a malformed
// value is a usage error naming the flag. Durations are read by the config's parser
// (core/config/units.ts) with the environment's rule that bare digits are
// milliseconds, so `0`, `500ms`, `2m` and `1h30m` mean the same in a flag, an
// environment variable and the config file.
import { DURATION_HINT, parseDuration } from '../config/units.ts'
import type { FlagValues } from './spec.ts'
import { UsageError } from './usage.ts'

export function str (values: FlagValues, flag: string): string | undefined {
  const value = values[flag]
  return typeof value === 'string' ? value : undefined
}

export function bool (values: FlagValues, flag: string): boolean {
  return values[flag] === true
}

export function integer (flag: string, raw: string, min: number, max: number): number {
  const n = /^-?[0-9]+$/.test(raw.trim()) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${flag}: "${raw}" is not an integer from ${min} to ${max}`)
  return n
}

export function optionalInteger (values: FlagValues, flag: string, min: number, max: number): number | undefined {
  const raw = str(values, flag)
  return raw === undefined ? undefined : integer(flag, raw, min, max)
}

/** milliseconds of a duration written as in the config: `0`, `500ms`, `30s`, `2m`, `1h30m`, `7d` */
export function durationMs (raw: string): number | null {
  const text = raw.trim()
  return parseDuration(/^[0-9]+$/.test(text) ? Number(text) : text)
}

export function duration (flag: string, raw: string): number {
  const ms = durationMs(raw)
  if (ms === null) throw new UsageError(`--${flag}: "${raw}" is not a duration (${DURATION_HINT})`)
  return ms
}

export function optionalDuration (values: FlagValues, flag: string): number | undefined {
  const raw = str(values, flag)
  return raw === undefined ? undefined : duration(flag, raw)
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i

/** an RFC 3339 time, normalised to UTC */
export function time (flag: string, raw: string): string {
  const at = RFC3339.test(raw.trim()) ? new Date(raw.trim()) : null
  if (at === null || Number.isNaN(at.getTime())) throw new UsageError(`--${flag}: "${raw}" is not an RFC 3339 time (e.g. 2026-01-31T08:00:00Z)`)
  return at.toISOString()
}

/** an RFC 3339 time, or a duration meaning that long before `now` */
export function timeOrAgo (flag: string, raw: string, now = Date.now()): string {
  const ago = durationMs(raw)
  if (ago !== null) return new Date(now - ago).toISOString()
  if (RFC3339.test(raw.trim())) return time(flag, raw)
  throw new UsageError(`--${flag}: "${raw}" is neither an RFC 3339 time (2026-01-31T08:00:00Z) nor a duration (${DURATION_HINT})`)
}

/** one of a fixed set of words */
export function oneOf<T extends string> (flag: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${flag}: "${raw}" is not one of ${allowed.join(', ')}`)
  return raw as T
}

/** comma-separated ids, without blanks and repeats */
export function idList (flag: string, raw: string): string[] {
  const ids = [...new Set(raw.split(',').map(s => s.trim()).filter(s => s !== ''))]
  if (ids.length === 0) throw new UsageError(`--${flag}: no ids given (comma-separated, e.g. --${flag} 3f2a,9c1b)`)
  return ids
}
