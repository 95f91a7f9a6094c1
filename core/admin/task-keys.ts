import { Errors } from '../errors.ts'
import { TASK_STATES, type Task, type TaskState } from '../backend/types.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { handlerServed } from './handler-coverage.ts'
import { cancelTask } from './tasks.ts'
import { compact, taskTimeline, taskView } from './views.ts'

// Idempotency keys as handles: an operator who knows the key a producer used (an order
// number, a message id) reaches the task without knowing its id. The key is resolved
// to the task holding it, then the task is acted on by id, so each action keeps the
// atomicity of its by-id form (a cancel still wins or loses against a lease at once).

/** every state but processing: a task a worker runs is not deleted under it */
const DELETABLE: TaskState[] = TASK_STATES.filter(state => state !== 'processing')

async function taskOfKey (ctx: AdminContext, key: string): Promise<Task> {
  if (!ctx.backend.capabilities.idempotencyKeys) {
    throw Errors.unsupported(`the ${ctx.backend.name} backend has no idempotency keys`, { details: { backend: ctx.backend.name } })
  }
  const task = await ctx.backend.getTaskByKey(key)
  if (task === null) throw Errors.taskNotFound(`no task holds idempotency key ${JSON.stringify(key)}`, { details: { key } })
  return task
}

export async function getTaskByKey (ctx: AdminContext, request: RequestOf<'GetTaskByKey'>): Promise<ResponseOf<'GetTaskByKey'>> {
  const task = await taskOfKey(ctx, request.key)
  return compact({ task: taskView(task), timeline: taskTimeline(task), handlerServed: await handlerServed(ctx, task) })
}

export async function cancelTaskByKey (ctx: AdminContext, request: RequestOf<'CancelTaskByKey'>): Promise<MutationResult<ResponseOf<'CancelTaskByKey'>>> {
  const task = await taskOfKey(ctx, request.key)
  const result = await cancelTask(ctx, { id: task.id })
  return { ...result, response: { id: task.id, key: request.key, state: result.response.state }, target: task.id }
}

export async function deleteTaskByKey (ctx: AdminContext, request: RequestOf<'DeleteTaskByKey'>): Promise<MutationResult<ResponseOf<'DeleteTaskByKey'>>> {
  if (!ctx.backend.capabilities.idempotencyKeys) {
    throw Errors.unsupported(`the ${ctx.backend.name} backend has no idempotency keys`, { details: { backend: ctx.backend.name } })
  }
  const task = await ctx.backend.getTaskByKey(request.key)
  // deleting what is not there reaches the state asked for
  if (task === null) return { response: { key: request.key, deleted: false }, auditResult: { deleted: false } }
  const dryRun = request.dryRun === true
  const result = await ctx.backend.deleteTasks({ ids: [task.id], fromStates: DELETABLE, dryRun })
  if (result.deleted.includes(task.id)) {
    return {
      response: { key: request.key, deleted: !dryRun, id: task.id, state: task.state },
      target: task.id,
      auditResult: { deleted: !dryRun, id: task.id, state: task.state, ...(dryRun ? { dryRun } : {}) },
      events: dryRun ? [] : [{ type: 'task.deleted', data: { id: task.id, key: request.key } }]
    }
  }
  const skipped = result.skipped[0]
  if (skipped === undefined || skipped.reason === 'not_found') return { response: { key: request.key, deleted: false }, auditResult: { deleted: false } }
  throw Errors.conflict(`task ${task.id} (key ${JSON.stringify(request.key)}) is ${skipped.state ?? 'running'}: a task a worker runs cannot be deleted; cancel is not possible either, wait for it to finish`,
    { details: { id: task.id, key: request.key, state: skipped.state } })
}
