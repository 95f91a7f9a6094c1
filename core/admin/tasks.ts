import { Errors } from '../errors.ts'
import { MAX_LIST_LIMIT, type TaskState } from '../backend/types.ts'
import { LIST_LIMIT_DEFAULT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { EnqueueInput } from '../tasks/enqueue.ts'
import { GRAPH_DEPTH_DEFAULT, GRAPH_NODES_DEFAULT, walkTaskGraph } from '../tasks/dependencies.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { listTasksFilter } from './filters.ts'
import { checkCursorOffset, decodeListCursor, encodeListCursor } from './list-cursor.ts'
import { compact, taskSummary, taskTimeline, taskView, workerView } from './views.ts'
import { enqueueWarnings, handlerServed, PENDING_STATES } from './handler-coverage.ts'

/** states an operator retry may move from: the task is not running and will not run soon on its own */
const RETRYABLE: TaskState[] = ['dead', 'retrying', 'canceled']

export async function listTasks (ctx: AdminContext, request: RequestOf<'ListTasks'>): Promise<ResponseOf<'ListTasks'>> {
  const limit = request.limit ?? LIST_LIMIT_DEFAULT
  checkCursorOffset(request.cursor, request.offset)
  const offset = request.offset ?? 0
  const filter = listTasksFilter(ctx.backend, request)
  const after = request.cursor === undefined ? undefined : decodeListCursor('tasks', ctx.backend.name, filter, request.cursor)
  const page = await ctx.backend.listTasks(compact({ ...filter, limit, offset, after }))
  const nextCursor = page.next === undefined ? undefined : encodeListCursor('tasks', ctx.backend.name, filter, page.next)
  return compact({ tasks: page.tasks.slice(0, limit).map(taskSummary), total: page.total ?? undefined, limit, offset, nextCursor })
}

export async function getTask (ctx: AdminContext, request: RequestOf<'GetTask'>): Promise<ResponseOf<'GetTask'>> {
  const task = await ctx.backend.getTask(request.id)
  if (task === null) throw Errors.taskNotFound(`task ${request.id} not found`, { details: { id: request.id } })
  return compact({ task: taskView(task), timeline: taskTimeline(task), handlerServed: await handlerServed(ctx, task) })
}

export async function enqueueTask (ctx: AdminContext, request: RequestOf<'EnqueueTask'>): Promise<MutationResult<ResponseOf<'EnqueueTask'>>> {
  const input: EnqueueInput = compact({
    handler: request.handler,
    queue: request.queue,
    payload: request.payload,
    maxAttempts: request.maxAttempts,
    priority: request.priority,
    timeoutMs: request.timeoutMs,
    runAt: request.runAt === undefined ? undefined : Date.parse(request.runAt),
    delayMs: request.delayMs,
    idempotencyKey: request.idempotencyKey,
    ...(request.dependsOn !== undefined && request.dependsOn.ids.length > 0 ? { dependsOn: request.dependsOn.ids } : {}),
    onParentFailure: request.dependsOn?.onParentFailure,
    idempotencyMode: request.idempotencyMode,
    tenant: request.tenant,
    correlationId: request.correlationId
  })
  // errors name the request's fields: handler, runAt, payload.user.name
  const [enqueued] = await ctx.enqueuer.enqueue([input], () => ({ field: '' }))
  if (enqueued === undefined) throw Errors.backendUnavailable('the backend answered the enqueue without a result', { details: { method: 'enqueue' } })
  const { result, task } = enqueued
  // the enqueuer emitted task.enqueued and counted it
  // Stored either way (workers may start later); the caller is told when none runs it
  // now. An enqueue answered by an existing task (its idempotency key) warns only while
  // that task still waits: one that already finished waits for nothing.
  const waits = result.created || result.outcome === 'replaced' || await isPending(ctx, result.id)
  const warnings = waits ? await enqueueWarnings(ctx, task.handler) : []
  const outcome = result.outcome ?? (result.created ? 'created' : 'existing')
  return {
    response: compact({ id: result.id, created: result.created, queue: task.queue, warnings, outcome, state: result.state }),
    target: result.id,
    auditResult: { created: result.created, outcome }
  }
}

async function isPending (ctx: AdminContext, id: string): Promise<boolean> {
  const task = await ctx.backend.getTask(id)
  return task !== null && PENDING_STATES.has(task.state)
}

export async function getTaskGraph (ctx: AdminContext, request: RequestOf<'GetTaskGraph'>): Promise<ResponseOf<'GetTaskGraph'>> {
  if (ctx.backend.capabilities.dependencies !== true) {
    throw Errors.unsupported(`the ${ctx.backend.name} backend does not support task dependencies`, { details: { field: 'id' } })
  }
  const graph = await walkTaskGraph(ctx.backend, request.id, {
    maxDepth: request.depth ?? GRAPH_DEPTH_DEFAULT,
    maxNodes: request.limit ?? GRAPH_NODES_DEFAULT
  })
  if (graph === null) throw Errors.taskNotFound(`task ${request.id} not found`, { details: { id: request.id } })
  return { id: graph.nodes[0]?.id ?? request.id, nodes: graph.nodes, edges: graph.edges, truncated: graph.truncated }
}

export async function cancelTask (ctx: AdminContext, request: RequestOf<'CancelTask'>): Promise<MutationResult<ResponseOf<'CancelTask'>>> {
  const result = await ctx.backend.cancelTask(request.id)
  if (result.outcome === 'not_found') throw Errors.taskNotFound(`task ${request.id} not found`, { details: { id: request.id } })
  // Canceling a canceled task reaches the state asked for: answer as a success.
  if (result.outcome === 'conflict' && result.state !== 'canceled') {
    throw Errors.conflict(`task ${request.id} is ${result.state}: only tasks no worker has started can be canceled`, { details: { id: request.id, state: result.state } })
  }
  return {
    response: { id: request.id, state: 'canceled' },
    events: result.outcome === 'canceled' ? [{ type: 'task.canceled', data: { id: request.id } }] : []
  }
}

export async function retryTask (ctx: AdminContext, request: RequestOf<'RetryTask'>): Promise<MutationResult<ResponseOf<'RetryTask'>>> {
  const result = await ctx.backend.requeueTasks({ ids: [request.id], fromStates: RETRYABLE })
  if (result.requeued.includes(request.id)) {
    return { response: { id: request.id, requeued: true, state: 'ready' }, events: [{ type: 'task.retried', data: { id: request.id } }] }
  }
  const skipped = result.skipped[0]
  if (skipped === undefined || skipped.reason === 'not_found') throw Errors.taskNotFound(`task ${request.id} not found`, { details: { id: request.id } })
  // An earlier retry already made it ready: same final state, nothing to do.
  if (skipped.state === 'ready') return { response: { id: request.id, requeued: false, state: 'ready' } }
  throw Errors.conflict(`task ${request.id} is ${skipped.state ?? 'in another state'}: only ${RETRYABLE.join(', ')} tasks can be retried`, { details: { id: request.id, state: skipped.state } })
}

export async function listWorkers (ctx: AdminContext, request: RequestOf<'ListWorkers'> = {}): Promise<ResponseOf<'ListWorkers'>> {
  const workers = await ctx.backend.listWorkers(request.includeStale === true ? { includeStale: true } : undefined)
  return { workers: workers.slice(0, MAX_LIST_LIMIT).map(workerView) }
}
