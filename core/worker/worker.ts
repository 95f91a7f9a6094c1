import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { withDeadline } from '../admin/deadline.ts'
import { withArgumentChecks } from '../backend/argument-guard.ts'
import { markResultChecked } from '../backend/arguments.ts'
import { withTimeouts } from '../backend/guard.ts'
import { leaseUnderRateLimit } from '../backend/rate-lease.ts'
import { checkResult, isNoResult } from '../backend/results.ts'
import { MAX_LIST_LIMIT, MAX_PUSH_WAIT_MS } from '../backend/types.ts'
import { taskQueues } from '../backend/task-queues.ts'
import type { AckOutcome, Backend, CompleteRequest, FailOutcome, FailRequest, LeasedTask, LeaseRef, LeaseRequest, ProgressRequest, Unsubscribe, WorkerInfo } from '../backend/types.ts'
import { Errors } from '../errors.ts'
import { EventLog } from '../events/event-log.ts'
import { backoffDelay } from './backoff.ts'
import { Batcher } from './batcher.ts'
import { describeError, LazyAbort, RunContext } from './context.ts'
import { isPermanentError, WorkerErrors } from './errors.ts'
import { createHandlerRegistry, HandlerRegistry, type HandlerMap } from './handlers.ts'
import { consoleLogger, type Logger } from './logger.ts'
import { resolveWorkerOptions, type WorkerOptions, type WorkerOptionsInput } from './options.ts'
import { Periodic } from './periodic.ts'
import { ProgressReporter } from './progress.ts'
import { weightedQueueOrder, type WeightedQueue } from './queue-choice.ts'
import { flowWaitMs } from './flow-wait.ts'
import { waitAny, Wakeup } from './wakeup.ts'

export interface TaskObservation {
  id: string
  queue: string
  handler: string
  attempt: number
  /** handler run time */
  durationMs: number
  /** from when the task was due (runAt) to when this worker leased it */
  waitMs: number
}

export interface TaskFailureObservation extends TaskObservation {
  error: string
  outcome: 'retrying' | 'dead'
}

/** a task this worker's recovery sweep dead-lettered: its lease (any worker's) expired on its last attempt */
export interface RecoveredDeadObservation {
  id: string
  /** null when the task could not be looked up (gone already, or past the lookup bound) */
  queue: string | null
}

export interface WorkerEventMap {
  'task:started': [Omit<TaskObservation, 'durationMs'>]
  'task:succeeded': [TaskObservation]
  'task:failed': [TaskFailureObservation]
  'task:recovered-dead': [RecoveredDeadObservation]
}

export interface WorkerCounters {
  leased: number
  /** attempts that succeeded and were acknowledged */
  processed: number
  /** attempts that failed (retrying or dead) */
  failed: number
  retried: number
  dead: number
  timedOut: number
  /** results discarded because the lease had been lost */
  leaseLost: number
  /** handed back on shutdown without consuming the attempt */
  released: number
  /** expired leases (of any worker) this worker put back to ready */
  recovered: number
  /** succeeded tasks whose result was not stored (not JSON, or larger than resultMaxBytes) */
  resultsDropped: number
  /** progress values written to the backend (after coalescing) */
  progressWritten: number
}

export interface CreateWorkerInput {
  backend: Backend
  handlers: HandlerRegistry | HandlerMap
  options?: WorkerOptionsInput
  /** shared event log; omitted: the worker keeps its own; false: emit no task events */
  events?: EventLog | false
  log?: Logger
}

type Settlement =
  | { kind: 'succeeded', result?: unknown }
  | { kind: 'failed', error: unknown }
  | { kind: 'lease_lost' }
  | { kind: 'released' }

interface InFlight {
  task: LeasedTask
  abort: LazyAbort
  /** performance.now() when the handler was started */
  startedAt: number
  waitMs: number
  timer: NodeJS.Timeout | undefined
  settled: boolean
  /** made on the handler's first ctx.progress call */
  progress: ProgressReporter | null
}

type LeaseResult = 'full' | 'drained' | 'rate_limited'
type LeaseFetch = (req: LeaseRequest) => Promise<LeasedTask[]>

const SUCCEEDED: Settlement = { kind: 'succeeded' }
const LEASE_LOST: Settlement = { kind: 'lease_lost' }
const RELEASED: Settlement = { kind: 'released' }
const RECOVERY_BATCH = 500
// Two calls in flight hide one round trip behind the other while the queues are deep
// (see leasesInFlightAllowed); more would mostly contend for the same rows.
const MAX_LEASES_IN_FLIGHT = 2
// Prefetching hides a lease round trip (a few ms); tasks longer than this gain
// little from it, and a prefetched task would wait a whole run for its slot.
const PREFETCH_MAX_RUN_MS = 25
const RUN_MS_SMOOTHING = 0.1
// Deep queues of short tasks: a lease call grows to this many batches, at most
// DEEP_LEASE_MAX tasks (a worker then holds at most two such calls' worth waiting),
// unless the backend declares its own size (capability deepLeaseCall).
const DEEP_LEASE_FACTOR = 8
const DEEP_LEASE_MAX = 500
// With a declared size, calls grow to at most this many batches (the batch defaults to
// the concurrency): prefetched tasks still wait about as long for their slots as the
// undeclared rule lets them, so a small worker never sits on a declared 1,000.
const DECLARED_DEEP_LEASE_FACTOR = 20
// While the cluster-wide limiter has no permits left, ask again this often: the
// window length is the backend's business, and a short poll keeps starts prompt.
const RATE_LIMIT_POLL_MS = 50
// Longest an ack waits for a lease call to carry it (capability acksAwaitLeases): about one
// lease round trip of a deep queue's call; past it the ack goes in a call of its own.
const ACK_LEASE_WAIT_MS = 50
const MAX_LOOP_ERROR_DELAY_MS = 5_000
const MAX_QUEUES_REPORTED = 100
const MAX_HANDLERS_REPORTED = 1000

function leaseRef (task: LeasedTask): LeaseRef {
  return { id: task.id, leaseToken: task.leaseToken }
}

function roundMs (ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/**
 * Runs tasks from a backend: leases them in weighted queue order, runs handlers
 * with a concurrency bound, a per-task timeout and lease renewal, and writes acks
 * and failures in batches. Call start(); stop() drains gracefully.
 */
export class Worker extends EventEmitter<WorkerEventMap> {
  readonly id: string
  readonly options: WorkerOptions
  readonly counters: WorkerCounters = { leased: 0, processed: 0, failed: 0, retried: 0, dead: 0, timedOut: 0, leaseLost: 0, released: 0, recovered: 0, resultsDropped: 0, progressWritten: 0 }

  private readonly backend: Backend
  private readonly handlers: HandlerRegistry
  private readonly events: EventLog | null
  private readonly ownsEvents: boolean
  private readonly log: Logger
  private readonly running = new Map<string, InFlight>()
  private readonly acks: Batcher<CompleteRequest, AckOutcome>
  private readonly fails: Batcher<FailRequest, FailOutcome>
  private readonly progressWrites: Batcher<ProgressRequest, AckOutcome>
  /** succeeded tasks whose last progress is written before their ack is queued; stop() waits for them */
  private readonly finishing = new Set<Promise<void>>()
  /** leased, not started yet: waiting for a free slot */
  private readonly buffered: LeasedTask[] = []
  /** tasks asked for by lease calls still in flight */
  private requested = 0
  private startingBuffered = false
  /** what the lease loop waits for before leasing again: new work, or just time */
  private leaseHold: { ms: number, untilWork: boolean } | null = null
  private leaseFailures = 0
  /** a lease call of a whole batch or more filled its limit, and none has come back short since */
  private queuesDeep = false
  private readonly leaseCalls = new Set<Promise<void>>()
  /** releases of tasks leased without a handler here (see handBack); stop() waits for them */
  private readonly handingBack = new Set<Promise<void>>()
  /** a task was handed back since the last lease call settled: the next call waits (see handBack) */
  private handedBack = false
  /** moving average of handler run time, which decides whether prefetching pays; no prefetch until tasks prove short */
  private recentRunMs = PREFETCH_MAX_RUN_MS * 2
  private readonly workAvailable = new Wakeup()
  /** ends the wait for pushed tasks in progress (see launchPushWait) */
  private pushWait: AbortController | null = null
  /** a slot freed or a lease call returned */
  private readonly capacity = new Wakeup()
  private readonly halt = new Wakeup()
  private readonly queueRefresher: Periodic
  private readonly leaseRenewer: Periodic
  private readonly leaseRecoverer: Periodic
  private readonly heartbeat: Periodic
  private weighted: WeightedQueue[]
  private knownQueues = new Set<string>()
  private queuesEnsured = false
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  private starting: Promise<void> = Promise.resolve()
  private leaseLoop: Promise<void> = Promise.resolve()
  /** whether a rate limit is set, as of the last refresh; null: not known yet */
  private rateLimitSet: boolean | null = null
  /** flow limits are stored (read at each queue refresh): a short lease may be a throttled one */
  private flowLimitsSet = false
  /** window lengths of the stored rate limits, and whether a concurrency limit is stored (same refresh) */
  private flowRateWindows: number[] = []
  private flowConcurrencySet = false
  /** lease calls in a row that came back short while flow limits were stored (see flow-wait.ts) */
  private flowShortLeases = 0
  private stopping: Promise<void> | null = null
  private unsubscribeWork: Unsubscribe | null = null
  private stopWatchingHandlers: (() => void) | null = null
  private startedAt = 0
  /**
   * an operator cordoned this worker (read from its heartbeats): it leases nothing and
   * finishes what it runs. The backend refuses its leases from the cordon on; this is
   * what stops the lease calls and hands back what was leased before.
   */
  private cordoned = false
  private readonly uncordoned = new Wakeup()

  constructor (input: CreateWorkerInput) {
    super()
    this.options = resolveWorkerOptions(input.options)
    this.id = this.options.id
    this.log = input.log ?? consoleLogger
    this.backend = withTimeouts(withArgumentChecks(input.backend), this.options.backendTimeoutMs)
    this.handlers = input.handlers instanceof HandlerRegistry ? input.handlers : createHandlerRegistry(input.handlers)
    if (input.events === false) {
      this.events = null
      this.ownsEvents = false
    } else if (input.events !== undefined) {
      this.events = input.events
      this.ownsEvents = false
    } else {
      this.events = this.backend.capabilities.eventLog ? new EventLog(this.backend, { onError: err => this.log.warn({ err }, 'worker could not append task events') }) : null
      this.ownsEvents = this.events !== null
    }
    const batch = { maxBatch: Math.min(this.options.ackBatchSize, MAX_LIST_LIMIT), flushMs: this.options.ackFlushMs, log: this.log }
    // A backend whose combined ack and lease is the cheaper path (acksAwaitLeases) has acks
    // wait for the next lease call while leases flow, rather than go in calls of their own.
    const acksAwait = this.backend.capabilities.acksAwaitLeases === true && this.backend.completeAndLease !== undefined
    this.acks = new Batcher({
      ...batch,
      name: 'ack',
      send: items => this.backend.completeTasks(items),
      // a small share of the lease: a settled task's lease is no longer renewed while its ack waits
      ...(acksAwait ? { defer: () => this.leaseWillCarryAcks(), maxDeferMs: Math.min(ACK_LEASE_WAIT_MS, Math.floor(this.options.leaseMs / 10)) } : {})
    })
    this.fails = new Batcher({ ...batch, name: 'failure', send: items => this.backend.failTasks(items) })
    // a progress write given up on at shutdown counts as not stored, so a success waiting on it still queues its ack
    this.progressWrites = new Batcher({ ...batch, name: 'progress', send: items => this.backend.setTaskProgress(items), abandoned: 'lease_lost' })
    const explicit = this.options.queues
    this.weighted = explicit === null ? [] : explicit.map(name => ({ name, weight: this.weightOf(name, null) }))
    if (explicit !== null) this.knownQueues = new Set(explicit)
    const o = this.options
    this.queueRefresher = new Periodic({ name: 'queue refresh', intervalMs: o.queueRefreshMs, log: this.log, run: () => this.refreshQueues() })
    this.leaseRenewer = new Periodic({ name: 'lease renewal', intervalMs: o.leaseRenewMs, log: this.log, run: () => this.renewLeases() })
    // Recovery starts at once: tasks of a worker that crashed before this one started are waiting.
    this.leaseRecoverer = new Periodic({ name: 'lease recovery', intervalMs: o.recoveryMs, initialDelayMs: 0, log: this.log, run: () => this.recoverLeases() })
    this.heartbeat = new Periodic({ name: 'heartbeat', intervalMs: o.heartbeatMs, initialDelayMs: 0, log: this.log, run: () => this.sendHeartbeat() })
  }

  get inFlight (): number {
    return this.running.size
  }

  get isRunning (): boolean {
    return this.state === 'running'
  }

  /** true while an operator has this worker cordoned (as of its latest heartbeat) */
  get isCordoned (): boolean {
    return this.cordoned
  }

  /** Starts leasing. Backend failures here are logged and retried by the loops, never thrown. */
  start (): Promise<void> {
    if (this.state === 'new') {
      this.state = 'running'
      this.starting = this.boot()
    }
    return this.starting
  }

  private async boot (): Promise<void> {
    this.startedAt = Date.now()
    const backend = this.backend
    if (backend.capabilities.workNotifications && backend.subscribeWork !== undefined) {
      try {
        this.unsubscribeWork = await backend.subscribeWork(queue => this.onWorkNotification(queue))
      } catch (err) {
        this.log.warn({ err, workerId: this.id }, `worker could not subscribe to work notifications; polling every ${this.options.pollMs} ms`)
      }
    }
    try {
      await this.refreshQueues()
    } catch (err) {
      this.log.warn({ err, workerId: this.id }, 'worker could not read queues at start; retrying')
    }
    this.queueRefresher.start()
    this.leaseRenewer.start()
    this.leaseRecoverer.start()
    if (backend.capabilities.workerRegistry) this.heartbeat.start()
    // a handler registered while running is leased for from the next call on; wake an idle loop for it
    this.stopWatchingHandlers = this.handlers.onRegister(() => this.wakeForWork())
    this.leaseLoop = this.runLeaseLoop()
    this.log.info({ workerId: this.id, queues: this.options.queues, concurrency: this.options.concurrency }, 'worker started')
  }

  /**
   * Stops leasing, lets in-flight tasks finish within shutdownGraceMs, aborts and
   * releases the rest (their attempt is not consumed), writes pending acks and
   * events, and leaves the worker registry. Safe to call more than once.
   */
  stop (): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async shutdown (): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped'
      if (this.ownsEvents) await this.events?.close()
      return
    }
    // stop() during start(): let start finish wiring up, so everything it started is torn down below
    await this.starting
    this.state = 'stopping'
    this.wakeForWork()
    this.capacity.wake()
    this.halt.wake()
    await this.leaseLoop
    this.stopWatchingHandlers?.()
    this.stopWatchingHandlers = null
    // leased but never started: hand them back at once, without consuming their attempt
    await Promise.all([
      this.queueRefresher.stop(), this.leaseRecoverer.stop(), this.unsubscribe(), this.release(this.buffered.splice(0)), ...this.handingBack
    ])

    const deadline = Date.now() + this.options.shutdownGraceMs
    while (this.running.size > 0) {
      const left = deadline - Date.now()
      if (left <= 0) break
      await this.capacity.wait(left)
    }
    await this.leaseRenewer.stop()
    const leftovers = [...this.running.values()]
    for (const entry of leftovers) this.settle(entry, RELEASED)
    if (leftovers.length > 0) {
      this.log.warn({ workerId: this.id, tasks: leftovers.length }, `worker stop: ${leftovers.length} tasks still running after ${this.options.shutdownGraceMs} ms; releasing them`)
      await this.release(leftovers.map(entry => entry.task))
    }

    // the last progress of succeeded tasks goes out before their acks are queued
    await Promise.all([this.progressWrites.drain(this.options.backendTimeoutMs), ...this.finishing])
    await Promise.all([this.acks.drain(this.options.backendTimeoutMs), this.fails.drain(this.options.backendTimeoutMs)])
    if (this.events !== null) await (this.ownsEvents ? this.events.close() : this.events.flush())
    await this.heartbeat.stop()
    if (this.backend.capabilities.workerRegistry) {
      try {
        await this.backend.removeWorker(this.id)
      } catch (err) {
        this.log.warn({ err, workerId: this.id }, 'worker could not deregister; it drops out when its heartbeat expires')
      }
    }
    this.state = 'stopped'
    this.log.info({ workerId: this.id, counters: this.counters }, 'worker stopped')
  }

  private async unsubscribe (): Promise<void> {
    const unsubscribe = this.unsubscribeWork
    this.unsubscribeWork = null
    if (unsubscribe === null) return
    try {
      // not a backend method, so not bounded by withTimeouts: bounded here, so stop() always ends
      await withDeadline(unsubscribe(), this.options.backendTimeoutMs, 'unsubscribing from work notifications')
    } catch (err) {
      this.log.warn({ err, workerId: this.id }, 'worker could not unsubscribe from work notifications')
    }
  }

  // --- leasing -------------------------------------------------------------------

  /** work may be waiting (a notification, a new queue or handler, an uncordon, stop): end any wait for it */
  private wakeForWork (): void {
    this.pushWait?.abort()
    this.workAvailable.wake()
  }

  private onWorkNotification (queue: string): void {
    if (this.knownQueues.has(queue)) this.wakeForWork()
    else if (this.options.queues === null) this.queueRefresher.trigger()
  }

  /**
   * Keeps up to leasesInFlightAllowed() lease calls out at once, each for at most
   * leaseCallSize() tasks, until the lease window is full. Leasing runs ahead of the
   * handlers: with short tasks a batch is already here when slots free up, so the
   * round trip of a lease is hidden instead of paid between batches.
   */
  private async runLeaseLoop (): Promise<void> {
    while (this.state === 'running') {
      if (this.cordoned) {
        // the heartbeat that uncordons wakes this; the timeout only rechecks
        await waitAny(this.options.heartbeatMs, this.uncordoned, this.halt)
        continue
      }
      const hold = this.leaseHold
      if (hold !== null && this.leaseCalls.size === 0) {
        this.leaseHold = null
        if (hold.untilWork && this.launchPushWait(hold.ms)) continue
        if (hold.untilWork) await waitAny(hold.ms, this.workAvailable, this.halt)
        else await this.halt.wait(hold.ms)
        continue
      }
      const wanted = this.wantedLease()
      // a wait for pushed tasks in flight leases on registering already: no call beside it
      if (hold !== null || wanted < 1 || this.pushWait !== null || this.leaseCalls.size >= this.leasesInFlightAllowed()) {
        await this.capacity.wait(this.options.pollMs)
        continue
      }
      // While a rate limit is stored the lease takes the permits itself, counted in the
      // window of the start time it stamps; acks do not ride along then.
      if (this.rateLimitApplies()) {
        this.launchLease(wanted, null)
        continue
      }
      // Slots free up as tasks finish, so acks are usually waiting when a lease is
      // due: they ride along in the same round trip instead of a call of their own.
      // Not while flow limits are stored: the lease then holds the limit rows locked from
      // before its acks to its commit, and it is the one call in flight, so acks riding on
      // it lengthen the lease pipeline; they go in calls of their own beside it.
      const combined = this.backend.completeAndLease
      if (combined !== undefined && this.acks.size > 0 && !this.flowLimitsSet && this.leaseWithAcks(wanted, combined)) continue
      this.launchLease(wanted, req => this.backend.leaseTasks(req))
    }
    await Promise.all(this.leaseCalls)
  }

  /**
   * Waits for new work as a lease call of its own where the backend pushes tasks to idle
   * workers (capability pushDelivery): a task enqueued meanwhile arrives leased, one round
   * trip after its enqueue, instead of a wake-up followed by a lease. The call leases on
   * registering, so what became ready since the last lease is not left waiting either;
   * wakeForWork ends it early. False, having sent nothing, where pushes cannot reach this
   * worker: flow or rate limits stored (an enqueue pushes nothing then), no free slot.
   */
  private launchPushWait (ms: number): boolean {
    const backend = this.backend
    const awaitPushed = backend.awaitPushedTasks
    if (backend.capabilities.pushDelivery !== true || awaitPushed === undefined) return false
    if (this.flowLimitsSet || this.rateLimitApplies() || this.cordoned) return false
    const wanted = this.wantedLease()
    if (wanted < 1) return false
    const controller = new AbortController()
    this.pushWait = controller
    // bounded below the backend call timeout, which covers the whole wait
    const waitMs = Math.max(1, Math.min(ms, Math.floor(this.options.backendTimeoutMs / 2), MAX_PUSH_WAIT_MS))
    this.launchLease(wanted, async req => {
      try {
        return await awaitPushed.call(backend, { ...req, waitMs, signal: controller.signal })
      } finally {
        if (this.pushWait === controller) this.pushWait = null
      }
    })
    return true
  }

  /**
   * A second call in flight only pays while the queues are deep (the last batch came
   * back full). With shallow queues, e.g. an idle worker woken for one new task, it
   * comes back empty, and sent right behind the first it is server and client work
   * while the woken task's lease is being answered (on Redis, whose replies go out after
   * the commands read together have run, the first reply waits for it). While flow
   * limits are stored, one call: on Postgres a lease locks the limit rows until it
   * commits, so a second call waits behind the first, and the acks that would have
   * ridden on it go in calls of their own (pg-throughput 20k, a stored unsaturated
   * limit: 65.5-73.5 -> 58-59.5 µs of server CPU per task, as without limits).
   */
  private leasesInFlightAllowed (): number {
    return this.queuesDeep && !this.flowLimitsSet ? MAX_LEASES_IN_FLIGHT : 1
  }

  /** a global rate limit is stored, or not known yet not to be (the last refresh decides) */
  private rateLimitApplies (): boolean {
    return this.backend.capabilities.rateLimit && this.rateLimitSet !== false
  }

  /** how many more tasks a lease call may ask for now */
  private wantedLease (): number {
    return Math.min(this.leaseCallSize(), this.leaseWindow() - this.running.size - this.buffered.length - this.requested)
  }

  private launchLease (wanted: number, fetch: LeaseFetch | null): void {
    this.requested += wanted
    const call: Promise<void> = this.leaseOnce(wanted, fetch).then(
      result => {
        this.leaseFailures = 0
        // deep once a whole batch came back full; a smaller full call says nothing either way
        if (result !== 'full') this.queuesDeep = false
        else if (wanted >= this.options.batchSize) this.queuesDeep = true
        // A flow limit holds tasks back without a work notification when it frees up
        // (a task of the scope finishing, the next rate window), so while limits are
        // stored a short lease looks again at the next window boundary or after a
        // growing back-off (flow-wait.ts), or at once when work arrives.
        const soon = Math.min(this.options.pollMs, RATE_LIMIT_POLL_MS)
        if (result === 'full' || !this.flowLimitsSet) this.flowShortLeases = 0
        this.leaseHold = result === 'full'
          ? null
          : result === 'rate_limited'
            ? { ms: soon, untilWork: false }
            : { ms: this.flowLimitsSet ? this.flowWait() : this.options.pollMs, untilWork: true }
        if (this.handedBack) this.leaseHold = { ms: this.options.pollMs, untilWork: false }
        this.handedBack = false
      },
      (err: unknown) => {
        const failures = ++this.leaseFailures
        const delay = Math.min(MAX_LOOP_ERROR_DELAY_MS, this.options.pollMs, 50 * 2 ** Math.min(failures, 10))
        this.log.warn({ err, workerId: this.id, failures }, `worker lease failed; retrying in ${delay} ms`)
        this.leaseHold = { ms: delay, untilWork: false }
        this.queuesDeep = false
      }
    ).finally(() => {
      this.requested -= wanted
      this.leaseCalls.delete(call)
      this.capacity.wake()
    })
    this.leaseCalls.add(call)
  }

  /**
   * Whether a lease call will carry the pending acks soon (capability acksAwaitLeases):
   * leases flow (one is out, the queues are deep, no hold after a short lease) and the
   * next one may take acks along (no rate limit, no flow limits: with either, the lease
   * does not take the next tasks in the acks' step, see leaseWithAcks).
   */
  private leaseWillCarryAcks (): boolean {
    return this.state === 'running' && !this.cordoned && this.leaseCalls.size > 0 && this.queuesDeep &&
      this.leaseHold === null && this.pushWait === null && !this.flowLimitsSet && !this.rateLimitApplies()
  }

  /**
   * Leases together with the pending acks (at most one ack batch) in one call.
   * False, having sent nothing, where a rate limit applies (the lease takes the permits,
   * leaseWithinRateLimit, and acks never wait for them) or no queue may be leased from.
   */
  private leaseWithAcks (wanted: number, combined: NonNullable<Backend['completeAndLease']>): boolean {
    const backend = this.backend
    if (this.rateLimitApplies()) return false
    const queues = weightedQueueOrder(this.weighted)
    const handlers = this.handlerNames()
    if (queues.length === 0 || handlers.length === 0) return false
    return this.acks.flushVia(async items => {
      const call = combined.call(backend, items, { workerId: this.id, queues, limit: wanted, leaseMs: this.options.leaseMs, handlers })
      this.launchLease(wanted, async () => (await call).leased)
      return (await call).acks
    })
  }

  /**
   * How many tasks this worker may hold leased: its slots, plus (for short tasks) a
   * prefetch that waits for a slot: one more batch, or while the queues stay deep
   * a full call's worth per call in flight. Long tasks get no prefetch, so a busy
   * worker never sits on tasks an idle peer could run.
   */
  private leaseWindow (): number {
    const { concurrency, batchSize } = this.options
    if (!this.prefetching()) return concurrency
    return concurrency + (this.queuesDeep ? MAX_LEASES_IN_FLIGHT * this.leaseCallSize() : Math.min(batchSize, concurrency))
  }

  private prefetching (): boolean {
    // Under a rate limit a task counts in the window of its lease (its start time): a
    // prefetched one would run its handler later, maybe a window later.
    return !this.rateLimitApplies() && this.recentRunMs <= PREFETCH_MAX_RUN_MS
  }

  /**
   * Tasks asked for per lease call. With short tasks and deep queues the round trip,
   * not the rows, is most of a call's cost, so calls grow (see DEEP_LEASE_FACTOR).
   */
  private leaseCallSize (): number {
    const { batchSize } = this.options
    // With several queues a call fills from the weight-drawn first queue, so bigger
    // calls would coarsen the weights' shares: only a single queue's calls grow.
    const singleQueue = this.weighted.length <= 1
    if (!singleQueue || !this.queuesDeep || !this.prefetching()) return batchSize
    // the backend's own size when it declares one (capability deepLeaseCall), in step with the batch
    const declared = this.backend.capabilities.deepLeaseCall
    return Math.max(batchSize, declared === undefined
      ? Math.min(DEEP_LEASE_MAX, batchSize * DEEP_LEASE_FACTOR)
      : Math.min(declared, batchSize * DECLARED_DEEP_LEASE_FACTOR))
  }

  /**
   * The handler names sent with every lease, so the backend hands out only tasks this
   * worker can run; the others stay ready (no attempt used) for a worker that can.
   */
  private handlerNames (): string[] {
    return this.handlers.nameList() as string[]
  }

  /** the wait after a short lease while flow limits are stored; each call counts one more short lease */
  private flowWait (): number {
    return flowWaitMs({ now: Date.now(), rateWindows: this.flowRateWindows, shortLeases: this.flowShortLeases++, maxMs: this.options.pollMs })
  }

  /** fetch null: the lease within the global rate limit (leaseUnderRateLimit) */
  private async leaseOnce (wanted: number, fetch: LeaseFetch | null): Promise<LeaseResult> {
    const queues = weightedQueueOrder(this.weighted)
    const handlers = this.handlerNames()
    // nothing to run: no lease call at all (a handler registered later wakes the loop)
    if (queues.length === 0 || handlers.length === 0) return 'drained'
    const req: LeaseRequest = { workerId: this.id, queues, limit: wanted, leaseMs: this.options.leaseMs, handlers }
    let tasks: LeasedTask[]
    let rateLimited = false
    if (fetch === null) {
      const lease = await leaseUnderRateLimit(this.backend, req)
      tasks = lease.tasks
      rateLimited = lease.rateLimited
    } else {
      tasks = await fetch(req)
    }
    if (this.state !== 'running' || this.cordoned) {
      // Stopping began (or a cordon arrived) during the call: these never started, so hand them straight back.
      await this.release(tasks)
      return 'drained'
    }
    this.counters.leased += tasks.length
    if (tasks.length > 0) this.flowShortLeases = 0
    for (const task of tasks) this.buffered.push(task)
    this.startBuffered()
    // short because the window's permits ran out, not the queues: ask again soon, not on new work
    if (rateLimited) return 'rate_limited'
    return tasks.length < wanted ? 'drained' : 'full'
  }

  /** starts buffered tasks while slots are free; re-entrant calls (a task settling as it starts) leave it to the outer one */
  private startBuffered (): void {
    if (this.startingBuffered) return
    this.startingBuffered = true
    try {
      while (this.state === 'running' && this.running.size < this.options.concurrency) {
        const task = this.buffered.shift()
        if (task === undefined) break
        this.begin(task)
      }
    } finally {
      this.startingBuffered = false
    }
  }

  private async release (tasks: LeasedTask[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += MAX_LIST_LIMIT) {
      const chunk = tasks.slice(i, i + MAX_LIST_LIMIT)
      try {
        const outcomes = await this.backend.releaseTasks(chunk.map(leaseRef))
        this.counters.released += outcomes.filter(outcome => outcome === 'ok').length
      } catch (err) {
        this.log.error({ err, workerId: this.id, tasks: chunk.length }, 'worker could not release tasks; they are recovered when their leases expire')
      }
    }
  }

  // --- running -------------------------------------------------------------------

  private begin (task: LeasedTask): void {
    const handler = this.handlers.get(task.handler)
    if (handler === undefined) {
      this.handBack(task)
      return
    }
    const entry: InFlight = {
      task,
      abort: new LazyAbort(),
      startedAt: performance.now(),
      waitMs: Math.max(0, Date.now() - task.runAt),
      timer: undefined,
      settled: false,
      progress: null
    }
    this.running.set(task.id, entry)
    const ctx = new RunContext(task, entry.abort, this.log, value => this.reportProgress(entry, value), async id => await this.backend.getTask(id))
    // Started on a microtask so a synchronous handler cannot block the rest of the batch
    // from starting. The started event and the timeout timer come right after the call
    // (before any settlement, which is at least a microtask later): off the path from a
    // lease to its handler, which is what enqueue→start measures.
    Promise.resolve()
      .then(() => {
        try {
          return handler(task.payload, ctx)
        } finally {
          this.started(entry)
        }
      })
      .then(
        (result: unknown) => this.settle(entry, isNoResult(result) ? SUCCEEDED : { kind: 'succeeded', result }),
        (error: unknown) => this.settle(entry, { kind: 'failed', error }))
  }

  /** the handler of entry was called: its started event, and its timeout counted from begin() */
  private started (entry: InFlight): void {
    const { task } = entry
    this.events?.emit('task.started', { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts })
    if (this.listenerCount('task:started') > 0) {
      this.emit('task:started', { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts, waitMs: entry.waitMs })
    }
    // settled already (its lease lost, or a shutdown, before the call): no timer left behind
    if (!entry.settled) entry.timer = setTimeout(() => this.onTimeout(entry), Math.max(0, task.timeoutMs - (performance.now() - entry.startedAt)))
  }

  /** a checked ctx.progress value: coalesced per task (see progress.ts); false once the attempt is over */
  private reportProgress (entry: InFlight, value: unknown): boolean {
    if (entry.settled) return false
    entry.progress ??= new ProgressReporter({
      intervalMs: this.options.progressIntervalMs,
      write: progress => new Promise<AckOutcome>(resolve => this.progressWrites.push({ ...leaseRef(entry.task), progress }, resolve)),
      onWritten: progress => {
        this.counters.progressWritten++
        const { task } = entry
        this.events?.emit('task.progress', { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts, progress })
      },
      onLeaseLost: () => this.leaseLostWhileHeld(entry.task)
    })
    return entry.progress.report(value)
  }

  /**
   * A task this worker has no handler for. Leases carry the handler set, so only a
   * backend that ignores it hands one out; it is released unstarted, which gives its
   * attempt back, for a worker that runs its handler.
   */
  private handBack (task: LeasedTask): void {
    this.log.warn({ workerId: this.id, taskId: task.id, handler: task.handler }, `worker leased a task whose handler ${task.handler} it does not run; released unstarted`)
    const released = this.release([task]).finally(() => { this.handingBack.delete(released) })
    this.handingBack.add(released)
    // such a backend would hand the task straight back: pause leasing instead of
    // spinning on it (the release itself notifies work, so the pause ignores wake-ups)
    this.handedBack = true
    this.leaseHold = { ms: this.options.pollMs, untilWork: false }
  }

  private onTimeout (entry: InFlight): void {
    const { task } = entry
    this.counters.timedOut++
    const error = WorkerErrors.taskTimeout(`task ${task.id} (handler ${task.handler}) timed out after ${task.timeoutMs} ms`, { details: { taskId: task.id, timeoutMs: task.timeoutMs } })
    this.settle(entry, { kind: 'failed', error })
  }

  /**
   * Ends an attempt exactly once, whichever comes first: the handler's result, its
   * timeout, a lost lease or a forced shutdown. The slot is freed at once: a handler
   * that ignores its aborted signal no longer holds the lease, so it no longer
   * counts against concurrency.
   */
  private settle (entry: InFlight, settlement: Settlement): void {
    if (entry.settled) return
    entry.settled = true
    clearTimeout(entry.timer)
    this.running.delete(entry.task.id)
    const { task } = entry
    const durationMs = roundMs(performance.now() - entry.startedAt)
    if (settlement.kind === 'succeeded' || settlement.kind === 'failed') this.recentRunMs += (durationMs - this.recentRunMs) * RUN_MS_SMOOTHING
    if (this.buffered.length > 0) this.startBuffered()
    this.capacity.wake()
    if (this.flowConcurrencySet) {
      // its ack may free a slot of a concurrency limit: look again now rather than after the back-off
      this.flowShortLeases = 0
      this.wakeForWork()
    }
    if (settlement.kind !== 'succeeded') entry.progress?.close()
    switch (settlement.kind) {
      case 'succeeded':
        this.succeed(entry, durationMs, settlement.result)
        return
      case 'failed': {
        const { error } = settlement
        entry.abort.abort(error)
        const retryable = task.attempts < task.maxAttempts && !isPermanentError(error)
        const described = describeError(error)
        const request: FailRequest = { ...leaseRef(task), error: described, retryDelayMs: retryable ? backoffDelay(task.attempts, this.options.retry) : null }
        this.fails.push(request, outcome => this.onFailed(entry, durationMs, described.message, outcome))
        return
      }
      case 'lease_lost':
        this.counters.leaseLost++
        entry.abort.abort(Errors.leaseLost(`worker ${this.id} lost the lease of task ${task.id}`, { details: { taskId: task.id } }))
        this.log.warn({ workerId: this.id, taskId: task.id, handler: task.handler }, 'worker lost a lease; the task was aborted and its result will not be written')
        return
      case 'released':
        entry.abort.abort(WorkerErrors.workerShutdown(`worker ${this.id} is stopping`, { details: { taskId: task.id } }))
    }
  }

  /**
   * Queues the ack with the handler's result. A result that cannot be stored (not JSON,
   * or larger than resultMaxBytes) does not fail a task that did its work: the task
   * succeeds without it, and the drop is logged, counted and named in task.succeeded.
   */
  private succeed (entry: InFlight, durationMs: number, result: unknown): void {
    const { task } = entry
    const ack: CompleteRequest = leaseRef(task)
    let dropped: string | null = null
    if (!isNoResult(result)) {
      const checked = checkResult(result, this.options.resultMaxBytes)
      if (checked.ok) {
        ack.result = result
        markResultChecked(ack)
      } else {
        dropped = checked.reason
        this.counters.resultsDropped++
        this.log.warn({ workerId: this.id, taskId: task.id, handler: task.handler, reason: dropped }, `task ${task.id} succeeded, but its result is not stored: ${dropped}`)
      }
    }
    const queueAck = (): void => this.acks.push(ack, outcome => this.onCompleted(entry, durationMs, outcome, dropped))
    const progress = entry.progress
    if (progress === null) {
      queueAck()
      return
    }
    const finished: Promise<void> = progress.finish().then(queueAck).finally(() => { this.finishing.delete(finished) })
    this.finishing.add(finished)
  }

  private observation (entry: InFlight, durationMs: number): TaskObservation {
    const { task } = entry
    return { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts, durationMs, waitMs: entry.waitMs }
  }

  private onCompleted (entry: InFlight, durationMs: number, outcome: AckOutcome, resultDropped: string | null): void {
    const { task } = entry
    if (outcome !== 'ok') {
      this.counters.leaseLost++
      this.log.warn({ workerId: this.id, taskId: task.id }, 'worker could not acknowledge a task: its lease was lost (it will run again)')
      return
    }
    this.counters.processed++
    this.events?.emit('task.succeeded', resultDropped === null
      ? { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts, durationMs }
      : { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts, durationMs, resultDropped })
    if (this.listenerCount('task:succeeded') > 0) this.emit('task:succeeded', this.observation(entry, durationMs))
  }

  private onFailed (entry: InFlight, durationMs: number, error: string, outcome: FailOutcome): void {
    const { task } = entry
    if (outcome === 'lease_lost') {
      this.counters.leaseLost++
      this.log.warn({ workerId: this.id, taskId: task.id }, 'worker could not record a failed attempt: its lease was lost')
      return
    }
    this.counters.failed++
    if (outcome === 'retrying') this.counters.retried++
    else this.counters.dead++
    this.events?.emit(outcome === 'retrying' ? 'task.retrying' : 'task.dead', { id: task.id, queue: task.queue, handler: task.handler, attempt: task.attempts, error, durationMs })
    this.emit('task:failed', { ...this.observation(entry, durationMs), error, outcome })
  }

  // --- periodic jobs ----------------------------------------------------------------

  private weightOf (queue: string, stored: number | null): number {
    try {
      return this.options.weightOf(queue, stored)
    } catch (err) {
      this.log.warn({ err, queue }, 'worker weightOf threw; using weight 1')
      return 1
    }
  }

  private async refreshQueues (): Promise<void> {
    const explicit = this.options.queues
    if (explicit !== null && !this.queuesEnsured) {
      // Registered up front so operators see the queues this worker serves before their first task.
      await this.backend.ensureQueues(explicit)
      this.queuesEnsured = true
    }
    if (this.backend.capabilities.rateLimit) {
      // Permits are only taken while a limit is set: with none, every lease would pay an
      // extra round trip to a row all workers share. A new limit applies from the next refresh.
      this.rateLimitSet = (await this.backend.getCoordinationState()).rateLimit !== null
    }
    if (this.backend.capabilities.flowControl === true) {
      const limits = await this.backend.listFlowLimits()
      this.flowLimitsSet = limits.length > 0
      this.flowRateWindows = [...new Set(limits.flatMap(l => l.rate === null ? [] : [l.rate.windowMs]))]
      this.flowConcurrencySet = limits.some(l => l.concurrency !== null)
    }
    const stats = await this.backend.queueStats(explicit ?? undefined)
    const stored = new Map(stats.map(s => [s.name, s.weight]))
    const names = explicit ?? stats.map(s => s.name)
    this.weighted = names.map(name => ({ name, weight: this.weightOf(name, stored.get(name) ?? null) }))
    const grew = names.some(name => !this.knownQueues.has(name))
    this.knownQueues = new Set(names)
    if (grew) this.wakeForWork()
  }

  private async renewLeases (): Promise<void> {
    // tasks waiting in the buffer for a slot hold leases too
    const held = [...[...this.running.values()].map(entry => entry.task), ...this.buffered]
    for (let i = 0; i < held.length; i += MAX_LIST_LIMIT) {
      const chunk = held.slice(i, i + MAX_LIST_LIMIT)
      const expiries = await this.backend.extendLeases(chunk.map(leaseRef), this.options.leaseMs)
      for (let j = 0; j < chunk.length; j++) {
        const task = chunk[j]!
        const expiry = expiries[j]
        if (expiry === null) this.leaseLostWhileHeld(task)
        else if (expiry !== undefined) task.leaseExpiresAt = expiry
      }
    }
  }

  private leaseLostWhileHeld (task: LeasedTask): void {
    const entry = this.running.get(task.id)
    if (entry !== undefined && entry.task === task) {
      this.settle(entry, LEASE_LOST)
      return
    }
    const waiting = this.buffered.indexOf(task)
    if (waiting === -1) return
    this.buffered.splice(waiting, 1)
    this.counters.leaseLost++
    this.log.warn({ workerId: this.id, taskId: task.id, handler: task.handler }, 'worker lost the lease of a task before starting it; it was not run')
  }

  private async recoverLeases (): Promise<boolean> {
    const { requeued, dead } = await this.backend.recoverExpiredLeases(RECOVERY_BATCH)
    for (const id of requeued) this.events?.emit('task.recovered', { id })
    // No worker's failure saw these: the sweep is where they are counted (metrics
    // history), by queue, looked up here (RECOVERY_BATCH bounds the reads).
    const queues = dead.length === 0 ? [] : await taskQueues(this.backend, dead)
    for (const [i, id] of dead.entries()) {
      const queue = queues[i] ?? null
      this.events?.emit('task.dead', queue === null ? { id, error: 'lease expired on the last attempt' } : { id, queue, error: 'lease expired on the last attempt' })
      this.emit('task:recovered-dead', { id, queue })
    }
    this.counters.recovered += requeued.length
    if (requeued.length > 0) this.wakeForWork()
    if (requeued.length + dead.length > 0) {
      this.log.info({ workerId: this.id, requeued: requeued.length, dead: dead.length }, 'worker recovered expired leases')
    }
    // A full batch means more may be waiting: run again right away.
    return requeued.length + dead.length >= RECOVERY_BATCH
  }

  private info (): WorkerInfo {
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      version: this.options.version,
      queues: (this.options.queues ?? [...this.knownQueues]).slice(0, MAX_QUEUES_REPORTED),
      handlers: this.handlers.nameList().slice(0, MAX_HANDLERS_REPORTED),
      concurrency: this.options.concurrency,
      inFlight: this.running.size,
      startedAt: this.startedAt,
      lastHeartbeatAt: Date.now()
    }
  }

  private async sendHeartbeat (): Promise<void> {
    const beat = await this.backend.heartbeatWorker(this.info(), this.options.heartbeatMs * 3)
    // a backend written before cordons answers nothing: never cordoned
    this.applyCordon((beat as { cordoned?: unknown } | undefined)?.cordoned === true)
  }

  /**
   * Follows the cordon an operator stored on this worker's registry entry. Cordoned,
   * it leases nothing more, hands back the tasks it leased but has not started
   * (their attempt is not consumed) and lets running ones finish; uncordoned, it
   * leases again at once.
   */
  private applyCordon (cordoned: boolean): void {
    if (cordoned === this.cordoned || this.state !== 'running') return
    this.cordoned = cordoned
    if (!cordoned) {
      this.log.info({ workerId: this.id }, 'worker uncordoned: leasing again')
      this.uncordoned.wake()
      this.wakeForWork()
      return
    }
    this.pushWait?.abort()
    const waiting = this.buffered.splice(0)
    this.log.info({ workerId: this.id, running: this.running.size, handedBack: waiting.length }, 'worker cordoned: it finishes the tasks it runs and leases no more until uncordoned')
    if (waiting.length > 0) {
      const released = this.release(waiting).finally(() => { this.handingBack.delete(released) })
      this.handingBack.add(released)
    }
    this.capacity.wake()
  }
}

export function createWorker (input: CreateWorkerInput): Worker {
  return new Worker(input)
}
