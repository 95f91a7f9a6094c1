// Public API of the switchyard package.
export * from './errors.ts'
export * from './backend/index.ts'
export { createSwitchyard, VERSION, type Switchyard, type CreateSwitchyardOptions } from './app.ts'
export { PermanentError } from './worker/errors.ts'
export type { Handler, HandlerMap, TaskContext } from './worker/handlers.ts'
export { normalizeNewTask, type EnqueueInput, type TaskDefaults } from './tasks/enqueue.ts'
export { EventLog } from './events/event-log.ts'
export { withTimeouts } from './backend/guard.ts'
