// Cron schedules: factories, durable (leader-ticked, once cluster-wide) and in-memory schedules.
export { createScheduler, Scheduler, LEADER_LOCK_NAME, MAX_FIRES_PER_PASS, type CreateSchedulerInput, type SchedulerOptions, type TickReport, type PauseAllResult } from './scheduler.ts'
export { FactoryRegistry, SchedulerErrors, type FactoryOptions } from './factories.ts'
export { compileCron, assertTimezone, DEFAULT_TIMEZONE, type CronPlan } from './cron.ts'
export { schedulerFromConfig, type SchedulerFromConfigInput } from './from-config.ts'
export { SCHEDULES_COLLECTION, MAX_SCHEDULES } from './store.ts'
export type * from './types.ts'
