import { cascadedTriples, Errors, selectTaskActionIds, type CascadeListeners, TASK_ACTION_STATES, TASK_STATES, type Backend, type SkippedTask, type TaskActionRequest, type TaskActionResult, type TaskState } from '@switchyard/core'
import type { Redis } from 'ioredis'
import { parseForeignId, type JobRef } from './keys.ts'
import { runTaskScript } from './scripts.ts'
import { toBullPriority } from './task-view.ts'

// Bulk operator actions (Backend.applyTaskAction) on BullMQ. A filter selects through
// listTasks (the task lister's predicate and order); retry and delete are the requeue
// and delete scripts; cancel, run_now, reschedule and move are task-action.lua, one
// script call per job, each re-checking the job's state where it changes it.

const NOT_PROCESSING = TASK_STATES.filter(state => state !== 'processing')

export interface TaskActionDeps {
  redis: Redis
  backend: Pick<Backend, 'listTasks' | 'requeueTasks' | 'deleteTasks'>
  resolveMany: (ids: string[]) => Promise<Array<JobRef | null>>
  taskArgs: (ref: JobRef) => string[]
  queueBase: (queue: string) => string
  /** wakes idle workers of these queues */
  publish: (queues: Iterable<string>) => Promise<void>
  assertQueueName: (field: string, name: string) => string
  /** a cancel's cascades are reported here */
  cascades: CascadeListeners
}

export async function applyTaskAction (deps: TaskActionDeps, req: TaskActionRequest): Promise<TaskActionResult> {
  const ids = await selectTaskActionIds(async (r) => await deps.backend.listTasks(r), req)
  const { action } = req
  const fromStates = TASK_ACTION_STATES[action.kind]
  if (ids.length === 0) return { changed: [], skipped: [] }
  if (action.kind === 'retry') {
    const done = await deps.backend.requeueTasks({ ids, fromStates: [...fromStates], dryRun: req.dryRun })
    return { changed: done.requeued, skipped: done.skipped }
  }
  if (action.kind === 'delete') {
    const done = await deps.backend.deleteTasks({ ids, fromStates: NOT_PROCESSING, dryRun: req.dryRun })
    return { changed: done.deleted, skipped: done.skipped }
  }
  const target = action.kind === 'move' ? deps.assertQueueName('action.queue', action.queue) : ''
  const reschedule = action.kind === 'reschedule' ? action : null
  const refs = await deps.resolveMany(ids)
  const result: TaskActionResult = { changed: [], skipped: [] }
  const woken = new Set<string>()
  for (const [i, id] of ids.entries()) {
    const ref = refs[i]
    if (ref == null) { result.skipped.push({ id, reason: 'not_found' }); continue }
    if (action.kind === 'move' && target !== ref.queue && parseForeignId(id) !== null) {
      throw Errors.validation(`action.queue: task ${id} was created by another BullMQ producer; moving it would change its id`, { details: { field: 'action.queue', id } })
    }
    const [outcome, state, cascaded] = await runTaskScript(deps.redis, 'task-action', [
      ...deps.taskArgs(ref), action.kind, fromStates.join(','), req.dryRun === true ? '1' : '0',
      reschedule?.runAt ?? '', reschedule?.priority === undefined ? '' : toBullPriority(reschedule.priority), reschedule?.maxAttempts ?? '',
      target, target === '' ? '' : deps.queueBase(target)
    ]) as [string, TaskState | undefined, unknown]
    deps.cascades.report(cascadedTriples(cascaded))
    if (outcome === 'ok') {
      result.changed.push(id)
      if (req.dryRun !== true && action.kind !== 'cancel') woken.add(target === '' ? ref.queue : target)
    } else {
      result.skipped.push(skipped(id, outcome, state))
    }
  }
  await deps.publish(woken)
  return result
}

function skipped (id: string, outcome: string, state: TaskState | undefined): SkippedTask {
  if (outcome === 'not_found') return { id, reason: 'not_found' }
  return state === undefined ? { id, reason: 'wrong_state' } : { id, reason: 'wrong_state', state }
}
