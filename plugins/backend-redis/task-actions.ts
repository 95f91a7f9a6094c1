import { cascadedTriples, selectTaskActionIds, TASK_ACTION_STATES, TASK_STATES, type Backend, type CascadeListeners, type SkippedTask, type TaskActionRequest, type TaskActionResult } from '@switchyard/core'
import type { Keys } from './keys.ts'
import type { ScriptArg, ScriptName } from './scripts.ts'

// Bulk operator actions (Backend.applyTaskAction) on Redis. A filter selects through
// listTasks (list.lua's predicate and order); retry and delete are requeue.lua and
// delete.lua; cancel, run_now, reschedule and move are task_action.lua. Every script
// re-checks each task's state in the step that changes it. Ids go to the scripts in
// chunks, so one call never blocks Redis for long.

const CHUNK = 500
const NOT_PROCESSING = TASK_STATES.filter(state => state !== 'processing')

export interface TaskActionDeps {
  keys: Keys
  script: (name: ScriptName, keys: string[], args: ScriptArg[]) => Promise<unknown>
  backend: Pick<Backend, 'listTasks' | 'requeueTasks' | 'deleteTasks'>
  skippedFrom: (flat: string[]) => SkippedTask[]
  /** a cancel's cascades are reported here (deleteTasks reports its own) */
  cascades: CascadeListeners
}

export async function applyTaskAction (deps: TaskActionDeps, req: TaskActionRequest): Promise<TaskActionResult> {
  const ids = await selectTaskActionIds(async (r) => await deps.backend.listTasks(r), req)
  const result: TaskActionResult = { changed: [], skipped: [] }
  const { action } = req
  const fromStates = TASK_ACTION_STATES[action.kind]
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK)
    if (action.kind === 'retry') {
      const done = await deps.backend.requeueTasks({ ids: chunk, fromStates: [...fromStates], dryRun: req.dryRun })
      result.changed.push(...done.requeued)
      result.skipped.push(...done.skipped)
      continue
    }
    if (action.kind === 'delete') {
      const done = await deps.backend.deleteTasks({ ids: chunk, fromStates: NOT_PROCESSING, dryRun: req.dryRun })
      result.changed.push(...done.deleted)
      result.skipped.push(...done.skipped)
      continue
    }
    const reschedule = action.kind === 'reschedule' ? action : null
    const [changed, skipped, cascaded] = await deps.script('task_action', [deps.keys.queues, deps.keys.canceled], [
      deps.keys.base, deps.keys.workChannel, action.kind, fromStates.join(','), req.dryRun === true ? 1 : 0,
      reschedule?.runAt ?? '', reschedule?.priority ?? '', reschedule?.maxAttempts ?? '',
      action.kind === 'move' ? action.queue : '', ...chunk
    ]) as [string[], string[], unknown]
    deps.cascades.report(cascadedTriples(cascaded))
    result.changed.push(...changed)
    result.skipped.push(...deps.skippedFrom(skipped))
  }
  return result
}
