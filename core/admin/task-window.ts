import { Errors } from '../errors.ts'
import type { TaskFilter, TaskTimeField } from '../backend/types.ts'

// The time window of a list request (since/until as RFC 3339, timeField) as the
// backend's TaskFilter fields (epoch ms). One reading for ListTasks, ListDLQ,
// ReplayDLQ and PurgeDLQ, so each judges a window the same way.

export interface WindowRequest {
  since?: string
  until?: string
  timeField?: TaskTimeField
}

function timeOf (field: 'since' | 'until', value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (!Number.isFinite(ms) || ms < 0) throw Errors.validation(`${field}: must be an RFC 3339 time after 1970`, { details: { field } })
  return ms
}

/** the window fields of a TaskFilter; refuses since after until (400 naming since) */
export function taskWindow (request: WindowRequest): Pick<TaskFilter, 'since' | 'until' | 'timeField'> {
  const since = timeOf('since', request.since)
  const until = timeOf('until', request.until)
  if (since !== undefined && until !== undefined && since > until) throw Errors.validation('since: must not be after until', { details: { field: 'since', since: request.since, until: request.until } })
  const window: Pick<TaskFilter, 'since' | 'until' | 'timeField'> = {}
  if (since !== undefined) window.since = since
  if (until !== undefined) window.until = until
  if (request.timeField !== undefined) window.timeField = request.timeField
  return window
}
