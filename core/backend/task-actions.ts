import { MAX_LIST_LIMIT, TASK_ACTION_STATES, type ListTasksRequest, type TaskActionRequest, type TaskPage, type TaskState } from './types.ts'

// The selection half of Backend.applyTaskAction, shared by every backend: a filter picks
// its tasks through the backend's own listTasks (the same predicate and order the list
// uses, so every field a list honours narrows a bulk action too), ids are taken as given.

type ListTasks = (req: ListTasksRequest) => Promise<TaskPage>

/** the ids a TaskActionRequest selects, duplicates dropped, in selection order */
export async function selectTaskActionIds (listTasks: ListTasks, req: TaskActionRequest): Promise<string[]> {
  if (req.ids !== undefined) return [...new Set(req.ids)]
  const { limit, ...filter } = req.filter ?? { limit: 0 }
  let remaining = Math.min(limit, MAX_LIST_LIMIT)
  const states: ReadonlyArray<TaskState | undefined> = filter.state !== undefined ? [filter.state] : TASK_ACTION_STATES[req.action.kind]
  const ids: string[] = []
  for (const state of states) {
    if (remaining <= 0) break
    const page = await listTasks({ ...filter, state, limit: remaining, offset: 0 })
    for (const task of page.tasks.slice(0, remaining)) ids.push(task.id)
    remaining -= Math.min(page.tasks.length, remaining)
  }
  return [...new Set(ids)]
}
