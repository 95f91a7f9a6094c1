import type { Task, TaskFilter, TaskState, TaskTimeField } from './types.ts'

// The time window of a task filter (TaskFilter.since/until/timeField), in one place
// so every backend judges it the same way: "succeeded in the last 24 h" and "dead in
// the last 7 d" are judged on the finish time, a list of pending or unfiltered tasks
// on the creation time, unless the filter names the field.

const FINISHED_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'dead', 'canceled'])

/** the time a filter's window judges: its timeField, else finished for final-state filters, else created */
export function taskWindowField (filter: Pick<TaskFilter, 'state' | 'timeField'>): TaskTimeField {
  if (filter.timeField !== undefined) return filter.timeField
  return filter.state !== undefined && FINISHED_STATES.has(filter.state) ? 'finished' : 'created'
}

/** whether the filter has a window at all */
export function hasTimeWindow (filter: Pick<TaskFilter, 'since' | 'until'>): boolean {
  return filter.since !== undefined || filter.until !== undefined
}

/** whether a time (null: the task has none, e.g. not finished) falls in the filter's window; both ends inclusive */
export function inTimeWindow (time: number | null, filter: Pick<TaskFilter, 'since' | 'until'>): boolean {
  if (!hasTimeWindow(filter)) return true
  if (time === null) return false
  if (filter.since !== undefined && time < filter.since) return false
  if (filter.until !== undefined && time > filter.until) return false
  return true
}

/** the window predicate over a task, for backends that filter loaded tasks */
export function taskInWindow (task: Pick<Task, 'createdAt' | 'finishedAt'>, filter: Pick<TaskFilter, 'state' | 'timeField' | 'since' | 'until'>): boolean {
  if (!hasTimeWindow(filter)) return true
  return inTimeWindow(taskWindowField(filter) === 'finished' ? task.finishedAt : task.createdAt, filter)
}
