import { Errors } from '../errors.ts'
import type { Backend, TaskFilter } from '../backend/types.ts'
import type { RequestOf } from '../contract/rpcs.ts'
import { taskWindow } from './task-window.ts'
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

/**
 * The backend filter of a ListTasks request: every list field but limit and offset. The
 * one place the list's fields become a TaskFilter, so whatever narrows the task list
 * narrows bulk task actions (which take the same message as their filter) too.
 */
export function listTasksFilter (backend: Backend, request: RequestOf<'ListTasks'>): TaskFilter {
  return taskFilter(backend, { state: request.state, queue: request.queue, handler: request.handler, query: request.query, tenant: request.tenant, correlationId: request.correlationId, ...taskWindow(request) })
}
