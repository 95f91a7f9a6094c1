import { randomBytes, randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Backend, TaskState } from '../backend/types.ts'
import { Errors } from '../errors.ts'
import type { EventLog } from '../events/event-log.ts'
import { DEFAULT_TASK_DEFAULTS, type TaskDefaults } from '../tasks/enqueue.ts'
import { createEnqueuer, type Enqueuer } from '../tasks/enqueuer.ts'
import { consoleLogger, type Logger } from '../worker/logger.ts'
import { compileCron, DEFAULT_TIMEZONE } from './cron.ts'
import { FactoryRegistry, SchedulerErrors, type FactoryOptions } from './factories.ts'
import { newRecord, pausedRecord, sameDefinition, updatedRecord, withOutcomes, type FireOutcome } from './state.ts'
import { DurableScheduleStore, MemoryScheduleStore, mutateSchedule, type ScheduleStore, type StoredSchedule } from './store.ts'
import {
  CATCH_UP_POLICIES, OVERLAP_POLICIES,
  type FactoryInfo, type ScheduleDefinition, type ScheduleEventEntry, type ScheduleFactory, type ScheduleInput, type ScheduleRecord, type ScheduleView
} from './types.ts'

// Durable schedules fire once per instant across the cluster:
// - only the holder of the leader lock ticks them;
// - each fire is deduplicated on (schedule, instant): a claim (claimOnce) decides who
//   fires, and the enqueue carries the idempotency key schedule:<name>:<instant>, so a
//   new leader that finds an instant claimed by a leader that died before enqueueing
//   still enqueues it (the key makes that enqueue a no-op when the task exists).
// Bound: an instant is fired by whichever leader reaches it while it is within
// misfireGrace of the clock; a leader change slower than that skips the instants
// older than the grace (counted as skipped, or the latest one run with catch-up
// `latest`). No instant is enqueued twice while its task is retained by the backend.
//
// In-memory schedules tick in the process that holds them, without the lock.

export const LEADER_LOCK_NAME = 'switchyard.scheduler'
/** instants one pass fires for one schedule at most; the rest count as skipped */
export const MAX_FIRES_PER_PASS = 100
const ACTIVE_STATES: ReadonlySet<TaskState> = new Set(['scheduled', 'ready', 'processing', 'retrying'])
const MIN_TIMER_MS = 5

export interface SchedulerOptions {
  /** longest wait between two passes (default 500 ms); a pass also runs when the next instant is due */
  tickIntervalMs: number
  /** leader lock lifetime without renewal (default 10 s): how long a dead leader delays durable fires */
  leaderTtlMs: number
  /** a due instant older than this is missed rather than fired late (default 60 s) */
  misfireGraceMs: number
  /** false: no timer; the caller drives passes with tick() (tests with a controlled clock) */
  autoTick: boolean
  /** this process in the leader lock and in-memory dedupe keys (default host-pid-random) */
  nodeId: string
}

export interface CreateSchedulerInput {
  backend: Backend
  events?: EventLog | null
  log?: Logger
  factories?: FactoryRegistry
  /** the process's enqueue path (events, metrics); default: one over `backend` and `events` with taskDefaults */
  enqueuer?: Enqueuer
  taskDefaults?: TaskDefaults
  options?: Partial<SchedulerOptions>
  /** the scheduler's clock (epoch ms); default the backend's */
  now?: () => number | Promise<number>
  /** created (or updated) by start(): config file schedules and presets */
  initialSchedules?: ScheduleInput[]
}

export interface TickReport {
  leader: boolean
  fired: number
  skipped: number
  failed: number
}

export interface PauseAllResult {
  changed: string[]
  total: number
}

function defaultNodeId (): string {
  return `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`
}

function message (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500)
}

export class Scheduler {
  readonly factories: FactoryRegistry
  readonly options: SchedulerOptions
  private readonly backend: Backend
  private readonly events: EventLog | null
  private readonly log: Logger
  private readonly durableStore: DurableScheduleStore
  private readonly memoryStore = new MemoryScheduleStore()
  private readonly clock: () => number | Promise<number>
  private readonly enqueuer: Enqueuer
  private readonly initial: ScheduleInput[]
  private leaderToken: number | null = null
  private leaderRenewedAt = 0
  private timer: NodeJS.Timeout | null = null
  private running: Promise<unknown> | null = null
  private started = false
  private nextDueAt: number | null = null

  constructor (input: CreateSchedulerInput) {
    this.backend = input.backend
    this.events = input.events ?? null
    this.log = input.log ?? consoleLogger
    this.factories = input.factories ?? new FactoryRegistry()
    this.options = {
      tickIntervalMs: 500,
      leaderTtlMs: 10_000,
      misfireGraceMs: 60_000,
      autoTick: true,
      nodeId: defaultNodeId(),
      ...input.options
    }
    this.durableStore = new DurableScheduleStore(this.backend)
    this.clock = input.now ?? (() => this.backend.now())
    this.enqueuer = input.enqueuer ?? createEnqueuer({ backend: this.backend, events: this.events, observe: null, defaults: input.taskDefaults ?? DEFAULT_TASK_DEFAULTS })
    this.initial = input.initialSchedules ?? []
  }

  /** registers a factory: schedules of this name enqueue what it returns */
  scheduleFactory (name: string, factory: ScheduleFactory, options?: FactoryOptions): this {
    this.factories.register(name, factory, options)
    return this
  }

  get isLeader (): boolean {
    return this.leaderToken !== null
  }

  get durableAvailable (): boolean {
    return this.backend.capabilities.records && this.backend.capabilities.leaderLock
  }

  /** creates the initial schedules, then (autoTick) starts the timer */
  async start (): Promise<void> {
    if (this.started) return
    for (const schedule of this.initial) await this.upsert(schedule, 'schedules')
    this.started = true
    if (this.options.autoTick) this.arm(0)
  }

  async stop (): Promise<void> {
    this.started = false
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.running?.catch(() => {})
    if (this.leaderToken !== null) {
      const token = this.leaderToken
      this.leaderToken = null
      await this.backend.releaseLeader(LEADER_LOCK_NAME, this.options.nodeId, token).catch(() => false)
    }
  }

  private arm (delayMs: number): void {
    if (!this.started) return
    this.timer = setTimeout(() => {
      this.timer = null
      const pass = this.tick().catch(err => { this.log.warn({ err }, 'scheduler pass failed') })
      this.running = pass
      void pass.finally(() => {
        this.running = null
        const untilDue = this.nextDueAt === null ? Infinity : this.nextDueAt - Date.now() + MIN_TIMER_MS
        this.arm(Math.max(MIN_TIMER_MS, Math.min(this.options.tickIntervalMs, untilDue)))
      })
    }, delayMs)
  }

  /** one pass: in-memory schedules here; durable ones when this process holds (or wins) the leader lock */
  async tick (): Promise<TickReport> {
    const now = await this.clock()
    const report: TickReport = { leader: false, fired: 0, skipped: 0, failed: 0 }
    let nextDue: number | null = null
    const track = (record: ScheduleRecord | null): void => {
      if (record !== null && !record.paused && record.nextRunAt !== null) nextDue = nextDue === null ? record.nextRunAt : Math.min(nextDue, record.nextRunAt)
    }
    for (const stored of await this.memoryStore.list()) track(await this.pass(this.memoryStore, stored, now, report))
    if (this.durableAvailable && await this.holdLeadership()) {
      report.leader = true
      for (const stored of await this.durableStore.list()) track(await this.pass(this.durableStore, stored, now, report))
    }
    // the timer runs on this host's clock: translate the next instant from the scheduler's clock
    this.nextDueAt = nextDue === null ? null : Date.now() + ((nextDue as number) - now)
    return report
  }

  private async holdLeadership (): Promise<boolean> {
    const since = Date.now() - this.leaderRenewedAt
    if (this.leaderToken !== null && since < this.options.leaderTtlMs / 3) return true
    try {
      const result = await this.backend.acquireLeader(LEADER_LOCK_NAME, this.options.nodeId, this.options.leaderTtlMs)
      const wasLeader = this.leaderToken !== null
      this.leaderToken = result.acquired ? result.lock?.token ?? null : null
      if (result.acquired) this.leaderRenewedAt = Date.now()
      if (result.acquired !== wasLeader) this.log.info({ node: this.options.nodeId, token: this.leaderToken }, result.acquired ? 'scheduler: leading durable schedules' : 'scheduler: lost the leader lock')
    } catch (err) {
      // Without an answer we cannot know we still lead: stand down until the lock is confirmed again.
      this.leaderToken = null
      this.log.warn({ err }, 'scheduler: leader lock check failed')
    }
    return this.leaderToken !== null
  }

  /** fires what is due for one schedule and records it; returns the record after the pass */
  private async pass (store: ScheduleStore, stored: StoredSchedule, now: number, report: TickReport): Promise<ScheduleRecord | null> {
    const record = stored.record
    if (record.paused || record.nextRunAt === null || record.nextRunAt > now) return record
    let plan
    try {
      plan = compileCron(record.spec, record.timezone)
    } catch (err) {
      return await this.record(store, record.name, [{ kind: 'failed', instant: record.nextRunAt, error: message(err) }], now, 0, now, report)
    }
    const grace = this.options.misfireGraceMs
    const lateUntil = now - grace - 1
    const late = record.cursorAt < lateUntil ? plan.dueBetween(record.cursorAt, lateUntil) : { instants: [], more: false }
    const onTime = plan.dueBetween(Math.max(record.cursorAt, lateUntil), now, MAX_FIRES_PER_PASS)
    const toFire = [...onTime.instants]
    let missed = late.instants.length
    if (missed > 0 && toFire.length === 0 && record.catchUp === 'latest') {
      const latest = late.more ? plan.previous(lateUntil + 1) : late.instants[missed - 1]
      if (latest !== null && latest !== undefined) { toFire.push(latest); missed-- }
    }
    const outcomes: FireOutcome[] = []
    for (const instant of toFire) {
      const outcome = await this.fire(record, instant, false)
      outcomes.push(outcome)
      if (outcome.kind === 'fired' || (outcome.kind === 'duplicate' && outcome.taskId !== null)) record.lastTaskId = outcome.taskId
    }
    // more than a pass can fire: the rest are skipped, and the cursor moves to now
    const cursor = onTime.more || late.more ? now : Math.max(toFire.at(-1) ?? record.cursorAt, onTime.instants.at(-1) ?? record.cursorAt, late.instants.at(-1) ?? record.cursorAt)
    return await this.record(store, record.name, outcomes, cursor, missed, now, report)
  }

  private async record (store: ScheduleStore, name: string, outcomes: FireOutcome[], cursor: number, missed: number, now: number, report: TickReport): Promise<ScheduleRecord | null> {
    for (const outcome of outcomes) {
      if (outcome.kind === 'fired') report.fired++
      if (outcome.kind === 'skipped') report.skipped++
      if (outcome.kind === 'failed') report.failed++
    }
    report.skipped += missed
    let after: ScheduleRecord | null = null
    try {
      // a schedule deleted meanwhile stays deleted: its fires already happened, there is nothing to record them in
      after = await mutateSchedule(store, name, current => current === null ? null : withOutcomes(current, outcomes, cursor, missed, now))
    } catch (err) {
      this.log.warn({ err, schedule: name }, 'scheduler: could not record a pass')
    }
    this.emitOutcomes(name, store.durable, outcomes, missed)
    return after
  }

  private emitOutcomes (name: string, durable: boolean, outcomes: FireOutcome[], missed: number): void {
    if (this.events === null) return
    if (missed > 0) this.events.emit('schedule.skipped', { schedule: name, durable, reason: 'missed', count: missed })
    for (const outcome of outcomes) {
      if (outcome.kind === 'fired') this.events.emit(outcome.manual ? 'schedule.run' : 'schedule.fired', { schedule: name, durable, instant: new Date(outcome.instant).toISOString(), taskId: outcome.taskId })
      if (outcome.kind === 'skipped') this.events.emit('schedule.skipped', { schedule: name, durable, instant: new Date(outcome.instant).toISOString(), reason: outcome.reason })
      if (outcome.kind === 'failed') this.events.emit('schedule.failed', { schedule: name, durable, instant: new Date(outcome.instant).toISOString(), error: outcome.error })
    }
  }

  /** the idempotency/claim key of one fire: cluster-wide for durable schedules, per process for in-memory ones */
  private fireKey (record: ScheduleRecord, instant: number): string {
    return record.durable ? `schedule:${record.name}:${instant}` : `schedule:${record.name}:${instant}:${this.options.nodeId}`
  }

  private get claimTtlMs (): number {
    // long enough that no leader can still be working on the instant when the claim lapses
    return 2 * this.options.misfireGraceMs + 2 * this.options.leaderTtlMs + 60_000
  }

  private async fire (record: ScheduleRecord, instant: number, manual: boolean): Promise<FireOutcome> {
    const entry = this.factories.get(record.name)
    if (entry === undefined) return { kind: 'failed', instant, error: `no schedule factory named ${record.name} is registered in this process (${this.options.nodeId})` }
    try {
      if (!manual && record.overlap === 'skip' && record.lastTaskId !== null) {
        const previous = await this.backend.getTask(record.lastTaskId)
        if (previous !== null && ACTIVE_STATES.has(previous.state)) {
          return { kind: 'skipped', instant, reason: `overlap: the previous run ${previous.id} is still ${previous.state}`, taskId: previous.id }
        }
      }
      const key = manual ? `schedule:${record.name}:run:${randomUUID()}` : this.fireKey(record, instant)
      const idempotent = this.backend.capabilities.idempotencyKeys
      if (!manual && record.durable) {
        const claimed = await this.backend.claimOnce(key, this.claimTtlMs)
        // Unclaimed: another node has this instant. With idempotency keys enqueueing again
        // is harmless and covers a claimer that died before its enqueue.
        if (!claimed && !idempotent) return { kind: 'duplicate', instant, taskId: null }
      }
      const { afterEnqueue, ...task } = await entry.create({ schedule: record.name, instant, manual })
      let result
      try {
        const [enqueued] = await this.enqueuer.enqueue([{ ...task, idempotencyMode: undefined, ...(idempotent ? { idempotencyKey: key } : {}) }])
        if (enqueued === undefined) throw Errors.backendUnavailable('enqueue answered no result')
        result = enqueued.result
      } catch (err) {
        await afterEnqueue?.({ error: err }).catch(() => {})
        throw err
      }
      await afterEnqueue?.({ taskId: result.id, created: result.created })
      return result.created ? { kind: 'fired', instant, taskId: result.id, manual } : { kind: 'duplicate', instant, taskId: result.id }
    } catch (err) {
      return { kind: 'failed', instant, error: message(err) }
    }
  }

  // --- operating on schedules (the admin service calls these) --------------------------------

  listFactories (): FactoryInfo[] {
    return this.factories.list()
  }

  private storeFor (durable: boolean): ScheduleStore {
    if (durable && !this.backend.capabilities.records) {
      throw Errors.unsupported(`durable: the ${this.backend.name} backend cannot store schedules (records capability off); use durable: false`, { details: { field: 'durable', backend: this.backend.name } })
    }
    return durable ? this.durableStore : this.memoryStore
  }

  private async allStored (): Promise<Array<{ store: ScheduleStore, stored: StoredSchedule }>> {
    const durable = this.backend.capabilities.records ? await this.durableStore.list() : []
    const memory = await this.memoryStore.list()
    return [...durable.map(stored => ({ store: this.durableStore as ScheduleStore, stored })), ...memory.map(stored => ({ store: this.memoryStore as ScheduleStore, stored }))]
  }

  private view (record: ScheduleRecord): ScheduleView {
    return { ...record, factoryRegistered: this.factories.has(record.name) }
  }

  async listSchedules (): Promise<ScheduleView[]> {
    return (await this.allStored()).map(({ stored }) => this.view(stored.record)).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : Number(b.durable) - Number(a.durable))
  }

  /** the schedule named `name`: durable first, then this process's in-memory one */
  private async find (name: string): Promise<{ store: ScheduleStore, stored: StoredSchedule }> {
    if (this.backend.capabilities.records) {
      const stored = await this.durableStore.get(name)
      if (stored !== null) return { store: this.durableStore, stored }
    }
    const stored = await this.memoryStore.get(name)
    if (stored !== null) return { store: this.memoryStore, stored }
    throw SchedulerErrors.scheduleNotFound(`schedule ${name} not found`, { details: { schedule: name } })
  }

  /** validates an operator's (or the config's) schedule; every error names its field */
  definitionOf (input: ScheduleInput, existing: ScheduleRecord | null, field = ''): ScheduleDefinition {
    const at = (name: string): string => field === '' ? name : `${field}.${name}`
    const entry = this.factories.require(input.name, at('name'))
    const timezone = input.timezone ?? existing?.timezone ?? DEFAULT_TIMEZONE
    const plan = compileCron(input.spec, timezone, { spec: at('spec'), timezone: at('timezone') })
    const overlap = input.overlap ?? existing?.overlap ?? 'skip'
    if (!OVERLAP_POLICIES.includes(overlap)) throw Errors.validation(`${at('overlap')}: must be one of ${OVERLAP_POLICIES.join(', ')}`, { details: { field: at('overlap'), value: overlap } })
    const catchUp = input.catchUp ?? existing?.catchUp ?? 'none'
    if (!CATCH_UP_POLICIES.includes(catchUp)) throw Errors.validation(`${at('catchUp')}: must be one of ${CATCH_UP_POLICIES.join(', ')}`, { details: { field: at('catchUp'), value: catchUp } })
    return {
      name: input.name,
      spec: plan.spec,
      timezone: plan.timezone,
      durable: input.durable ?? existing?.durable ?? entry.info.durableDefault,
      paused: input.paused ?? existing?.paused ?? false,
      overlap,
      catchUp
    }
  }

  /** create, or update by name (run state and history are kept); `created` tells which */
  async upsert (input: ScheduleInput, field = ''): Promise<{ schedule: ScheduleView, created: boolean, changed: boolean }> {
    const durable = input.durable ?? this.factories.get(input.name)?.info.durableDefault ?? true
    const store = this.storeFor(durable)
    const other = durable ? this.memoryStore : (this.backend.capabilities.records ? this.durableStore : null)
    const now = await this.clock()
    let created = false
    let changed = false
    const record = await mutateSchedule(store, input.name, current => {
      const definition = this.definitionOf({ ...input, durable }, current, field)
      created = current === null
      if (current === null) { changed = true; return newRecord(definition, now) }
      changed = !sameDefinition(current, definition)
      return changed ? updatedRecord(current, definition, now) : null
    })
    // one name, one schedule: moving it between durable and in-memory removes the other copy
    if (other !== null && created) await other.delete(input.name)
    return { schedule: this.view(record as ScheduleRecord), created, changed }
  }

  async remove (name: string): Promise<{ deleted: boolean, durable: boolean | null }> {
    if (this.backend.capabilities.records && await this.durableStore.delete(name)) return { deleted: true, durable: true }
    if (await this.memoryStore.delete(name)) return { deleted: true, durable: false }
    return { deleted: false, durable: null }
  }

  async pause (name: string, paused: boolean): Promise<{ schedule: ScheduleView, changed: boolean }> {
    const { store } = await this.find(name)
    const now = await this.clock()
    let changed = false
    const record = await mutateSchedule(store, name, current => {
      if (current === null) throw SchedulerErrors.scheduleNotFound(`schedule ${name} not found`, { details: { schedule: name } })
      const next = pausedRecord(current, paused, now)
      changed = next !== null
      return next
    })
    return { schedule: this.view(record as ScheduleRecord), changed }
  }

  async pauseAll (paused: boolean): Promise<PauseAllResult> {
    const all = await this.allStored()
    const changed: string[] = []
    for (const { store, stored } of all) {
      if (stored.record.paused === paused) continue
      const now = await this.clock()
      let did = false
      await mutateSchedule(store, stored.record.name, current => {
        const next = current === null ? null : pausedRecord(current, paused, now)
        did = next !== null
        return next
      })
      if (did) changed.push(stored.record.name)
    }
    return { changed, total: all.length }
  }

  /** runs the schedule's factory now, outside its cron times (overlap protection does not apply) */
  async runNow (name: string): Promise<{ schedule: ScheduleView, taskId: string }> {
    const { store, stored } = await this.find(name)
    const now = await this.clock()
    const outcome = await this.fire(stored.record, now, true)
    if (outcome.kind === 'failed') {
      await mutateSchedule(store, name, current => current === null ? null : withOutcomes(current, [outcome], current.cursorAt, 0, now)).catch(() => null)
      throw Errors.conflict(`schedule ${name} could not run: ${outcome.error}`, { details: { schedule: name } })
    }
    const record = await mutateSchedule(store, name, current => current === null ? null : withOutcomes(current, [outcome], current.cursorAt, 0, now))
    return { schedule: this.view(record ?? stored.record), taskId: outcome.kind === 'fired' || outcome.kind === 'duplicate' ? outcome.taskId ?? '' : '' }
  }

  /** newest first across schedules (or one schedule), at most `limit` */
  async listEvents (name: string | undefined, limit: number): Promise<Array<ScheduleEventEntry & { schedule: string, durable: boolean }>> {
    const all = name === undefined ? (await this.allStored()).map(entry => entry.stored.record) : [(await this.find(name)).stored.record]
    return all
      .flatMap(record => record.history.map(entry => ({ ...entry, schedule: record.name, durable: record.durable })))
      .sort((a, b) => b.at - a.at)
      .slice(0, limit)
  }
}

export function createScheduler (input: CreateSchedulerInput): Scheduler {
  return new Scheduler(input)
}
