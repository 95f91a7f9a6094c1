import type { EnqueueInput } from '../tasks/enqueue.ts'

export type OverlapPolicy = 'skip' | 'allow'
export type CatchUpPolicy = 'none' | 'latest'
export type ScheduleStatus = 'none' | 'fired' | 'skipped' | 'failed'
export type ScheduleEventType = 'created' | 'updated' | 'fired' | 'skipped' | 'failed' | 'paused' | 'resumed' | 'run_now'

export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ['skip', 'allow']
export const CATCH_UP_POLICIES: readonly CatchUpPolicy[] = ['none', 'latest']

/**
 * What a factory hands back: the task one fire enqueues. Its idempotency key (one per
 * schedule and instant) and so its mode (reject: a fire enqueues once) are the scheduler's.
 */
export type ScheduledTask = Omit<EnqueueInput, 'idempotencyKey' | 'idempotencyMode'> & {
  /**
   * called once the fire's enqueue settled: the task (created, or the one an earlier
   * enqueue of the same instant made) or the failure; a factory that wrote something
   * for the fire (a job run record) finishes or undoes it here
   */
  afterEnqueue?: (outcome: { taskId: string, created: boolean } | { error: unknown }) => Promise<void>
}

export interface FireContext {
  schedule: string
  /** the cron instant this fire is for (epoch ms); the current time for a manual run */
  instant: number
  manual: boolean
}

/** Produces the task to enqueue for one fire of the schedule named like the factory. */
export type ScheduleFactory = (ctx: FireContext) => ScheduledTask | Promise<ScheduledTask>

export interface FactoryInfo {
  name: string
  description: string
  /** `durable` when CreateSchedule does not say */
  durableDefault: boolean
}

export interface ScheduleEventEntry {
  /** epoch ms */
  at: number
  type: ScheduleEventType
  /** the cron instant concerned (fired, skipped, failed) */
  instant?: number
  taskId?: string
  /** why it was skipped or failed; what changed */
  reason?: string
  /** instants this entry stands for (a skip after downtime covers many) */
  count?: number
}

/** What an operator sets. */
export interface ScheduleDefinition {
  name: string
  spec: string
  timezone: string
  durable: boolean
  paused: boolean
  overlap: OverlapPolicy
  catchUp: CatchUpPolicy
}

/** A schedule with its run state, as stored (durable: one backend record; in-memory: process memory). */
export interface ScheduleRecord extends ScheduleDefinition {
  createdAt: number
  updatedAt: number
  /** latest cron instant handled (fired, skipped or failed); instants after it are still due */
  cursorAt: number
  nextRunAt: number | null
  /** the latest fire: its instant (or the time of a manual run) */
  lastRunAt: number | null
  lastStatus: ScheduleStatus
  lastError: string | null
  /** the task of the latest fire, for overlap protection */
  lastTaskId: string | null
  counts: { fired: number, skipped: number, failed: number }
  /** newest first, bounded by HISTORY_MAX */
  history: ScheduleEventEntry[]
}

export const HISTORY_MAX = 50

export interface ScheduleView extends ScheduleRecord {
  /** a factory of that name is registered in this process */
  factoryRegistered: boolean
}

export interface ScheduleInput {
  name: string
  spec: string
  timezone?: string
  durable?: boolean
  paused?: boolean
  overlap?: OverlapPolicy
  catchUp?: CatchUpPolicy
}
