import { storableText } from '../backend/storable.ts'
import type { LeasedTask, Task } from '../backend/types.ts'
import { checkProgress } from '../backend/results.ts'
import type { TaskContext, TaskOrigin, TaskProgress } from './handlers.ts'
import type { Logger } from './logger.ts'

/**
 * An AbortController made on first use: most tasks finish without anyone reading
 * their signal, and a controller with its signal is among the costliest objects a
 * task would otherwise allocate. An abort before first use is remembered.
 */
export class LazyAbort {
  private controller: AbortController | null = null
  private early: { reason: unknown } | null = null

  get signal (): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController()
      if (this.early !== null) this.controller.abort(this.early.reason)
    }
    return this.controller.signal
  }

  get aborted (): boolean {
    return this.controller === null ? this.early !== null : this.controller.signal.aborted
  }

  abort (reason: unknown): void {
    if (this.aborted) return
    if (this.controller === null) this.early = { reason }
    else this.controller.abort(reason)
  }
}

/** The context a handler receives; its child logger and its signal are only built when used. */
export class RunContext implements TaskContext {
  private childLog: Logger | undefined

  constructor (
    private readonly task: LeasedTask,
    private readonly abort: LazyAbort,
    private readonly baseLog: Logger,
    /** hands a checked progress value to the worker; false when it is no longer recorded */
    private readonly reportProgress: (value: unknown) => boolean,
    /** reads the stored task (origin()); the lease carries only what running it needs */
    private readonly readTask: (id: string) => Promise<Task | null> = async () => null
  ) {}

  private originRead: Promise<TaskOrigin> | undefined

  origin (): Promise<TaskOrigin> {
    this.originRead ??= this.readTask(this.task.id).then(task => ({
      ...(task?.tenant === undefined ? {} : { tenant: task.tenant }),
      ...(task?.correlationId === undefined ? {} : { correlationId: task.correlationId })
    }))
    return this.originRead
  }

  progress (value: TaskProgress): Promise<boolean> {
    checkProgress('progress', value)
    return Promise.resolve(this.reportProgress(value))
  }

  get signal (): AbortSignal { return this.abort.signal }

  get taskId (): string { return this.task.id }
  get queue (): string { return this.task.queue }
  get handler (): string { return this.task.handler }
  get attempt (): number { return this.task.attempts }
  get maxAttempts (): number { return this.task.maxAttempts }

  get log (): Logger {
    this.childLog ??= this.baseLog.child?.({ taskId: this.task.id, queue: this.task.queue, handler: this.task.handler, attempt: this.task.attempts }) ?? this.baseLog
    return this.childLog
  }
}

const MAX_MESSAGE = 4096
const MAX_STACK = 8192

/** What a failed attempt stores: bounded, and meaningful even when a handler throws a non-Error. */
// A handler's error text is recorded as lastError on every backend: NUL (which
// Postgres text refuses) and an unpaired surrogate (a cut may leave one) become U+FFFD.
export function describeError (err: unknown): { message: string, stack?: string } {
  if (err instanceof Error) {
    const message = storableText((err.message || err.name || 'Error').slice(0, MAX_MESSAGE))
    return err.stack === undefined ? { message } : { message, stack: storableText(err.stack.slice(0, MAX_STACK)) }
  }
  let text: string
  try { text = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err) } catch { text = String(err) }
  return { message: storableText(`non-Error thrown: ${text}`.slice(0, MAX_MESSAGE)) }
}
