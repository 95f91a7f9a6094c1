// The time-window flags of task and DLQ lists (and the DLQ actions that select like
// them): --since and --until take an RFC 3339 time or a duration meaning that long
// ago (24h, 7d); --time-field picks the time they judge. The flags themselves are in
// table.ts (WINDOW_FLAGS).
import type { FlagValues } from './spec.ts'
import { oneOf, str, timeOrAgo } from './values.ts'

const TIME_FIELDS = ['created', 'finished'] as const

export interface WindowValues {
  since?: string
  until?: string
  timeField?: typeof TIME_FIELDS[number]
}

/** the window of a request from the flags; durations are read against this machine's clock */
export function windowOf (values: FlagValues, now = Date.now()): WindowValues {
  const out: WindowValues = {}
  const since = str(values, 'since')
  if (since !== undefined) out.since = timeOrAgo('since', since, now)
  const until = str(values, 'until')
  if (until !== undefined) out.until = timeOrAgo('until', until, now)
  const field = str(values, 'time-field')
  if (field !== undefined) out.timeField = oneOf('time-field', field, TIME_FIELDS)
  return out
}
