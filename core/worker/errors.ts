import { defineError } from '../errors.ts'

// A brand survives handler modules that were loaded with their own copy of this
// file (a different realm or a duplicated install), where instanceof would not.
const PERMANENT = Symbol.for('switchyard.permanentError')

/** Thrown by a handler to say "retrying cannot help": the task goes to the DLQ at once. */
export class PermanentError extends Error {
  readonly [PERMANENT] = true

  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PermanentError'
  }
}

export function isPermanentError (err: unknown): boolean {
  return err instanceof PermanentError || (typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[PERMANENT] === true)
}

export const WorkerErrors = {
  /** a handler ran longer than its task's timeoutMs; retried like any failure */
  taskTimeout: defineError('TASK_TIMEOUT'),
  /** the abort reason a handler sees when the worker stops before it finished */
  workerShutdown: defineError('WORKER_SHUTDOWN'),
  handlerExists: defineError('HANDLER_EXISTS')
} as const
