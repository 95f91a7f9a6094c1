import { Errors } from '../errors.ts'
import type { Backend, TaskFilter } from '../backend/types.ts'
import { compact } from './views.ts'

/** builds a task filter and refuses (501) filters the backend declares it cannot honour, instead of ignoring them */
export function taskFilter (backend: Backend, filter: TaskFilter): TaskFilter {
  const given = compact({ ...filter })
  for (const key of Object.keys(given) as Array<keyof TaskFilter>) {
    if (!backend.capabilities.taskFilters.includes(key)) {
      throw Errors.unsupported(`the ${backend.name} backend cannot filter tasks by ${key}`, { details: { field: key, backend: backend.name } })
    }
  }
  return given
}
