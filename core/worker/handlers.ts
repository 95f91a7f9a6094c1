import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Errors } from '../errors.ts'
import { importFailureMessage } from '../module-import.ts'
import { assertName } from '../tasks/enqueue.ts'
import { WorkerErrors } from './errors.ts'
import type { Logger } from './logger.ts'

export interface TaskContext {
  readonly taskId: string
  readonly queue: string
  readonly handler: string
  /** 1 on the first attempt; redeliveries after a crash count too */
  readonly attempt: number
  readonly maxAttempts: number
  /** aborted on timeout, on lease loss and on forced shutdown; its reason says which */
  readonly signal: AbortSignal
  readonly log: Logger
  /**
   * Records how far the task has come (BullMQ's updateProgress): a number from 0 to 100
   * or a JSON object, at most 4 KiB encoded; anything else throws VALIDATION_FAILED.
   * Shown by GetTask, the task list and `task.progress` events. Calls are cheap: the
   * latest value wins and is written at most every worker.progressIntervalMs, and the
   * last one is written before the task's success. Resolves false once the attempt has
   * ended or lost its lease (nothing more is recorded), true otherwise.
   */
  progress (value: TaskProgress): Promise<boolean>
  /**
   * The running task's tenant and correlation id (absent when it has none), read from
   * the backend on the first call and kept for the attempt. Tasks a handler enqueues do
   * not inherit them on their own: pass them on where the new task belongs to the same
   * flow, e.g. `sy.enqueue({ handler, payload, ...(await ctx.origin()) })`.
   */
  origin (): Promise<TaskOrigin>
}

export interface TaskOrigin {
  tenant?: string
  correlationId?: string
}

export type TaskProgress = number | Record<string, unknown> | unknown[]

// Payloads are arbitrary JSON chosen by whoever enqueues; handlers validate them. What a
// handler returns is stored as the task's result (JSON, at most tasks.resultMaxBytes).
export type Handler = (payload: any, ctx: TaskContext) => Promise<unknown> | unknown

export type HandlerMap = Record<string, Handler>

export class HandlerRegistry {
  private readonly handlers = new Map<string, Handler>()
  /** sorted names, rebuilt on register: workers send them with every lease */
  private sortedNames: readonly string[] = []
  private readonly listeners = new Set<() => void>()

  register (name: string, handler: Handler): this {
    assertName('handler', name)
    if (typeof handler !== 'function') {
      throw Errors.validation(`handler ${name}: must be a function`, { details: { field: `handlers.${name}` } })
    }
    if (this.handlers.has(name)) {
      throw WorkerErrors.handlerExists(`handler ${name} is already registered`, { details: { handler: name } })
    }
    this.handlers.set(name, handler)
    this.sortedNames = [...this.handlers.keys()].sort()
    for (const listener of this.listeners) listener()
    return this
  }

  /** calls `listener` after each registration (a worker wakes to lease the new handler's tasks); returns the unsubscribe */
  onRegister (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  registerAll (handlers: HandlerMap): this {
    for (const [name, handler] of Object.entries(handlers)) this.register(name, handler)
    return this
  }

  get (name: string): Handler | undefined {
    return this.handlers.get(name)
  }

  has (name: string): boolean {
    return this.handlers.has(name)
  }

  names (): string[] {
    return [...this.sortedNames]
  }

  /** the sorted names without a copy, for the lease hot path; never mutate it */
  nameList (): readonly string[] {
    return this.sortedNames
  }
}

export function createHandlerRegistry (handlers: HandlerMap = {}): HandlerRegistry {
  return new HandlerRegistry().registerAll(handlers)
}

/**
 * Imports a module that exports `handlers: Record<string, Handler>` (or a default
 * export of that shape). Relative paths resolve against the current directory.
 */
export async function loadHandlerModule (path: string): Promise<HandlerMap> {
  if (typeof path !== 'string' || path.length === 0) {
    throw Errors.validation('handlers module: path must be a non-empty string', { details: { field: 'path' } })
  }
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(process.cwd(), path)).href
  let mod: Record<string, unknown>
  try {
    mod = await import(url) as Record<string, unknown>
  } catch (err) {
    throw Errors.validation(`handlers module ${path}: could not be loaded: ${importFailureMessage(path, err)}`, { cause: err, details: { field: 'path', path } })
  }
  const exported = mod.handlers ?? mod.default
  if (exported === null || typeof exported !== 'object' || Array.isArray(exported)) {
    throw Errors.validation(`handlers module ${path}: must export "handlers" (or a default export) as an object of handler functions`, { details: { field: 'path', path } })
  }
  const handlers: HandlerMap = {}
  for (const [name, handler] of Object.entries(exported as Record<string, unknown>)) {
    assertName(`handlers.${name}`, name)
    if (typeof handler !== 'function') {
      throw Errors.validation(`handlers module ${path}: handlers.${name} must be a function`, { details: { field: `handlers.${name}`, path } })
    }
    handlers[name] = handler as Handler
  }
  return handlers
}
