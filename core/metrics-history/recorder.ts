import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Backend, CascadedTask } from '../backend/types.ts'
import type { MetricEvent } from '../plugin/kinds.ts'
import { readSteps, rollUpHour, trimBefore, updateStep } from './store.ts'
import {
  addCounts, HOUR_MS, HOUR_RETENTION_MS, HOURS_COLLECTION, hourKey, MINUTE_MS, MINUTE_RETENTION_MS, minuteKey,
  MINUTES_COLLECTION, setDepth, zeroCounts, type Counts, type Depth
} from './steps.ts'

// The metrics history, cluster-wide, on every backend with records:
// - every process counts what it does (enqueues, task outcomes, operator replays) in
//   memory, each transition where it is seen, so once: a worker's own failures, the
//   dead letters of its lease recovery sweep, an operator's release of a worker's
//   leases, and the dependency cascades its backend calls ran (Backend.watchCascades), per minute and queue, and every flushIntervalMs adds those deltas into the
//   shared minute record with compare-and-set, so N processes' counts add up;
// - one process, the holder of the `switchyard.metrics-history` leader lock (the
//   scheduler's mechanism, a lock of its own), samples queue depths into the current
//   minute, rolls minutes up into hours, and trims minutes past 24 h and hours past
//   30 d. Every console reads the same records, so every console shows the same history.
// Counts are bucketed by the backend's clock (each process learns its offset on flush).

export const METRICS_HISTORY_LOCK = 'switchyard.metrics-history'
/** minutes of deltas a process keeps while the backend refuses its writes; older ones are dropped (and counted) */
const MAX_PENDING_MINUTES = 120
const TRIM_BATCH = 200

export interface MetricsHistoryOptions {
  /** how often this process adds its counts into the shared minutes (default 10 s) */
  flushIntervalMs?: number
  /** how often the leader samples depths, rolls up and trims (default 20 s) */
  leaderIntervalMs?: number
  /** leader lock ttl (default 3 × leaderIntervalMs) */
  leaderTtlMs?: number
  nodeId?: string
  onError?: (err: unknown, context: string) => void
}

type Deltas = Map<string | null, Counts>

export class MetricsHistory {
  readonly enabled: boolean
  /** minutes of counts dropped because the backend refused them for too long */
  droppedMinutes = 0
  private pending = new Map<string, Deltas>()
  private clockOffsetMs = 0
  private flushing: Promise<void> = Promise.resolve()
  private leaderRun: Promise<unknown> = Promise.resolve()
  private leaderToken: number | null = null
  private timers: NodeJS.Timeout[] = []
  private readonly nodeId: string
  private readonly flushIntervalMs: number
  private readonly leaderIntervalMs: number
  private readonly leaderTtlMs: number
  private readonly onError: (err: unknown, context: string) => void

  constructor (private readonly backend: Backend, options: MetricsHistoryOptions = {}) {
    this.enabled = backend.capabilities.records
    this.flushIntervalMs = options.flushIntervalMs ?? 10_000
    this.leaderIntervalMs = options.leaderIntervalMs ?? 20_000
    this.leaderTtlMs = options.leaderTtlMs ?? 3 * this.leaderIntervalMs
    this.nodeId = options.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
    this.onError = options.onError ?? (() => {})
  }

  /** counts a runtime observation (enqueue path, worker outcomes); cheap, never blocks */
  readonly observe = (event: MetricEvent): void => {
    if (event.type === 'task.enqueued') this.count(event.queue, 0)
    else if (event.type === 'task.finished') {
      if (event.outcome === 'succeeded') this.count(event.queue, 1)
      else if (event.outcome === 'retrying') this.count(event.queue, 2)
      else if (event.outcome === 'dead') { this.count(event.queue, 2); this.count(event.queue, 3) }
    }
  }

  /**
   * Counts tasks that went to the DLQ without a worker's own failure (an expired or
   * released lease on the last attempt, a dependency cascade) as a worker's final
   * failure counts: failed and dead. A queue not known (the task is gone already) is
   * counted in the all-queues series only.
   */
  noteDeadLetters (queues: ReadonlyArray<string | null>): void {
    for (const queue of queues) { this.count(queue, 2); this.count(queue, 3) }
  }

  /** counts the dead letters of a dependency cascade (Backend.watchCascades); canceled tasks have no series */
  readonly noteCascade = (tasks: readonly CascadedTask[]): void => {
    this.noteDeadLetters(tasks.flatMap(task => task.state === 'dead' ? [task.queue] : []))
  }

  /**
   * Counts from the events an admin mutation appends: operator replays (dlq.replayed,
   * task.retried, a bulk retry) and the dead letters of a lease release (task.dead).
   */
  noteAdminEvents (events: ReadonlyArray<{ type: string, data: unknown }>): void {
    for (const event of events) {
      const data = (event.data !== null && typeof event.data === 'object' ? event.data : {}) as Record<string, unknown>
      const queue = typeof data.targetQueue === 'string' ? data.targetQueue : typeof data.queue === 'string' ? data.queue : null
      if (event.type === 'task.dead') this.noteDeadLetters([queue])
      else if (event.type === 'dlq.replayed' && typeof data.count === 'number' && data.count > 0) this.count(queue, 4, data.count)
      else if (event.type === 'task.retried') this.count(queue, 4)
      else if (event.type === 'task.bulk' && data.action === 'retry' && typeof data.count === 'number' && data.count > 0) this.count(queue, 4, data.count)
    }
  }

  private count (queue: string | null, field: number, n = 1): void {
    if (!this.enabled) return
    const key = minuteKey(Date.now() + this.clockOffsetMs)
    let minute = this.pending.get(key)
    if (minute === undefined) {
      minute = new Map()
      this.pending.set(key, minute)
      this.boundPending()
    }
    let counts = minute.get(queue)
    if (counts === undefined) { counts = zeroCounts(); minute.set(queue, counts) }
    counts[field] = (counts[field] ?? 0) + n
  }

  private boundPending (): void {
    while (this.pending.size > MAX_PENDING_MINUTES) {
      const oldest = [...this.pending.keys()].sort()[0] as string
      this.pending.delete(oldest)
      this.droppedMinutes++
    }
  }

  /** adds this process's counts so far into the shared minutes; what cannot be written is kept for the next flush */
  flush (): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      // nothing counted: no backend call at all (idle processes, CLI commands)
      if (!this.enabled || this.pending.size === 0) return
      try {
        this.clockOffsetMs = (await this.backend.now()) - Date.now()
      } catch (err) {
        this.onError(err, 'metrics history: reading the backend clock')
      }
      const batch = this.pending
      this.pending = new Map()
      for (const key of [...batch.keys()].sort()) {
        const deltas = batch.get(key) as Deltas
        let written = false
        try {
          written = await updateStep(this.backend, MINUTES_COLLECTION, key, step => addCounts(step, deltas))
        } catch (err) {
          this.onError(err, 'metrics history: adding counts')
        }
        if (!written) this.keep(key, deltas)
      }
    })
    return this.flushing
  }

  private keep (key: string, deltas: Deltas): void {
    const minute = this.pending.get(key) ?? new Map<string | null, Counts>()
    for (const [queue, counts] of deltas) {
      const into = minute.get(queue) ?? zeroCounts()
      for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (counts[i] ?? 0)
      minute.set(queue, into)
    }
    this.pending.set(key, minute)
    this.boundPending()
  }

  /**
   * One round of the leader's work, when this process holds (or takes) the lock:
   * sample depths into the current minute, roll up this hour and the last (all 25
   * hours a minute record can cover on taking over), trim past retention.
   * Answers whether this process was the leader.
   */
  leaderTick (): Promise<boolean> {
    const run = this.leaderRun.then(async () => {
      if (!this.enabled || !this.backend.capabilities.leaderLock) return false
      const lock = await this.backend.acquireLeader(METRICS_HISTORY_LOCK, this.nodeId, this.leaderTtlMs)
      if (!lock.acquired) { this.leaderToken = null; return false }
      const tookOver = this.leaderToken === null
      this.leaderToken = lock.lock?.token ?? null
      const now = await this.backend.now()
      const stats = await this.backend.queueStats()
      const depth = new Map<string, Depth>(stats.map(q => [q.name, [q.ready, q.processing, q.scheduled, q.dead]]))
      await updateStep(this.backend, MINUTES_COLLECTION, minuteKey(now), step => setDepth(step, depth))
      const hours = tookOver ? 25 : 2
      for (let h = 0; h < hours; h++) await rollUpHour(this.backend, now - h * HOUR_MS)
      await trimBefore(this.backend, MINUTES_COLLECTION, minuteKey(now - MINUTE_RETENTION_MS), TRIM_BATCH)
      await trimBefore(this.backend, HOURS_COLLECTION, hourKey(now - HOUR_RETENTION_MS), TRIM_BATCH)
      return true
    })
    this.leaderRun = run.catch(() => false)
    return run
  }

  /** starts the flush timer, and the leader's when this process may lead (it runs workers) */
  start (options: { leader: boolean }): void {
    if (!this.enabled || this.timers.length > 0) return
    const every = (ms: number, work: () => Promise<unknown>, context: string): void => {
      let running = false
      const timer = setInterval(() => {
        if (running) return
        running = true
        work().catch(err => this.onError(err, context)).finally(() => { running = false })
      }, ms)
      timer.unref()
      this.timers.push(timer)
    }
    every(this.flushIntervalMs, async () => { await this.flush() }, 'metrics history: flush')
    if (options.leader) {
      every(this.leaderIntervalMs, async () => { await this.leaderTick() }, 'metrics history: leader round')
      this.leaderTick().catch(err => this.onError(err, 'metrics history: leader round'))
    }
  }

  /** stops the timers, writes the counts still held, gives the lock up */
  async close (): Promise<void> {
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    await this.leaderRun
    await this.flush()
    const token = this.leaderToken
    this.leaderToken = null
    if (token !== null) await this.backend.releaseLeader(METRICS_HISTORY_LOCK, this.nodeId, token).catch(err => this.onError(err, 'metrics history: releasing the lock'))
  }
}

/** the minute steps from `fromMs` on (for tests and tools) */
export async function readMinutes (backend: Backend, fromMs: number, toMs: number): Promise<Array<{ key: string, value: unknown }>> {
  return await readSteps(backend, MINUTES_COLLECTION, minuteKey(fromMs - MINUTE_MS), minuteKey(toMs), 1500)
}
