import type { Backend } from '../backend/types.ts'
import type { ResolvedScheduler } from '../config/types.ts'
import type { EventLog } from '../events/event-log.ts'
import type { TaskDefaults } from '../tasks/enqueue.ts'
import type { Enqueuer } from '../tasks/enqueuer.ts'
import type { Logger } from '../worker/logger.ts'
import { createScheduler, type Scheduler } from './scheduler.ts'

export interface SchedulerFromConfigInput {
  backend: Backend
  config: ResolvedScheduler
  events?: EventLog | null
  log?: Logger
  enqueuer?: Enqueuer
  taskDefaults?: TaskDefaults
  /** handlers that become factories too (the embedded default's demo handlers), durable by default */
  extraHandlerFactories?: string[]
}

/**
 * The scheduler a Switchyard process runs: the configured handlers registered as
 * factories (durableHandlers: durable by default; handlers: in-memory by default), and
 * the config's schedules and presets created at start. Code adds factories with
 * scheduler.scheduleFactory() before start().
 */
export function schedulerFromConfig (input: SchedulerFromConfigInput): Scheduler {
  const { config } = input
  const scheduler = createScheduler({
    backend: input.backend,
    events: input.events ?? null,
    ...(input.log === undefined ? {} : { log: input.log }),
    ...(input.enqueuer === undefined ? {} : { enqueuer: input.enqueuer }),
    ...(input.taskDefaults === undefined ? {} : { taskDefaults: input.taskDefaults }),
    options: { tickIntervalMs: config.tickIntervalMs, leaderTtlMs: config.leaderTtlMs, misfireGraceMs: config.misfireGraceMs },
    initialSchedules: config.schedules
  })
  for (const handler of config.durableHandlers) scheduler.factories.registerHandler(handler, { durable: true })
  for (const handler of config.handlers) {
    if (!scheduler.factories.has(handler)) scheduler.factories.registerHandler(handler, { durable: false })
  }
  for (const handler of input.extraHandlerFactories ?? []) {
    if (!scheduler.factories.has(handler)) scheduler.factories.registerHandler(handler, { durable: true, description: `enqueues ${handler} (demo handler)` })
  }
  return scheduler
}
