import type { Backend } from '../backend/types.ts'
import type { EventLog } from '../events/event-log.ts'
import type { Enqueuer } from '../tasks/enqueuer.ts'
import type { AuditRecorder } from './audit.ts'
import type { ActionCounters } from './counters.ts'
import type { AdminInfo, AdminOptions } from './types.ts'

/** what every area of the service shares; `backend` is already bounded by requestTimeoutMs */
export interface AdminContext {
  backend: Backend
  events: EventLog
  /** the one enqueue path: normalizes, enqueues, emits task.enqueued, counts the metric */
  enqueuer: Enqueuer
  options: AdminOptions
  info: AdminInfo
  audit: AuditRecorder
  counters: ActionCounters
  onError: (err: unknown, context: string) => void
}

/** what a mutation hands back to the wrapper that audits and answers it */
export interface MutationResult<R> {
  response: R
  /** audit target when it is only known after the fact (the id of an enqueued task) */
  target?: string
  /** events to append once the change is made */
  events?: Array<{ type: string, data: unknown }>
  /** facts about the outcome worth keeping in the audit params (how many tasks moved) */
  auditResult?: Record<string, unknown>
}
