import type { Backend, EnqueueEvents, EnqueueResult, NewTask } from '../backend/types.ts'
import { Errors } from '../errors.ts'
import type { EventLog } from '../events/event-log.ts'
import type { MetricEvent } from '../plugin/kinds.ts'
import { normalizeNewTask, type EnqueueInput, type NormalizeOptions, type TaskDefaults } from './enqueue.ts'

// The one enqueue path. The application (sy.enqueue), the admin service (EnqueueTask,
// and so the CLI's `switchyard enqueue`) and schedule fires all enqueue through it, so
// every task is normalized the same way, and every created task emits `task.enqueued`
// and counts in tasks_enqueued_total whichever way it came in.
//
// The event's content is decided here alone. A backend declaring `enqueueEvents`
// appends it atomically with the task, so a worker in another process cannot lease
// the task and log `task.started` before `task.enqueued` is in the log; for any other
// backend it is appended after the enqueue returns.

/** the `task.enqueued` event of a created task, without its id (the backend's, or added below) */
function enqueuedData (task: NewTask): Record<string, unknown> {
  return { queue: task.queue, handler: task.handler }
}

export const MAX_ENQUEUE_BATCH = 10_000

export interface EnqueuerDeps {
  backend: Backend
  /** where `task.enqueued` events go; null: none (a process without an event log) */
  events: EventLog | null
  /** the metrics exporters' observer; null when none is registered */
  observe: ((event: MetricEvent) => void) | null
  defaults: TaskDefaults
}

export interface EnqueuedTask {
  result: EnqueueResult
  /** the task as normalized and handed to the backend */
  task: NewTask
}

/** how errors name the fields of input i (default: task.x for one task, tasks[i].x for several) */
export type FieldNaming = (index: number, count: number) => NormalizeOptions

const defaultNaming: FieldNaming = (index, count) => ({ field: count === 1 ? 'task' : `tasks[${index}]` })

export interface Enqueuer {
  readonly defaults: TaskDefaults
  /** validates every input first (nothing is enqueued when one is bad), then one backend call; results in input order */
  enqueue (inputs: EnqueueInput[], naming?: FieldNaming): Promise<EnqueuedTask[]>
}

export function createEnqueuer (deps: EnqueuerDeps): Enqueuer {
  const { backend, events, observe, defaults } = deps
  return {
    defaults,
    async enqueue (inputs, naming = defaultNaming) {
      if (!Array.isArray(inputs)) throw Errors.validation('tasks: must be an array of tasks', { details: { field: 'tasks' } })
      if (inputs.length > MAX_ENQUEUE_BATCH) throw Errors.validation(`tasks: at most ${MAX_ENQUEUE_BATCH} per call`, { details: { field: 'tasks' } })
      const now = Date.now()
      const tasks = inputs.map((input, i) => normalizeNewTask(input, defaults, { now, ...naming(i, inputs.length) }))
      if (backend.capabilities.dependencies !== true && tasks.some(task => task.dependsOn !== undefined)) {
        throw Errors.unsupported(`the ${backend.name} backend does not support task dependencies (dependsOn)`, { details: { field: 'dependsOn' } })
      }
      for (const [i, task] of tasks.entries()) {
        const mode = task.idempotencyMode
        if (mode !== undefined && mode !== 'reject' && backend.capabilities.idempotencyModes?.includes(mode) !== true) {
          throw Errors.unsupported(`idempotency mode ${mode} is not supported by the ${backend.name} backend`, { details: { field: `${naming(i, inputs.length).field ?? 'task'}.idempotencyMode` } })
        }
      }
      const atomicEvents = events !== null && events.enabled && backend.capabilities.enqueueEvents === true
      const eventSpec: EnqueueEvents | undefined = atomicEvents ? { type: 'task.enqueued', data: tasks.map(enqueuedData) } : undefined
      const results = tasks.length === 0 ? [] : await backend.enqueue(tasks, eventSpec)
      if (results.length !== tasks.length) {
        throw Errors.backendUnavailable(`the backend answered ${results.length} results for ${tasks.length} tasks`, { details: { method: 'enqueue' } })
      }
      const enqueued: EnqueuedTask[] = []
      for (let i = 0; i < tasks.length; i++) {
        const raw = results[i] as EnqueueResult
        const task = tasks[i] as NewTask
        const result: EnqueueResult = raw.outcome === undefined ? { ...raw, outcome: raw.created ? 'created' : 'existing' } : raw
        enqueued.push({ result, task })
        if (result.outcome === 'replaced') events?.emit('task.replaced', { id: result.id, queue: task.queue, handler: task.handler })
        if (!result.created) continue
        if (!atomicEvents) events?.emit('task.enqueued', { id: result.id, ...enqueuedData(task) })
        observe?.({ type: 'task.enqueued', queue: task.queue, handler: task.handler })
      }
      return enqueued
    }
  }
}
