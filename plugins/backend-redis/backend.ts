import {
  Errors, isNoResult, MAX_LIST_LIMIT, payloadJson, hasTimeWindow, taskWindowField, type TaskFilter,
  type AckOutcome, type CompleteRequest, type ProgressRequest, type AuditEvent, type AuditInput, type Backend, type BackendCapabilities, type CancelOutcome,
  type CoordinationState, type DLQStats, type DeleteRequest, type DeleteResult, type EnqueueEvents, type EnqueueResult, type EventInput,
  type FailOutcome, type FailRequest, type FlowLimit, type FlowLimitState, type FlowScope, type LeaderAcquireResult, type LeaderLock, type LeaseRef, type LeaseRequest,
  type LeasedTask, type PushWaitRequest, type ListAuditRequest, type OverviewRead, type OverviewReadRequest, type PendingHandler, type PendingHandlersRequest, type ListTasksRequest, type NewTask, type PruneRequest, type QueueStats,
  type RateLimit, type RateLimitedLease, type ReadEventsRequest, type ReadEventsBackwardRequest, type RecoveredLeases, type RequeueRequest, type RequeueResult,
  type SkippedTask, type StoredEvent, type Task, type TaskPage, type Unsubscribe, type WorkerInfo,
  type ListRecordsRequest, type PutRecordOptions, type PutRecordResult, type StoredRecord, type TaskActionRequest, type TaskActionResult,
  type TaskLinks, type TaskState, MAX_CHILD_LINKS, CascadeListeners, cascadedTriples, type CascadedTask,
  WORKER_RETENTION_MS, type ListWorkersOptions, type ReleaseWorkerLeasesRequest, type SweepWorkersRequest, type WorkerHeartbeat
} from '@switchyard/core'
import { formatPosition, parsePosition } from './page-position.ts'
import { applyTaskAction } from './task-actions.ts'
import { assertNoEviction, createBlockingClient, createClient, sendTogether, toBackendError, type RedisClient } from './connection.ts'
import { decodeAudit, decodeLeased, decodePushedEntry, enqueueOutcome, isFormat2Entry, PUSH_FORMAT, hashToTask, pairsToObject, streamIdTime } from './codec.ts'
import { backwardStart, forwardStart, parseEventId, takeAfter, takeBefore, type EventPosition } from './events-log.ts'
import { keysFor, type Keys } from './keys.ts'
import type { RedisBackendOptions } from './options.ts'
import { defineScripts, type ScriptArg, type ScriptName } from './scripts.ts'
import { RedisRecords } from './records.ts'
import { Subscriptions } from './subscriptions.ts'

/** Candidates a filtered listing examines at most per call (handler/text filters, queue on global indexes). */
export const LIST_SCAN_CAP = 10_000
/** Due scheduled/retrying tasks promoted to ready per queue per lease call. */
export const PROMOTE_PER_LEASE = 1000
/**
 * Ready tasks a lease parks per queue per call (tasks whose handler the caller does not
 * run, see lua/lease.lua): each is parked once, so this only bounds how long one call
 * may hold Redis when a backlog of unrunnable tasks is first met.
 */
export const PARK_PER_LEASE = 10_000
/** Tasks one call of the one-time pending-count rebuild examines (see rebuildPendingCounts). */
export const PENDING_REBUILD_PAGE = 10_000
/**
 * A push registration outlives the wait it was made for by this much: a worker still
 * waiting is always registered, and one that died stops receiving pushes soon after.
 */
const PUSH_REGISTRATION_SLACK_MS = 1000
/** A worker's blocking connection closes after this long without a wait (see blockingFor). */
const BLOCKING_IDLE_CLOSE_MS = 60_000
/** The marker awaitPushedTasks appends to its own inbox to end a wait early: a lease is never empty. */
const PUSH_WAKE = ''
/** Calls one open makes at most for that rebuild: 10^9 tasks. */
const PENDING_REBUILD_MAX_CALLS = 100_000
/** Items per script call for the batch methods; larger batches are split so no script blocks Redis for long. */
export const SCRIPT_BATCH = 1000
/** Ids one requeue/delete call accepts. */
export const MAX_IDS_PER_CALL = 10_000
/** Processing tasks releaseWorkerLeases examines at most per call (every leased task, of every worker). */
export const RELEASE_SCAN_MAX = 100_000
const MAX_QUEUES_PER_LEASE = 1000
const MAX_HANDLERS_PER_LEASE = 10_000

const CAPABILITIES: BackendCapabilities = {
  taskFilters: ['state', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId'],
  // handler, text, window, tenant and correlation filters are counted by examining candidates, at most LIST_SCAN_CAP of them
  taskCount: { exact: ['state', 'queue'], examineUpTo: LIST_SCAN_CAP },
  priorities: true,
  delayedTasks: true,
  idempotencyKeys: true,
  idempotencyModes: ['replace', 'preserve_run_at'],
  cancel: true,
  queuePause: true,
  globalPause: true,
  queueWeights: true,
  rateLimit: true,
  leaderLock: true,
  workerRegistry: true,
  eventLog: true,
  enqueueEvents: true,
  audit: true,
  workNotifications: true,
  pushDelivery: true,
  records: true,
  dependencies: true,
  flowControl: true,
  flowScopeKinds: ['queue', 'handler', 'tenant']
}

const STREAM_ID = /^\d+-\d+$/
/** stream entries an event read asks for first (each holds one event or more, a worker's appends hundreds) */
const EVENT_FIRST_PAGE = 8

/** the server does not know a command (Redis older than the command) */
function isUnknownCommand (err: unknown): boolean {
  return err instanceof Error && /^ERR unknown command/i.test(err.message)
}

function missingParent (id: string): Error {
  return Errors.validation(`dependsOn: no task ${id} (a parent must be a stored task)`, { details: { field: 'dependsOn', id } })
}

/** a registry entry as worker_list and worker_sweep return it: info JSON, heartbeat time (backend clock), cordon flag */
function workerFrom (json: string, heartbeat: string | number, cordoned: string | number): WorkerInfo {
  const info = JSON.parse(json) as Omit<WorkerInfo, 'lastHeartbeatAt'>
  // a worker of an older version reports no handler set
  return { ...info, handlers: Array.isArray(info.handlers) ? info.handlers : [], lastHeartbeatAt: Number(heartbeat), cordoned: Number(cordoned) === 1 }
}

function chunks<T> (items: T[], size: number): T[][] {
  if (items.length <= size) return [items]
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** the time window as script arguments: the task hash field judged ('ca' created, 'fa' finished; '' none), since, until */
function windowArgs (filter: TaskFilter): ScriptArg[] {
  if (!hasTimeWindow(filter)) return ['', '', '']
  return [taskWindowField(filter) === 'finished' ? 'fa' : 'ca', filter.since ?? '', filter.until ?? '']
}

function skippedFrom (flat: string[]): SkippedTask[] {
  const out: SkippedTask[] = []
  for (let i = 0; i < flat.length; i += 3) {
    const item: SkippedTask = { id: flat[i]!, reason: flat[i + 1] as SkippedTask['reason'] }
    if (flat[i + 2] !== '') item.state = flat[i + 2] as SkippedTask['state']
    out.push(item)
  }
  return out
}

/** the stats script's flat reply: 12 fields per queue */
function statsFrom (flat: Array<string | number>): QueueStats[] {
  const out: QueueStats[] = []
  for (let i = 0; i < flat.length; i += 12) {
    out.push({
      name: String(flat[i]),
      ready: Number(flat[i + 1]),
      scheduled: Number(flat[i + 2]),
      retrying: Number(flat[i + 3]),
      processing: Number(flat[i + 4]),
      dead: Number(flat[i + 5]),
      succeeded: Number(flat[i + 6]),
      canceled: Number(flat[i + 7]),
      weight: flat[i + 8] === '' ? null : Number(flat[i + 8]),
      paused: flat[i + 9] === 1,
      blocked: Number(flat[i + 10]),
      throttled: Number(flat[i + 11])
    })
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** the worker_list script's flat reply: info, heartbeat, cordoned, stale per worker */
function workersFrom (flat: Array<string | number>): WorkerInfo[] {
  const out: WorkerInfo[] = []
  for (let i = 0; i < flat.length; i += 4) out.push({ ...workerFrom(flat[i] as string, flat[i + 1]!, flat[i + 2]!), stale: flat[i + 3] === 1 })
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

type CoordinationReply = [number, string, string, string[]]

function coordinationFrom ([paused, limit, windowMs, flat]: CoordinationReply): CoordinationState {
  const leaders: LeaderLock[] = []
  for (let i = 0; i < flat.length; i += 4) {
    leaders.push({ name: flat[i]!, holder: flat[i + 1]!, token: Number(flat[i + 2]), expiresAt: Number(flat[i + 3]) })
  }
  leaders.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const rateLimit: RateLimit | null = limit === '' ? null : { limit: Number(limit), windowMs: Number(windowMs) }
  return { globalPaused: paused === 1, rateLimit, leaders }
}

function pendingFrom (flat: string[]): PendingHandler[] {
  const out: PendingHandler[] = []
  for (let i = 0; i < flat.length; i += 2) out.push({ queue: flat[i]!, handler: flat[i + 1]! })
  return out
}

interface BlockingConnection {
  client: RedisClient
  script: (name: ScriptName, keys: string[], args: ScriptArg[]) => Promise<unknown>
  /** closes it once no wait used it for BLOCKING_IDLE_CLOSE_MS (checked when it fires, so a wait arms no timer) */
  idle: NodeJS.Timeout | undefined
  /** waits in progress on it */
  inUse: number
  /** Date.now() when the last wait on it ended */
  lastUsed: number
}

export class RedisBackend implements Backend {
  readonly name = 'redis'
  readonly capabilities = CAPABILITIES
  readonly keys: Keys
  private readonly client: RedisClient
  private readonly script: (name: ScriptName, keys: string[], args: ScriptArg[]) => Promise<unknown>
  private readonly subscriptions: Subscriptions
  private readonly records: RedisRecords
  private readonly cascades = new CascadeListeners()
  /** per worker id, the connection its push waits block on (never the shared one) */
  private readonly blocking = new Map<string, BlockingConnection>()
  /** false once the server refused BLMPOP (Redis before 7.0): push waits pop with BLPOP */
  private blmpopAvailable = true
  private initialized: Promise<void> | null = null

  constructor (private readonly options: RedisBackendOptions) {
    this.keys = keysFor(options.prefix)
    this.client = createClient(options)
    // ioredis re-emits connection errors on every reconnect attempt; commands report their own failures.
    this.client.on('error', () => {})
    this.script = defineScripts(this.client)
    this.subscriptions = new Subscriptions(this.client)
    this.records = new RedisRecords(this.client, this.keys, async (op, keys, args) => await this.script(`records_${op}`, keys, args))
  }

  /** The underlying connection, for tests and tooling that inspect the keyspace. */
  get redis (): RedisClient {
    return this.client
  }

  private async run<T> (method: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (err) {
      throw toBackendError(method, err)
    }
  }

  init (): Promise<void> {
    if (this.initialized === null) {
      this.initialized = this.run('init', async () => {
        // 'end': a previous init failed and disconnected; connecting again is allowed
        if (this.client.status === 'wait' || this.client.status === 'end') await this.connectWithin(this.options.commandTimeoutMs)
        await assertNoEviction(this.client, this.options.allowEvictingMemoryPolicy)
        await this.rebuildPendingCounts()
      }).catch(async (err: unknown) => {
        this.initialized = null
        await this.disconnected()
        throw err
      })
    }
    return this.initialized
  }

  /**
   * Data written before the scripts kept per-queue pending counts (ph:<queue>) gets them
   * once: pending_rebuild.lua walks every task in creation order, PENDING_REBUILD_PAGE per
   * call (so no call holds Redis for long), exact while transitions run meanwhile; then a
   * marker makes each later open one call. Processes opening at once share the walk.
   */
  private async rebuildPendingCounts (): Promise<void> {
    const k = this.keys
    for (let calls = 0; ; calls++) {
      if (await this.script('pending_rebuild', [k.all], [k.base, PENDING_REBUILD_PAGE]) === -1) return
      // a walk that never ends would mean the index grows faster than it is read
      if (calls > PENDING_REBUILD_MAX_CALLS) throw Errors.backendUnavailable('redis: the pending-count rebuild did not finish', { details: { method: 'init' } })
    }
  }

  /** ioredis bounds the TCP connect but not the handshake after it: a server that accepts and never answers must still fail in time. */
  private async connectWithin (ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(Errors.backendTimeout(`redis did not become ready within ${ms} ms`, { details: { method: 'init', timeoutMs: ms } })), ms)
    })
    try {
      await Promise.race([this.client.connect(), late])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Drops the connection and resolves once it is fully closed, so a later init can connect again. */
  private async disconnected (): Promise<void> {
    if (this.client.status === 'end' || this.client.status === 'wait') return
    const ended = new Promise<void>((resolve) => {
      this.client.once('end', resolve)
      setTimeout(resolve, this.options.commandTimeoutMs).unref()
    })
    this.client.disconnect()
    await ended
  }

  async close (): Promise<void> {
    await this.subscriptions.close()
    for (const entry of this.blocking.values()) {
      clearTimeout(entry.idle)
      entry.client.disconnect()
    }
    this.blocking.clear()
    if (this.client.status === 'end' || this.client.status === 'wait') return
    const quit = this.client.quit().then(() => undefined, () => undefined)
    const bound = new Promise<void>((resolve) => setTimeout(resolve, this.options.commandTimeoutMs).unref())
    await Promise.race([quit, bound])
    this.client.disconnect()
  }

  now (): Promise<number> {
    return this.run('now', async () => {
      const [sec, usec] = await this.client.time()
      return Number(sec) * 1000 + Math.floor(Number(usec) / 1000)
    })
  }

  // --- producing ---------------------------------------------------------------------

  enqueue (tasks: NewTask[], events?: EnqueueEvents): Promise<EnqueueResult[]> {
    // Core checked every task before the call (core/backend/arguments.ts), so no batch is
    // refused halfway; the ready score packs the priority (-1000..1000) into its high bits.
    // The created tasks' events are appended by the same script (see enqueue.lua).
    const withParents = tasks.some(t => t.dependsOn !== undefined && t.dependsOn.length > 0)
    return this.run('enqueue', async () => {
      const k = this.keys
      const results: EnqueueResult[] = []
      if (withParents) await this.checkParents(tasks, tasks.length > SCRIPT_BATCH)
      let offset = 0
      for (const batch of chunks(tasks, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        const args: ScriptArg[] = [k.base, k.workChannel, events?.type ?? '', k.eventsChannel, this.options.maxEvents, withParents ? 15 : 13]
        for (const [i, t] of batch.entries()) {
          args.push(t.queue, t.handler, payloadJson(t), t.maxAttempts, t.priority, t.timeoutMs,
            t.runAt === null ? '' : t.runAt, t.delayMs, t.idempotencyKey ?? '', events === undefined ? '' : JSON.stringify(events.data[offset + i]),
            t.idempotencyMode === undefined || t.idempotencyMode === 'reject' ? '' : t.idempotencyMode, t.tenant ?? '', t.correlationId ?? '')
          if (withParents) args.push((t.dependsOn ?? []).join(','), t.onParentFailure ?? 'cancel')
        }
        offset += batch.length
        const reply = await this.script('enqueue', [k.idem, k.all, k.seq, k.queues, k.events, k.eventIndex, k.eventCount], args) as Array<string | number | unknown[]>
        if (reply[0] === '!missing') throw missingParent(String(reply[1]))
        // tasks that took their policy at once (a parent dead already) end the reply
        if (reply.length % 2 === 1) this.cascades.report(cascadedTriples(reply.pop()))
        for (let i = 0; i < reply.length; i += 2) results.push(enqueueOutcome(String(reply[i]), reply[i + 1] as string | number))
      }
      return results
    })
  }

  /**
   * Parent ids are script arguments joined by commas: one that cannot be a task id of
   * this backend is refused here. The script checks that each parent exists before it
   * writes; a request split over several script calls is checked once up front too, so
   * a missing parent refuses all of it (a parent deleted between the two is still caught
   * by its own call).
   */
  private async checkParents (tasks: NewTask[], upFront: boolean): Promise<void> {
    const parents = [...new Set(tasks.flatMap(t => t.dependsOn ?? []))]
    const bad = parents.find(id => !/^[0-9]{1,20}$/.test(id))
    if (bad !== undefined) throw missingParent(bad)
    if (!upFront) return
    const pipeline = this.client.pipeline()
    for (const id of parents) pipeline.exists(this.keys.task(id))
    const replies = await pipeline.exec() ?? []
    const missing = parents.find((_id, i) => replies[i]?.[1] !== 1)
    if (missing !== undefined) throw missingParent(missing)
  }

  // --- working -----------------------------------------------------------------------

  leaseTasks (req: LeaseRequest): Promise<LeasedTask[]> {
    const reply = this.lease('leaseTasks', req, false)
    return reply === null ? Promise.resolve([]) : reply.then(decodeLeased)
  }

  /** the lease script takes the permits of the global rate limit itself (lease.lua), on the clock that stamps each start */
  async leaseWithinRateLimit (req: LeaseRequest): Promise<RateLimitedLease> {
    const reply = this.lease('leaseWithinRateLimit', req, true)
    if (reply === null) return { tasks: [], rateLimited: false }
    const flat = await reply
    // a globally paused or cordoned lease answers nothing at all, without the flag
    if (flat.length === 0) return { tasks: [], rateLimited: false }
    return { tasks: decodeLeased(flat.slice(0, -1)), rateLimited: flat[flat.length - 1] === 1 }
  }

  /** the lease script's reply, or null when the request can lease nothing */
  private lease (method: string, req: LeaseRequest, rated: boolean): Promise<Array<string | number>> | null {
    const count = Math.min(req.limit, MAX_LIST_LIMIT)
    const leaseMs = req.leaseMs
    // one script call takes the queues as arguments: bounded here, below core's batch bound
    if (req.queues.length > MAX_QUEUES_PER_LEASE) {
      throw Errors.validation(`queues: at most ${MAX_QUEUES_PER_LEASE} names per lease call`, { details: { field: 'queues' } })
    }
    // the handler set travels as script arguments too: bounded like the queues
    if (req.handlers !== undefined && req.handlers.length > MAX_HANDLERS_PER_LEASE) {
      throw Errors.validation(`handlers: at most ${MAX_HANDLERS_PER_LEASE} handler names per lease call`, { details: { field: 'handlers' } })
    }
    const handlers = req.handlers
    if (count === 0 || req.queues.length === 0 || handlers?.length === 0) return null
    return this.run(method, async () => {
      const k = this.keys
      const only: ScriptArg[] = handlers === undefined ? [-1] : [handlers.length, ...handlers]
      return await this.script('lease', [k.processing, k.globalPause, k.paused, k.leaseSeq],
        [k.base, k.workChannel, req.workerId, count, leaseMs, PROMOTE_PER_LEASE, PARK_PER_LEASE, rated ? '1' : '0', ...only, ...req.queues]) as Array<string | number>
    })
  }

  /**
   * Registers the worker as idle (push_wait.lua), leases once so nothing enqueued before
   * the registration waits for the next one, and when that finds nothing blocks on the
   * worker's inbox (BLMPOP on its own connection). The enqueue that pushes to it ends its
   * registration, so a push costs the worker the pop alone (popPushed); every other end
   * of the wait runs push_done.lua, which unregisters and takes what the inbox holds.
   * An abort appends a wake-up marker to the inbox, which ends the BLMPOP.
   */
  awaitPushedTasks (req: PushWaitRequest): Promise<LeasedTask[]> {
    const slots = Math.min(req.limit, MAX_LIST_LIMIT)
    if (slots === 0 || req.queues.length === 0 || req.handlers?.length === 0) return Promise.resolve([])
    const lease: LeaseRequest = { workerId: req.workerId, queues: req.queues, limit: slots, leaseMs: req.leaseMs }
    if (req.handlers !== undefined) lease.handlers = req.handlers
    return this.run('awaitPushedTasks', async () => {
      const k = this.keys
      const keys = [k.pushRegistration(req.workerId), k.pushInbox(req.workerId)]
      const only: ScriptArg[] = req.handlers === undefined ? [-1] : [req.handlers.length, ...req.handlers]
      const signal = req.signal
      const wake = (): void => { this.client.rpush(keys[1]!, PUSH_WAKE).catch(() => {}) }
      const blocking = this.blockingFor(req.workerId)
      try {
        await this.script('push_wait', keys, [k.base, req.workerId, slots, req.leaseMs, req.waitMs + PUSH_REGISTRATION_SLACK_MS, PUSH_FORMAT, ...only, ...req.queues])
        // after the registration, which empties the inbox: a marker appended before it would be lost
        signal?.addEventListener('abort', wake, { once: true })
        // registered even when this lease fails: the wait ends with push_done or a push
        let leased: LeasedTask[] = []
        let failure: unknown = null
        try {
          leased = await this.leaseTasks(lease)
        } catch (err) {
          failure = err
        }
        const wait = failure === null && leased.length === 0 && signal?.aborted !== true
        if (wait && await this.popPushed(blocking, keys[1]!, req.waitMs, slots, leased)) return leased
        // still registered, or maybe: unregister, and take what the inbox holds
        for (const item of await blocking.script('push_done', keys, [k.base, req.workerId]) as string[]) {
          if (item !== PUSH_WAKE) leased.push(decodePushedEntry(item))
        }
        // tasks pushed before the lease failed are this worker's now: they are returned, not lost
        if (failure !== null && leased.length === 0) throw failure
        return leased
      } finally {
        signal?.removeEventListener('abort', wake)
        this.releaseBlocking(blocking)
      }
    })
  }

  /**
   * Blocks until the inbox holds something or waitMs passed, then takes up to `slots`
   * entries (BLMPOP) into `leased`. True when that ended the registration: only format 2
   * entries came, and an enqueue that pushes format 2 unregisters the worker in the same
   * call, after pushing at most its slots (lib/push.lua), so nothing else can arrive. A
   * timeout, a wake-up marker, or a format 1 entry (an older enqueue, which leaves the
   * worker registered) needs push_done.
   */
  private async popPushed (blocking: BlockingConnection, inbox: string, waitMs: number, slots: number, leased: LeasedTask[]): Promise<boolean> {
    if (!this.blmpopAvailable) return await this.popFirstPushed(blocking, inbox, waitMs, leased)
    let popped: [string, string[]] | null
    try {
      popped = await blocking.client.blmpop(waitMs / 1000, 1, inbox, 'LEFT', 'COUNT', slots) as [string, string[]] | null
    } catch (err) {
      if (!isUnknownCommand(err)) throw err
      // Redis before 7.0 has no BLMPOP: from now on the wait pops one entry, as before
      this.blmpopAvailable = false
      return await this.popFirstPushed(blocking, inbox, waitMs, leased)
    }
    if (popped === null) return false
    let ended = true
    for (const item of popped[1]) {
      if (item === PUSH_WAKE) {
        ended = false
        continue
      }
      if (!isFormat2Entry(item)) ended = false
      leased.push(decodePushedEntry(item))
    }
    return ended
  }

  /**
   * popPushed on a Redis without BLMPOP (before 7.0): BLPOP takes the first entry, and
   * push_done always follows (false), unregistering and taking the rest of the inbox.
   */
  private async popFirstPushed (blocking: BlockingConnection, inbox: string, waitMs: number, leased: LeasedTask[]): Promise<false> {
    const popped = await blocking.client.blpop(inbox, waitMs / 1000)
    if (popped !== null && popped[1] !== PUSH_WAKE) leased.push(decodePushedEntry(popped[1]))
    return false
  }

  /**
   * The worker's blocking connection, made on its first wait. A worker waits again and
   * again while idle and not at all while busy; one that made no call for
   * BLOCKING_IDLE_CLOSE_MS (it stopped, or has been busy that long) has it closed.
   */
  private blockingFor (workerId: string): BlockingConnection {
    let entry = this.blocking.get(workerId)
    if (entry === undefined) {
      const client = createBlockingClient(this.options)
      client.on('error', () => {})
      const created: BlockingConnection = { client, script: defineScripts(client), idle: undefined, inUse: 0, lastUsed: Date.now() }
      this.blocking.set(workerId, created)
      this.closeWhenIdle(workerId, created, BLOCKING_IDLE_CLOSE_MS)
      entry = created
    }
    entry.inUse++
    return entry
  }

  private releaseBlocking (entry: BlockingConnection): void {
    entry.inUse--
    entry.lastUsed = Date.now()
  }

  /**
   * One timer per connection, armed again when it fires while the connection is in use
   * or was used since: a worker waits again after every pushed task, and a timer per
   * wait (cleared at the next) was work on the path from a push to its handler.
   */
  private closeWhenIdle (workerId: string, entry: BlockingConnection, ms: number): void {
    entry.idle = setTimeout(() => {
      if (this.blocking.get(workerId) !== entry) return
      const idleFor = Date.now() - entry.lastUsed
      if (entry.inUse > 0 || idleFor < BLOCKING_IDLE_CLOSE_MS) {
        this.closeWhenIdle(workerId, entry, entry.inUse > 0 ? BLOCKING_IDLE_CLOSE_MS : BLOCKING_IDLE_CLOSE_MS - idleFor)
        return
      }
      this.blocking.delete(workerId)
      entry.client.disconnect()
    }, ms)
    entry.idle.unref()
  }

  completeTasks (items: CompleteRequest[]): Promise<AckOutcome[]> {
    return this.run('completeTasks', async () => {
      const k = this.keys
      const out: AckOutcome[] = []
      for (const batch of chunks(items, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        const args: ScriptArg[] = [k.base]
        for (const item of batch) args.push(item.id, item.leaseToken, isNoResult(item.result) ? '' : JSON.stringify(item.result))
        const reply = await this.script('complete', [k.processing, k.succeeded], args) as number[]
        for (const r of reply) out.push(r === 1 ? 'ok' : 'lease_lost')
      }
      return out
    })
  }

  setTaskProgress (items: ProgressRequest[]): Promise<AckOutcome[]> {
    return this.run('setTaskProgress', async () => {
      const k = this.keys
      const out: AckOutcome[] = []
      for (const batch of chunks(items, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        const args: ScriptArg[] = [k.base]
        for (const item of batch) args.push(item.id, item.leaseToken, JSON.stringify(item.progress))
        const reply = await this.script('progress', [k.processing], args) as number[]
        for (const r of reply) out.push(r === 1 ? 'ok' : 'lease_lost')
      }
      return out
    })
  }

  /**
   * Both scripts go out back to back on the one connection, so they cost one round
   * trip, and Redis runs them in order: the acks (each batch of up to SCRIPT_BATCH),
   * then the lease.
   */
  async completeAndLease (acks: CompleteRequest[], lease: LeaseRequest): Promise<{ acks: AckOutcome[], leased: LeasedTask[] }> {
    const acked = acks.length === 0 ? Promise.resolve([]) : this.completeTasks(acks)
    // A lease issued while later ack batches are still queued would only see fewer free tasks, never a wrong one.
    const [outcomes, leased] = await Promise.all([acked, this.leaseTasks(lease)])
    return { acks: outcomes, leased }
  }

  failTasks (items: FailRequest[]): Promise<FailOutcome[]> {
    return this.run('failTasks', async () => {
      const k = this.keys
      const out: FailOutcome[] = []
      for (const batch of chunks(items, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        const args: ScriptArg[] = [k.base, k.workChannel]
        for (const item of batch) {
          const delay = item.retryDelayMs === null ? '' : Math.max(0, Math.floor(item.retryDelayMs))
          args.push(item.id, item.leaseToken, String(item.error?.message ?? ''), item.error?.stack ?? '', delay)
        }
        const [outcomes, cascaded] = await this.script('fail', [k.processing, k.dead], args) as [FailOutcome[], unknown]
        out.push(...outcomes)
        this.cascades.report(cascadedTriples(cascaded))
      }
      return out
    })
  }

  extendLeases (items: LeaseRef[], leaseMs: number): Promise<Array<number | null>> {
    return this.run('extendLeases', async () => {
      const k = this.keys
      const out: Array<number | null> = []
      for (const batch of chunks(items, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        const args: ScriptArg[] = [k.base, leaseMs]
        for (const item of batch) args.push(item.id, item.leaseToken)
        const reply = await this.script('extend', [k.processing], args) as number[]
        for (const r of reply) out.push(r < 0 ? null : r)
      }
      return out
    })
  }

  releaseTasks (items: LeaseRef[]): Promise<AckOutcome[]> {
    return this.run('releaseTasks', async () => {
      const k = this.keys
      const out: AckOutcome[] = []
      for (const batch of chunks(items, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        const args: ScriptArg[] = [k.base, k.workChannel]
        for (const item of batch) args.push(item.id, item.leaseToken)
        const reply = await this.script('release', [k.processing], args) as number[]
        for (const r of reply) out.push(r === 1 ? 'ok' : 'lease_lost')
      }
      return out
    })
  }

  recoverExpiredLeases (limit: number): Promise<RecoveredLeases> {
    const count = Math.min(limit, MAX_LIST_LIMIT)
    return this.run('recoverExpiredLeases', async () => {
      const k = this.keys
      const [requeued, dead, cascaded] = await this.script('recover', [k.processing, k.dead], [k.base, k.workChannel, count]) as [string[], string[], unknown]
      this.cascades.report(cascadedTriples(cascaded))
      return { requeued, dead }
    })
  }

  subscribeWork (listener: (queue: string) => void): Promise<Unsubscribe> {
    return this.run('subscribeWork', () => this.subscriptions.subscribe(this.keys.workChannel, listener))
  }

  // --- operating on tasks ------------------------------------------------------------------

  cancelTask (id: string): Promise<CancelOutcome> {
    return this.run('cancelTask', async () => {
      const reply = await this.script('cancel', [this.keys.canceled], [this.keys.base, id]) as [string, unknown]
      if (reply[0] === 'conflict') return { outcome: 'conflict', state: reply[1] as Task['state'] }
      if (reply[0] === 'canceled') this.cascades.report(cascadedTriples(reply[1]))
      return { outcome: reply[0] as 'canceled' | 'not_found' }
    })
  }

  requeueTasks (req: RequeueRequest): Promise<RequeueResult> {
    const payload = req.payload === undefined ? '' : JSON.stringify(req.payload)
    const head: ScriptArg[] = [this.keys.base, this.keys.workChannel, req.fromStates.join(','), req.queue ?? '', payload, req.dryRun === true ? 1 : 0]
    let tail: ScriptArg[]
    if (req.ids !== undefined) {
      tail = ['ids', ...req.ids]
    } else {
      const f = req.filter!
      tail = ['filter', f.state ?? '', f.queue ?? '', f.handler ?? '',
        (f.query ?? '').toLowerCase(), Math.min(f.limit, MAX_LIST_LIMIT), LIST_SCAN_CAP, ...windowArgs(f), f.tenant ?? '', f.correlationId ?? '']
    }
    return this.run('requeueTasks', async () => {
      const [requeued, skipped] = await this.script('requeue', [this.keys.queues], [...head, ...tail]) as [string[], string[]]
      return { requeued, skipped: skippedFrom(skipped) }
    })
  }

  deleteTasks (req: DeleteRequest): Promise<DeleteResult> {
    return this.run('deleteTasks', async () => {
      const [deleted, skipped, cascaded] = await this.script('delete', [this.keys.all],
        [this.keys.base, req.fromStates.join(','), req.dryRun === true ? 1 : 0, ...req.ids]) as [string[], string[], unknown]
      this.cascades.report(cascadedTriples(cascaded))
      return { deleted, skipped: skippedFrom(skipped) }
    })
  }

  applyTaskAction (req: TaskActionRequest): Promise<TaskActionResult> {
    return this.run('applyTaskAction', async () => await applyTaskAction({ keys: this.keys, script: this.script, backend: this, skippedFrom, cascades: this.cascades }, req))
  }

  getTask (id: string): Promise<Task | null> {
    return this.run('getTask', async () => {
      const h = await this.client.hgetall(this.keys.task(id))
      return h.s === undefined ? null : hashToTask(id, h)
    })
  }

  /** dependency cascades run inside the scripts, which return what they finished (lua/lib/common.lua) */
  watchCascades (listener: (tasks: CascadedTask[]) => void): () => void {
    return this.cascades.watch(listener)
  }

  taskLinks (ids: string[]): Promise<TaskLinks[]> {
    const wanted = [...new Set(ids)]
    return this.run('taskLinks', async () => {
      if (wanted.length === 0) return []
      const pipeline = this.client.pipeline()
      for (const id of wanted) {
        pipeline.hmget(this.keys.task(id), 'q', 'h', 's', 'dp', 'kc')
        pipeline.smembers(`${this.keys.base}kids:${id}`)
      }
      const replies = await pipeline.exec() ?? []
      const out: TaskLinks[] = []
      for (const [i, id] of wanted.entries()) {
        const [err, fields] = replies[2 * i] ?? []
        const [kidsErr, kids] = replies[2 * i + 1] ?? []
        if (err !== null && err !== undefined) throw err
        if (kidsErr !== null && kidsErr !== undefined) throw kidsErr
        const [queue, handler, state, parents, hasChildren] = fields as Array<string | null>
        if (state === null || state === undefined) continue
        const children = hasChildren === '1' ? (kids as string[]).sort().slice(0, MAX_CHILD_LINKS) : []
        out.push({ id, queue: queue ?? '', handler: handler ?? '', state: state as TaskState, parents: parents === null || parents === undefined || parents === '' ? [] : parents.split(','), children })
      }
      return out
    })
  }

  getTaskByKey (key: string): Promise<Task | null> {
    return this.run('getTaskByKey', async () => {
      const id = await this.client.hget(this.keys.idem, key)
      if (id === null) return null
      const h = await this.client.hgetall(this.keys.task(id))
      // the key's task was deleted (and the key perhaps taken again) between the reads
      return h.s === undefined || h.ik !== key ? null : hashToTask(id, h)
    })
  }

  listTasks (req: ListTasksRequest): Promise<TaskPage> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    const offset = req.offset
    const state = req.state ?? ''
    const after = req.after === undefined ? undefined : parsePosition(req.after)
    return this.run('listTasks', async () => {
      const reply = await this.script('list', [this.keys.all], [this.keys.base, state, req.queue ?? '', req.handler ?? '',
        (req.query ?? '').toLowerCase(), offset, limit, LIST_SCAN_CAP, ...windowArgs(req), req.tenant ?? '', req.correlationId ?? '',
        after?.score ?? '', after?.id ?? '']) as [number, number, string, string, ...Array<[string, string[]]>]
      const tasks: Task[] = []
      for (let i = 4; i < reply.length; i++) {
        const [id, flat] = reply[i] as [string, string[]]
        if (flat.length > 0) tasks.push(hashToTask(id, pairsToObject(flat)))
      }
      const page: TaskPage = { tasks, total: reply[0] < 0 ? null : reply[0] }
      if (reply[3] !== '') page.next = formatPosition({ score: reply[2], id: reply[3] })
      return page
    })
  }

  dlqStats (): Promise<DLQStats> {
    return this.run('dlqStats', async () => {
      const k = this.keys
      const [total, byQueue, byHandler, oldest, newest] = await this.script('dlq_stats', [k.dead, k.queues, k.deadByHandler], [k.base]) as
        [number, Array<string | number>, string[], string, string]
      const stats: DLQStats = { total, byQueue: {}, byHandler: {}, oldestFailedAt: oldest === '' ? null : Number(oldest), newestFailedAt: newest === '' ? null : Number(newest) }
      for (let i = 0; i < byQueue.length; i += 2) stats.byQueue[String(byQueue[i])] = Number(byQueue[i + 1])
      for (let i = 0; i < byHandler.length; i += 2) {
        const n = Number(byHandler[i + 1])
        if (n > 0) stats.byHandler[byHandler[i]!] = n
      }
      return stats
    })
  }

  pendingHandlers (req: PendingHandlersRequest): Promise<PendingHandler[]> {
    // core checked the request (core/backend/arguments.ts); the queues travel as script arguments
    if (req.queues.length > MAX_QUEUES_PER_LEASE) {
      throw Errors.validation(`queues: at most ${MAX_QUEUES_PER_LEASE} names per call`, { details: { field: 'queues' } })
    }
    const queues = req.queues
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    return this.run('pendingHandlers', async () => {
      if (limit === 0 || queues.length === 0) return []
      return pendingFrom(await this.script('pending_handlers', [this.keys.queues], [this.keys.base, limit, ...queues]) as string[])
    })
  }

  pruneFinished (req: PruneRequest): Promise<number> {
    const index = { succeeded: this.keys.succeeded, canceled: this.keys.canceled, dead: this.keys.dead }[req.state]
    const age = req.finishedOlderThanMs
    const limit = req.limit
    return this.run('pruneFinished', async () => {
      // Bounded script calls, so a large prune never blocks Redis for long in one go.
      let removed = 0
      while (removed < limit) {
        const step = Math.min(SCRIPT_BATCH, limit - removed)
        const n = await this.script('prune', [index], [this.keys.base, age, step]) as number
        removed += n
        if (n < step) break
      }
      return removed
    })
  }

  // --- queues ------------------------------------------------------------------------------

  queueStats (names?: string[]): Promise<QueueStats[]> {
    const wanted = names ?? []
    return this.run('queueStats', async () => {
      if (names !== undefined && wanted.length === 0) return []
      const k = this.keys
      return statsFrom(await this.script('stats', [k.queues, k.weights, k.paused], [k.base, ...wanted]) as Array<string | number>)
    })
  }

  readOverview (req: OverviewReadRequest): Promise<OverviewRead> {
    const pendingLimit = Math.min(req.pendingLimit, MAX_LIST_LIMIT)
    const events = req.events
    const eventsAfter = events?.afterId == null ? null : parseEventId('events.afterId', events.afterId)
    const eventLimit = Math.min(events?.limit ?? 0, MAX_LIST_LIMIT)
    return this.run('readOverview', async () => {
      // One write, so one round trip: the overview script (the code of the stats,
      // worker_list, coordination and pending_handlers scripts the separate calls run,
      // in one command) and the event page.
      const k = this.keys
      // the first page of readEvents; more pages (entries of single events) are read after
      const eventEntries = Math.min(eventLimit, EVENT_FIRST_PAGE) + 1
      const values = await Promise.all(sendTogether(this.client, () => [
        this.script('overview', [k.queues, k.weights, k.paused, k.workers, k.globalPause, k.rate, k.lockNames], [k.base, MAX_LIST_LIMIT, WORKER_RETENTION_MS, pendingLimit]),
        ...(eventLimit > 0 ? [this.client.xrange(k.events, forwardStart(eventsAfter), '+', 'COUNT', eventEntries)] : [])
      ]))
      const [stats, workers, coordination, pendingPairs] = values[0] as [Array<string | number>, Array<string | number>, CoordinationReply, string[]]
      const pending = pendingLimit > 0 ? pendingFrom(pendingPairs) : []
      const read: StoredEvent[] = []
      if (eventLimit > 0) {
        const entries = values[1] as Array<[string, string[]]>
        takeAfter(entries, eventsAfter, eventLimit, read)
        // a full page that left events wanted: at least one of its entries gave events, so read on after the last
        if (read.length < eventLimit && entries.length === eventEntries) await this.readForward(parseEventId('events.afterId', read[read.length - 1]!.id), eventLimit, read)
      }
      return { queues: statsFrom(stats), workers: workersFrom(workers), coordination: coordinationFrom(coordination), pending, events: read }
    })
  }

  ensureQueues (names: string[]): Promise<void> {
    const list = names
    return this.run('ensureQueues', async () => {
      for (const batch of chunks(list, SCRIPT_BATCH)) {
        if (batch.length > 0) await this.script('queues_ensure', [this.keys.queues], batch)
      }
    })
  }

  setQueueWeight (name: string, weight: number | null): Promise<void> {
    return this.run('setQueueWeight', async () => {
      await this.script('queue_set', [this.keys.queues, this.keys.weights], [this.keys.workChannel, name, weight === null ? '' : weight, 0])
    })
  }

  setQueuePaused (name: string, paused: boolean): Promise<void> {
    return this.run('setQueuePaused', async () => {
      await this.script('queue_set', [this.keys.queues, this.keys.paused], [this.keys.workChannel, name, paused ? 1 : '', 1])
    })
  }

  // --- coordination ----------------------------------------------------------------------------

  setGlobalPause (paused: boolean): Promise<void> {
    return this.run('setGlobalPause', async () => {
      await this.script('pause_global', [this.keys.globalPause, this.keys.queues], [this.keys.workChannel, paused ? 1 : 0])
    })
  }

  getCoordinationState (): Promise<CoordinationState> {
    return this.run('getCoordinationState', async () => {
      const k = this.keys
      return coordinationFrom(await this.script('coordination', [k.globalPause, k.rate, k.lockNames], [k.base]) as CoordinationReply)
    })
  }

  acquireLeader (name: string, holder: string, ttlMs: number): Promise<LeaderAcquireResult> {
    return this.run('acquireLeader', async () => {
      const k = this.keys
      const [acquired, h, token, exp] = await this.script('leader_acquire', [k.lock(name), k.lockTokens, k.lockNames], [name, holder, ttlMs]) as
        [number, string, string | number, string | number]
      return { acquired: acquired === 1, lock: { name, holder: h, token: Number(token), expiresAt: Number(exp) } }
    })
  }

  releaseLeader (name: string, holder: string, token: number): Promise<boolean> {
    return this.run('releaseLeader', async () => {
      return (await this.script('leader_release', [this.keys.lock(name)], [holder, String(token)])) === 1
    })
  }

  setRateLimit (limit: RateLimit | null): Promise<void> {
    return this.run('setRateLimit', async () => {
      await this.script('rate_set', [this.keys.rate], limit === null ? ['', ''] : [limit.limit, limit.windowMs])
    })
  }

  takeRatePermits (n: number): Promise<number> {
    return this.run('takeRatePermits', async () => {
      if (n === 0) return 0
      return await this.script('rate_take', [this.keys.rate], [n]) as number
    })
  }

  // --- flow control (lua/lib/flow.lua) -------------------------------------------------------

  setFlowLimit (scope: FlowScope, limit: FlowLimit): Promise<void> {
    return this.run('setFlowLimit', async () => {
      const k = this.keys
      const spec = `${limit.concurrency ?? ''}:${limit.rate?.limit ?? ''}:${limit.rate?.windowMs ?? ''}`
      await this.script('flow_set', [k.flowLimits, k.flowRunning, k.flowWindows], [k.base, scope.kind, scope.name, spec])
    })
  }

  clearFlowLimit (scope: FlowScope): Promise<boolean> {
    return this.run('clearFlowLimit', async () => {
      const k = this.keys
      return (await this.script('flow_clear', [k.flowLimits, k.flowRunning, k.flowWindows], [scope.kind, scope.name])) === 1
    })
  }

  listFlowLimits (): Promise<FlowLimitState[]> {
    return this.run('listFlowLimits', async () => {
      const k = this.keys
      const flat = await this.script('flow_list', [k.flowLimits, k.queues], [k.base]) as Array<string | number>
      const out: FlowLimitState[] = []
      for (let i = 0; i < flat.length; i += 7) {
        const [concurrency, rate, windowMs] = String(flat[i + 2]).split(':').map(v => v === '' ? null : Number(v))
        out.push({
          kind: flat[i] as FlowScope['kind'],
          name: String(flat[i + 1]),
          concurrency: concurrency ?? null,
          rate: rate == null || windowMs == null ? null : { limit: rate, windowMs },
          running: Number(flat[i + 3]),
          started: Number(flat[i + 4]),
          saturated: flat[i + 5] === 1,
          throttled: Number(flat[i + 6])
        })
      }
      out.sort((a, b) => a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      return out.slice(0, MAX_LIST_LIMIT)
    })
  }

  // --- workers --------------------------------------------------------------------------------

  heartbeatWorker (info: WorkerInfo, ttlMs: number): Promise<WorkerHeartbeat> {
    return this.run('heartbeatWorker', async () => {
      const { lastHeartbeatAt: _ignored, cordoned: _kept, stale: _derived, ...rest } = info
      const reply = await this.script('worker_heartbeat', [this.keys.workers, this.keys.worker(info.id)], [info.id, JSON.stringify(rest), ttlMs, WORKER_RETENTION_MS]) as [number, number]
      return { cordoned: reply[1] === 1 }
    })
  }

  listWorkers (options?: ListWorkersOptions): Promise<WorkerInfo[]> {
    return this.run('listWorkers', async () => {
      return workersFrom(await this.script('worker_list', [this.keys.workers], [this.keys.base, MAX_LIST_LIMIT, options?.includeStale === true ? 1 : 0, WORKER_RETENTION_MS]) as Array<string | number>)
    })
  }

  removeWorker (id: string): Promise<void> {
    return this.run('removeWorker', async () => {
      await this.script('worker_remove', [this.keys.workers, this.keys.worker(id)], [id])
    })
  }

  setWorkerCordoned (id: string, cordoned: boolean): Promise<boolean> {
    return this.run('setWorkerCordoned', async () =>
      await this.script('worker_cordon', [this.keys.workers, this.keys.worker(id)], [id, cordoned ? 1 : 0]) === 1)
  }

  releaseWorkerLeases (req: ReleaseWorkerLeasesRequest): Promise<RecoveredLeases> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    return this.run('releaseWorkerLeases', async () => {
      if (limit === 0) return { requeued: [], dead: [] }
      const k = this.keys
      const [requeued, dead, cascaded] = await this.script('worker_release', [k.processing, k.dead],
        [k.base, k.workChannel, req.workerId, limit, req.dryRun === true ? 1 : 0, RELEASE_SCAN_MAX]) as [string[], string[], unknown]
      this.cascades.report(cascadedTriples(cascaded))
      return { requeued, dead }
    })
  }

  sweepWorkers (req: SweepWorkersRequest): Promise<WorkerInfo[]> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    return this.run('sweepWorkers', async () => {
      if (limit === 0) return []
      const flat = await this.script('worker_sweep', [this.keys.workers],
        [this.keys.base, req.olderThanMs, limit, req.dryRun === true ? 1 : 0, WORKER_RETENTION_MS]) as Array<string | number>
      const out: WorkerInfo[] = []
      for (let i = 0; i < flat.length; i += 3) out.push({ ...workerFrom(flat[i] as string, flat[i + 1]!, flat[i + 2]!), stale: true })
      return out
    })
  }

  // --- event log -------------------------------------------------------------------------------

  appendEvents (events: EventInput[]): Promise<StoredEvent[]> {
    return this.run('appendEvents', async () => {
      const out: StoredEvent[] = []
      for (const batch of chunks(events, SCRIPT_BATCH)) {
        if (batch.length === 0) continue
        // one stream entry per call (lua/lib/events.lua): event k of entry E is E:k
        const body = JSON.stringify(batch.map(e => [e.type, e.data ?? null]))
        const k = this.keys
        const entry = await this.script('events_append', [k.events, k.eventIndex, k.eventCount], [k.eventsChannel, this.options.maxEvents, batch.length, body]) as string
        const time = streamIdTime(entry)
        batch.forEach((e, i) => out.push({ id: `${entry}:${i}`, type: e.type, time, data: e.data ?? null }))
      }
      return out
    })
  }

  readEvents (req: ReadEventsRequest): Promise<StoredEvent[]> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    const after = req.afterId == null ? null : parseEventId('afterId', req.afterId)
    return this.run('readEvents', async () => await this.readForward(after, limit, []))
  }

  /** readEvents: the events after `after` appended to `out` until it holds `limit` */
  private async readForward (after: EventPosition | null, limit: number, out: StoredEvent[]): Promise<StoredEvent[]> {
    let start = forwardStart(after)
    // An entry holds at least one event, so more entries than events still wanted are
    // never needed (one more: the entry of `after` may have none left); pages start
    // small because one entry can hold hundreds.
    for (let count = Math.min(limit, EVENT_FIRST_PAGE) + 1; out.length < limit; count = Math.min(count * 4, limit - out.length + 1)) {
      const entries = await this.client.xrange(this.keys.events, start, '+', 'COUNT', count)
      takeAfter(entries, after, limit, out)
      if (entries.length < count) break
      start = `(${entries[entries.length - 1]![0]}`
    }
    return out
  }

  readEventsNewestFirst (req: ReadEventsBackwardRequest): Promise<StoredEvent[]> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    const before = req.beforeId == null ? null : parseEventId('beforeId', req.beforeId)
    return this.run('readEventsNewestFirst', async () => {
      const out: StoredEvent[] = []
      let end = backwardStart(before)
      for (let count = Math.min(limit, EVENT_FIRST_PAGE) + 1; out.length < limit; count = Math.min(count * 4, limit - out.length + 1)) {
        const entries = await this.client.xrevrange(this.keys.events, end, '-', 'COUNT', count)
        takeBefore(entries, before, limit, out)
        if (entries.length < count) break
        end = `(${entries[entries.length - 1]![0]}`
      }
      return out
    })
  }

  subscribeEvents (listener: () => void): Promise<Unsubscribe> {
    return this.run('subscribeEvents', () => this.subscriptions.subscribe(this.keys.eventsChannel, () => listener()))
  }

  // --- audit ------------------------------------------------------------------------------------

  appendAudit (event: AuditInput): Promise<AuditEvent> {
    return this.run('appendAudit', async () => {
      const fields = ['a', event.action, 'tg', event.target ?? '', 'ac', event.actor ?? '', 'r', event.requestId ?? '',
        'pm', JSON.stringify(event.params ?? {}), 'o', event.outcome]
      if (event.error !== undefined) fields.push('e', event.error)
      const id = await this.client.xadd(this.keys.audit, 'MAXLEN', '~', this.options.maxAudit, '*', ...fields) as string
      return decodeAudit(id, fields)
    })
  }

  listAudit (req: ListAuditRequest): Promise<AuditEvent[]> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    if (req.beforeId !== undefined && !STREAM_ID.test(req.beforeId)) {
      throw Errors.validation('beforeId: must be an audit event id like "1700000000000-0"', { details: { field: 'beforeId' } })
    }
    const since = req.since ?? ''
    return this.run('listAudit', async () => {
      if (limit === 0) return []
      const entries = await this.script('audit_list', [this.keys.audit],
        [limit, req.action ?? '', req.target ?? '', since, req.beforeId ?? '', LIST_SCAN_CAP]) as Array<[string, string[]]>
      return entries.map(([id, fields]) => decodeAudit(id, fields))
    })
  }

  pruneAudit (req: { maxCount?: number, maxAgeMs?: number }): Promise<number> {
    const maxCount = req.maxCount ?? ''
    const maxAgeMs = req.maxAgeMs ?? ''
    return this.run('pruneAudit', async () => {
      return await this.script('audit_prune', [this.keys.audit], [maxCount, maxAgeMs]) as number
    })
  }

  // --- records --------------------------------------------------------------------------------

  putRecord (collection: string, key: string, value: unknown, options?: PutRecordOptions): Promise<PutRecordResult> {
    return this.run('putRecord', () => this.records.put(collection, key, value, options))
  }

  getRecord (collection: string, key: string): Promise<StoredRecord | null> {
    return this.run('getRecord', () => this.records.get(collection, key))
  }

  listRecords (collection: string, req: ListRecordsRequest): Promise<StoredRecord[]> {
    return this.run('listRecords', () => this.records.list(collection, req))
  }

  deleteRecord (collection: string, key: string, options?: { ifVersion?: number }): Promise<boolean> {
    return this.run('deleteRecord', () => this.records.delete(collection, key, options))
  }

  claimOnce (key: string, ttlMs: number): Promise<boolean> {
    return this.run('claimOnce', () => this.records.claimOnce(key, ttlMs))
  }
}
