import { compileCron } from './cron.ts'
import { HISTORY_MAX, type ScheduleDefinition, type ScheduleEventEntry, type ScheduleRecord } from './types.ts'

// Pure transitions of a schedule record. They are applied to the freshly read record
// inside a compare-and-set loop, so a fire recorded by the leader and an operator's
// pause arriving at the same moment both survive.

export type FireOutcome =
  | { kind: 'fired', instant: number, taskId: string, manual: boolean }
  /** another node already fired this instant (or is firing it): nothing to record but its task */
  | { kind: 'duplicate', instant: number, taskId: string | null }
  | { kind: 'skipped', instant: number, reason: string, taskId?: string }
  | { kind: 'failed', instant: number, error: string }

export function pushHistory (record: ScheduleRecord, entry: ScheduleEventEntry): void {
  record.history.unshift(entry)
  if (record.history.length > HISTORY_MAX) record.history.length = HISTORY_MAX
}

export function nextRunAfter (definition: Pick<ScheduleDefinition, 'spec' | 'timezone'>, afterMs: number): number | null {
  return compileCron(definition.spec, definition.timezone).next(afterMs)
}

export function newRecord (definition: ScheduleDefinition, now: number): ScheduleRecord {
  const record: ScheduleRecord = {
    ...definition,
    createdAt: now,
    updatedAt: now,
    cursorAt: now,
    nextRunAt: nextRunAfter(definition, now),
    lastRunAt: null,
    lastStatus: 'none',
    lastError: null,
    lastTaskId: null,
    counts: { fired: 0, skipped: 0, failed: 0 },
    history: []
  }
  pushHistory(record, { at: now, type: 'created', reason: `${definition.spec} (${definition.timezone})` })
  return record
}

export function sameDefinition (a: ScheduleDefinition, b: ScheduleDefinition): boolean {
  return a.spec === b.spec && a.timezone === b.timezone && a.durable === b.durable && a.paused === b.paused &&
    a.overlap === b.overlap && a.catchUp === b.catchUp
}

/** an upsert of an existing schedule: run state is kept; a new spec or zone starts counting from now */
export function updatedRecord (current: ScheduleRecord, definition: ScheduleDefinition, now: number): ScheduleRecord {
  const timing = current.spec !== definition.spec || current.timezone !== definition.timezone
  const resumed = current.paused && !definition.paused
  const next: ScheduleRecord = { ...current, ...definition, updatedAt: now }
  if (timing || resumed) next.cursorAt = Math.max(current.cursorAt, now)
  next.nextRunAt = nextRunAfter(next, next.cursorAt)
  pushHistory(next, { at: now, type: 'updated', reason: `${definition.spec} (${definition.timezone})${definition.paused ? ', paused' : ''}` })
  return next
}

export function pausedRecord (current: ScheduleRecord, paused: boolean, now: number): ScheduleRecord | null {
  if (current.paused === paused) return null
  const next: ScheduleRecord = { ...current, paused, updatedAt: now }
  // Instants that pass while paused are not caught up on resume: the schedule starts again from now.
  if (!paused) {
    next.cursorAt = Math.max(current.cursorAt, now)
    next.nextRunAt = nextRunAfter(next, next.cursorAt)
  }
  pushHistory(next, { at: now, type: paused ? 'paused' : 'resumed' })
  return next
}

/** records what one pass over a schedule did: missed instants first (they are older), then each fire */
export function withOutcomes (current: ScheduleRecord, outcomes: FireOutcome[], cursorAt: number, missed: number, now: number): ScheduleRecord {
  const next: ScheduleRecord = { ...current, counts: { ...current.counts }, history: [...current.history] }
  next.cursorAt = Math.max(current.cursorAt, cursorAt)
  if (missed > 0) {
    next.counts.skipped += missed
    next.lastStatus = 'skipped'
    pushHistory(next, { at: now, type: 'skipped', reason: 'missed while no scheduler was running (catch-up none)', count: missed })
  }
  for (const outcome of outcomes) {
    switch (outcome.kind) {
      case 'fired':
        next.counts.fired++
        next.lastStatus = 'fired'
        next.lastError = null
        next.lastRunAt = outcome.instant
        next.lastTaskId = outcome.taskId
        pushHistory(next, { at: now, type: outcome.manual ? 'run_now' : 'fired', instant: outcome.instant, taskId: outcome.taskId })
        break
      case 'duplicate':
        if (outcome.taskId !== null && (next.lastRunAt === null || outcome.instant >= next.lastRunAt)) {
          next.lastRunAt = outcome.instant
          next.lastTaskId = outcome.taskId
        }
        break
      case 'skipped':
        next.counts.skipped++
        next.lastStatus = 'skipped'
        pushHistory(next, { at: now, type: 'skipped', instant: outcome.instant, reason: outcome.reason, ...(outcome.taskId === undefined ? {} : { taskId: outcome.taskId }) })
        break
      case 'failed':
        next.counts.failed++
        next.lastStatus = 'failed'
        next.lastError = outcome.error
        pushHistory(next, { at: now, type: 'failed', instant: outcome.instant, reason: outcome.error })
        break
    }
  }
  next.nextRunAt = nextRunAfter(next, next.cursorAt)
  return next
}
