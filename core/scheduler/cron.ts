import { Cron } from 'croner'
import { Errors } from '../errors.ts'

// Cron specs and time zones, checked once when a schedule is created or loaded, with
// the offending value in the error. Specs have 5 fields (minute precision), 6 (a
// leading seconds field) or are a nickname (@hourly, @daily, ...); one-off dates are
// not schedules and are refused.
//
// DST follows croner (Vixie cron semantics): a fixed-time job such as `30 2 * * *`
// runs once on both transition days — on spring-forward day at the first valid time
// after the gap (03:00 in Europe/Berlin), on fall-back day at the first of the two
// 02:30s. Interval jobs (`*/15 * * * *`) skip times in the gap and run on both
// passes through the repeated hour.

export const DEFAULT_TIMEZONE = 'UTC'
export const SPEC_MAX_LENGTH = 200
/** instants one look-back enumerates at most; more than this after downtime counts as "many" */
export const MAX_DUE_INSTANTS = 1000
const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'])

export interface CronPlan {
  spec: string
  timezone: string
  /** the first instant strictly after `afterMs`, or null when the spec never fires again */
  next (afterMs: number): number | null
  /** the latest instant strictly before `beforeMs`, or null */
  previous (beforeMs: number): number | null
  /** instants in (afterMs, untilMs], oldest first, at most `max`; `more` when some were left out */
  dueBetween (afterMs: number, untilMs: number, max?: number): { instants: number[], more: boolean }
}

export function assertTimezone (timezone: unknown, field = 'timezone'): string {
  if (typeof timezone !== 'string' || timezone.length === 0 || timezone.length > 64) {
    throw Errors.validation(`${field}: must be an IANA time zone such as "UTC" or "Europe/Berlin"`, { details: { field, value: timezone } })
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
  } catch {
    throw Errors.validation(`${field}: ${JSON.stringify(timezone)} is not a known IANA time zone (e.g. "UTC", "Europe/Berlin")`, { details: { field, value: timezone } })
  }
  return timezone
}

function describeCronError (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/^CronPattern: /, '')
}

export function compileCron (spec: unknown, timezone: unknown = DEFAULT_TIMEZONE, fields: { spec?: string, timezone?: string } = {}): CronPlan {
  const specField = fields.spec ?? 'spec'
  const tz = assertTimezone(timezone, fields.timezone ?? 'timezone')
  if (typeof spec !== 'string' || spec.trim() === '' || spec.length > SPEC_MAX_LENGTH) {
    throw Errors.validation(`${specField}: must be a cron expression of 5 or 6 fields (e.g. "*/5 * * * *")`, { details: { field: specField, value: spec } })
  }
  const text = spec.trim()
  const parts = text.split(/\s+/)
  const nickname = parts.length === 1 && NICKNAMES.has(text.toLowerCase())
  if (!nickname && parts.length !== 5 && parts.length !== 6) {
    throw Errors.validation(`${specField}: ${JSON.stringify(spec)} must have 5 fields (minute hour day month weekday) or 6 (with leading seconds)`, { details: { field: specField, value: spec } })
  }
  let cron: Cron
  try {
    cron = new Cron(text, { paused: true, timezone: tz, mode: '5-or-6-parts' })
    cron.nextRun(new Date(0))
  } catch (err) {
    throw Errors.validation(`${specField}: ${JSON.stringify(spec)} is not a valid cron expression: ${describeCronError(err)}`, { details: { field: specField, value: spec } })
  }
  const next = (afterMs: number): number | null => {
    // croner starts from the next whole second after the reference, so a reference
    // exactly on an instant never returns that same instant again
    const date = cron.nextRun(new Date(afterMs))
    return date === null ? null : date.getTime()
  }
  return {
    spec: text,
    timezone: tz,
    next,
    previous (beforeMs) {
      const [date] = cron.previousRuns(1, new Date(beforeMs))
      return date === undefined ? null : date.getTime()
    },
    dueBetween (afterMs, untilMs, max = MAX_DUE_INSTANTS) {
      const instants: number[] = []
      let cursor = afterMs
      for (;;) {
        const instant = next(cursor)
        if (instant === null || instant > untilMs) return { instants, more: false }
        if (instants.length >= max) return { instants, more: true }
        instants.push(instant)
        cursor = instant
      }
    }
  }
}
