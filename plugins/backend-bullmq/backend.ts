import { randomUUID } from 'node:crypto'
import { Job, Queue, Scripts, Worker, type JobsOptions } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'
import {
  Errors, MAX_CHILD_LINKS, MAX_LIST_LIMIT, isNoResult, isSwitchyardError, payloadJson,
  type AckOutcome, type CompleteRequest, type ProgressRequest, type AuditEvent, type AuditInput, type Backend, type BackendCapabilities, type CancelOutcome,
  type CoordinationState, type DLQStats, type DeleteRequest, type DeleteResult, type EnqueueEvents, type EnqueueResult, type EventInput,
  type FailOutcome, type FailRequest, type FlowLimit, type FlowLimitState, type FlowScope, type LeaderAcquireResult, type LeaseRef, type LeaseRequest, type LeasedTask,
  type ListAuditRequest, type ListTasksRequest, type PushWaitRequest, type OverviewRead, type OverviewReadRequest, type PendingHandler, type PendingHandlersRequest, type NewTask, type PruneRequest, type QueueStats, type RateLimit, type RateLimitedLease,
  type ReadEventsRequest, type ReadEventsBackwardRequest, type RecoveredLeases, type RequeueRequest, type RequeueResult, type SkippedTask,
  type StoredEvent, type Task, type TaskPage, type TaskState, type Unsubscribe, type WorkerInfo,
  type ListRecordsRequest, type PutRecordOptions, type PutRecordResult, type StoredRecord, type TaskActionRequest, type TaskActionResult,
  CascadeListeners, cascadedTriples, type CascadedTask,
  type TaskLinks, type ListWorkersOptions, type ReleaseWorkerLeasesRequest, type SweepWorkersRequest, type WorkerHeartbeat
} from '@switchyard/core'
import { applyTaskAction } from './task-actions.ts'
import { Keys, META, foreignTaskId, keyedTaskId, newTaskId, parseForeignId, type JobRef } from './keys.ts'
import type { ResolvedOptions } from './options.ts'
import { OwnState } from './own-state.ts'
import { assertNoEviction, RedisRecords, sendTogether } from '@switchyard/backend-redis'
import { defineScripts, runPlainScript, runTaskScript } from './scripts.ts'
import { addJobs, completeAndFetch, defineBatchScripts, leaseJobs, reportCascadesTo, runBatched, type BatchedScript, type FetchTarget, type NewJob } from './bullmq-batch.ts'
import { WorkNotifier } from './work-notifier.ts'
import { PushWaits } from './push-delivery.ts'
import { RedisClock } from './redis-clock.ts'
import { TaskLister } from './task-lister.ts'
import { DEFAULT_TIMEOUT_MS, MAX_ERRORS, hashFromFlat, jobOpts, leasedFromHash, storedErrors, taskFromHash, toBullPriority, type JobHash, type SwitchyardMeta } from './task-view.ts'

const CAPABILITIES: Omit<BackendCapabilities, 'taskCount'> = {
  taskFilters: ['state', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId'],
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
  // pub/sub from Switchyard's own paths plus a watch on BullMQ's event streams (work-notifier.ts)
  workNotifications: true,
  records: true,
  flowControl: true,
  // blocked children in Switchyard's own set, released by the script that acks their last parent (lua/deps.lua)
  dependencies: true,
  flowScopeKinds: ['queue', 'handler', 'tenant'],
  // the add of fresh ready jobs leases them to a registered idle worker's inbox (push-delivery.ts)
  pushDelivery: true,
  // an ack with BullMQ's fetch-next (complete-and-fetch.lua) is one script run per task where
  // an ack then a lease is two (moveToFinished, then moveToActive)
  acksAwaitLeases: true
}

/** BullMQ script codes that mean "this token no longer holds the job" */
const LEASE_LOST_CODES = new Set([-1, -2, -3, -6])
/** Jobs pendingHandlers examines per queue at the head of each of its wait, paused, prioritized and delayed structures. */
export const PENDING_SCAN_PER_STRUCTURE = 100
/** Jobs pendingHandlers examines at most per call, over every queue (parked names are read apart). */
export const PENDING_SCAN_BUDGET = 10_000
/** outstanding leases remembered to save a round trip on ack; beyond this they are looked up */
const MAX_REMEMBERED_LEASES = 100_000
/** jobs one pruneFinished call deletes at most */
const MAX_PRUNE_PER_CALL = 10_000

interface LeaseEntry { queue: string, jobId: string, hash: JobHash }
/** an enqueue's jobs: ready or delayed ones per queue, blocked ones per queue with their parents, queues with a job ready now */
interface JobPlan {
  byQueue: Map<string, NewJob[]>
  blockedByQueue: Map<string, NewJob[]>
  waitsFor: Map<string, { policy: string, ids: string[], refs: Array<[string, string]> }>
  readyNow: Set<string>
}
/** a job an ack took next: queue, job id, lock token (the acked job's), flat hash, lease expiry */
type FetchedJob = [queue: string, jobId: string, token: string, flat: string[], expiresAt: number]

/**
 * A BullMQ transition script's reply: true when it went through, false when the
 * token no longer holds the job; an error, or any other failure code, is thrown as
 * BullMQ would.
 */
function finishedOk (reply: unknown, queue: Queue, jobId: string, command: string): boolean {
  // a run that failed inside a batch (run-calls.lua answers its error in its place)
  if (reply instanceof Error) throw reply
  if (typeof reply !== 'number' || reply >= 0) return true
  if (LEASE_LOST_CODES.has(reply)) return false
  throw queue.scripts.finishedErrors({ code: reply, jobId, command, state: 'active' })
}

/** BullMQ's own rule on top of core's checked names: its keys are queue:name:... */
function assertQueueName (field: string, name: string): string {
  if (name.includes(':')) throw Errors.validation(`${field}: BullMQ queue names cannot contain ":"`, { details: { field } })
  return name
}

export class BullMQBackend implements Backend {
  readonly name = 'bullmq'
  readonly capabilities: BackendCapabilities
  readonly keys: Keys
  private readonly redis: Redis
  private readonly own: OwnState
  private readonly notifier: WorkNotifier
  private readonly pushWaits: PushWaits
  /** the Redis clock estimated locally, for enqueues that cannot wait for TIME */
  private readonly clock: RedisClock
  private readonly records: RedisRecords
  private readonly lister: TaskLister
  private readonly cascades = new CascadeListeners()
  private readonly queues = new Map<string, Queue>()
  private readonly workers = new Map<string, Worker>()
  /** per queue, lease length and worker: the scripts whose acks also fetch the next job */
  private readonly fetchingScripts = new Map<string, Scripts>()
  private readonly leases = new Map<string, LeaseEntry>()
  private initialized: Promise<void> | null = null

  constructor (private readonly options: ResolvedOptions) {
    this.keys = new Keys(options.prefix)
    // handler and text filters are counted by examining jobs, at most scanLimit of them
    this.capabilities = { ...CAPABILITIES, taskCount: { exact: ['state', 'queue'], examineUpTo: options.scanLimit } }
    const { tls, username, password, db } = options.connection
    const redisOptions: RedisOptions = {
      // BullMQ's blocking connections (duplicated from this one) need unlimited retries
      maxRetriesPerRequest: null,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.commandTimeoutMs,
      lazyConnect: true,
      enableOfflineQueue: true
    }
    if (tls !== undefined) redisOptions.tls = { ...tls }
    if (username !== undefined) redisOptions.username = username
    if (password !== undefined) redisOptions.password = password
    if (db !== undefined) redisOptions.db = db
    this.redis = new Redis(options.url, redisOptions)
    this.redis.on('error', () => {})
    defineScripts(this.redis)
    defineBatchScripts(this.redis)
    reportCascadesTo(this.redis, triples => this.cascades.report(cascadedTriples(triples)))
    this.own = new OwnState(this.redis, this.keys, options)
    this.notifier = new WorkNotifier(this.redis, this.keys, options.commandTimeoutMs)
    this.pushWaits = new PushWaits(this.redis, this.keys, {
      lease: async req => await this.leaseTasks(req),
      take: async ([queue, jobId, token, flat, expiresAt], leaseMs) => await this.takeLeased(queue, jobId, token, flat, expiresAt, leaseMs)
    })
    this.clock = new RedisClock(this.redis)
    // Records as the Redis backend keeps them, under this backend's own keys and scripts.
    this.records = new RedisRecords(this.redis, this.keys, async (op, keys, args) => await runPlainScript(this.redis, `records-${op}`, keys, args))
    this.lister = new TaskLister(this.redis, this.keys, options.scanLimit, (queue, ids) => this.taskIdsOf(queue, ids))
  }

  init (): Promise<void> {
    const unavailable = (err: unknown): never => {
      throw Errors.backendUnavailable(`cannot connect to Redis at ${this.options.url}: ${(err as Error).message}`, { cause: err })
    }
    this.initialized ??= (async () => {
      if (this.redis.status === 'wait') await this.redis.connect().catch(unavailable)
      // the Redis backend's own check: an evicted job hash or index silently loses tasks
      await assertNoEviction(this.redis, this.options.allowEvictingMemoryPolicy).catch((err: unknown) => {
        if (isSwitchyardError(err)) throw err
        unavailable(err)
      })
      if (this.options.queues.length > 0) await this.redis.sadd(this.keys.queues, ...this.options.queues).catch(unavailable)
      await this.clock.sample().catch(unavailable)
    })().catch((err: unknown) => {
      this.initialized = null
      throw err
    })
    return this.initialized
  }

  async close (): Promise<void> {
    this.pushWaits.close()
    await Promise.allSettled([...this.workers.values()].map(w => w.close(true)))
    await Promise.allSettled([...this.queues.values()].map(q => q.close()))
    this.workers.clear()
    this.queues.clear()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  async now (): Promise<number> {
    const [seconds, micros] = await this.redis.time()
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  }

  // --- BullMQ objects --------------------------------------------------------------

  private queueFor (name: string): Queue {
    let queue = this.queues.get(name)
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.redis, prefix: this.options.prefix, skipVersionCheck: true })
      queue.on('error', () => {})
      this.queues.set(name, queue)
    }
    return queue
  }

  /** A processor-less Worker: BullMQ's manual fetching, with Switchyard choosing when and where to fetch. */
  private workerFor (name: string, leaseMs: number): Worker {
    let worker = this.workers.get(name)
    if (worker === undefined) {
      worker = new Worker(name, null, { connection: this.redis, prefix: this.options.prefix, autorun: false, lockDuration: leaseMs, skipVersionCheck: true })
      worker.on('error', () => {})
      this.workers.set(name, worker)
    }
    return worker
  }

  /** task ids for job ids of one queue: Switchyard's own jobs keep their id, others get "<queue>:<jobId>" */
  private async taskIdsOf (queue: string, jobIds: string[]): Promise<string[]> {
    if (jobIds.length === 0) return []
    const owners = await this.redis.hmget(this.keys.index, ...jobIds)
    return jobIds.map((jobId, i) => owners[i] === queue ? jobId : foreignTaskId(queue, jobId))
  }

  private async resolve (id: string): Promise<JobRef | null> {
    if (typeof id !== 'string' || id.length === 0) return null
    const foreign = parseForeignId(id)
    if (foreign !== null) return foreign
    const queue = await this.redis.hget(this.keys.index, id)
    return queue === null ? null : { queue, jobId: id }
  }

  private async resolveMany (ids: string[]): Promise<Array<JobRef | null>> {
    const own = ids.filter(id => parseForeignId(id) === null && id.length > 0)
    const queues = own.length === 0 ? [] : await this.redis.hmget(this.keys.index, ...own)
    const byId = new Map(own.map((id, i) => [id, queues[i] ?? null]))
    return ids.map(id => {
      const foreign = parseForeignId(id)
      if (foreign !== null) return foreign
      const queue = byId.get(id)
      return queue == null ? null : { queue, jobId: id }
    })
  }

  private taskArgs (ref: JobRef): string[] {
    return [this.keys.queueBase(ref.queue), this.keys.own, ref.queue, ref.jobId]
  }

  // --- producing ----------------------------------------------------------------------

  async enqueue (tasks: NewTask[], events?: EnqueueEvents): Promise<EnqueueResult[]> {
    if (tasks.length === 0) return []
    tasks.forEach((task, i) => assertQueueName(`tasks[${i}].queue`, task.queue))
    if (tasks.every(task => task.idempotencyKey === null && (task.dependsOn === undefined || task.dependsOn.length === 0))) {
      return await this.enqueueFresh(tasks, events)
    }
    // every parent named must be stored, or nothing is enqueued
    const parents = await this.parentRefs(tasks)
    // the first task of a key in a batch wins; later ones answer its id
    const firstOfKey = new Map<string, number>()
    const ids = tasks.map((task, i) => {
      if (task.idempotencyKey === null) return newTaskId()
      if (!firstOfKey.has(task.idempotencyKey)) firstOfKey.set(task.idempotencyKey, i)
      return keyedTaskId(task.idempotencyKey)
    })
    const leaders = tasks.map((task, i) => task.idempotencyKey === null || firstOfKey.get(task.idempotencyKey) === i)
    // One round trip: the backend clock, the queues, and the ids claimed in the index.
    // Claiming a key's id (HSETNX) is what makes the key unique across every queue;
    // a fresh random id cannot be taken, so those are written with one HSET.
    const claim = this.redis.pipeline().time().sadd(this.keys.queues, ...new Set(tasks.map(t => t.queue)))
    const fresh = tasks.flatMap((task, i) => task.idempotencyKey === null ? [ids[i] as string, task.queue] : [])
    if (fresh.length > 0) claim.hset(this.keys.index, ...fresh)
    tasks.forEach((task, i) => { if (task.idempotencyKey !== null && leaders[i] === true) claim.hsetnx(this.keys.index, ids[i] as string, task.queue) })
    const replies = ((await claim.exec()) ?? []).map(([err, value]) => {
      if (err !== null) throw err
      return value
    })
    const [seconds, micros] = replies[0] as [string, string]
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
    const keyedClaims = replies.slice(fresh.length > 0 ? 3 : 2)
    let k = 0
    const created = tasks.map((task, i) => leaders[i] === true && (task.idempotencyKey === null || keyedClaims[k++] === 1))
    const plan = this.planJobs(tasks, ids, created, now, parents)
    // The created tasks' events go into the log before their jobs exist, so no worker
    // can lease a task and log its start first. Ids are ours, known before the add.
    const logged = events === undefined ? null : await this.appendEnqueued(events, ids, created)
    const added = new Set<string>()
    const adds = this.sendAdds(plan, added)
    // Issued after the adds on the same connection, so Redis runs it after them: a
    // woken worker finds the tasks, and the wake-up costs no round trip of its own.
    // A lost wake-up only delays a worker to its next poll, so it never fails the enqueue.
    const woken = this.notifier.publish(plan.readyNow).catch(() => {})
    const failure = (await Promise.allSettled(adds)).find(result => result.status === 'rejected')
    if (failure !== undefined) {
      // give back the ids whose jobs were not added, so a retry of this enqueue is not answered "exists"
      const unused = ids.filter((id, i) => created[i] && !added.has(id))
      if (unused.length > 0) await this.redis.hdel(this.keys.index, ...unused).catch(() => 0)
      // and no event for a task that does not exist: the entry goes, the added ones' events come again
      if (logged !== null && unused.length > 0) {
        await this.own.removeEventEntry(logged.entry, logged.count).catch(() => false)
        const kept = created.map((c, i) => c && added.has(ids[i] as string))
        if (kept.includes(true) && events !== undefined) await this.appendEnqueued(events, ids, kept).catch(() => null)
      }
      await woken
      throw failure.reason
    }
    await woken
    const results: EnqueueResult[] = tasks.map((_, i) => ({ id: ids[i] as string, created: created[i] as boolean }))
    // replace modes: after the adds, so a key repeated in this batch replaces the job its first task created
    for (const [i, task] of tasks.entries()) {
      if (created[i] === true || (task.idempotencyMode !== 'replace' && task.idempotencyMode !== 'preserve_run_at')) continue
      results[i] = await this.replaceKeyed(ids[i] as string, task, now)
    }
    return results
  }

  /**
   * Tasks with neither an idempotency key nor parents, in one round trip. Their ids are
   * fresh random ids no other caller can hold, and their creation time is the local
   * estimate of the Redis clock (redis-clock.ts: within about half a round trip of TIME),
   * so nothing needs an answer before the adds: the event entry and the adds go out back
   * to back on the one connection, before any await, and Redis runs them in that order,
   * so an event is still logged before its job exists. Each add call also registers its
   * queue and indexes the ids it added (add-fresh.lua), so an index entry is never
   * missing for a job a worker can lease; it also pushes its ready jobs to idle workers
   * and PUBLISHes the queue only when it leaves some ready. A one-task enqueue is one
   * command (the add); a TIME goes along only when the
   * clock estimate is due for a refresh (about once a second while enqueues flow).
   */
  private async enqueueFresh (tasks: NewTask[], events?: EnqueueEvents): Promise<EnqueueResult[]> {
    if (!this.clock.known) await this.clock.sample()
    const ids = tasks.map(() => newTaskId())
    const created = new Array<boolean>(tasks.length).fill(true)
    const plan = this.planJobs(tasks, ids, created, this.clock.now(), new Map())
    const added = new Set<string>()
    // nothing is awaited in here: each call issues its commands at once, and they leave in one write
    const { sampled, logging, adds } = sendTogether(this.redis, () => ({
      sampled: this.clock.due ? this.clock.sample().catch(() => 0) : null,
      logging: events === undefined ? Promise.resolve(null) : this.appendEnqueued(events, ids, created),
      // each add pushes its ready jobs to idle workers and PUBLISHes what it left ready (lua/add-fresh.lua);
      // the first add call leaves with the commands above in one write, and each later one as soon as it
      // is built, so Redis runs a large batch's calls while the rest are still being built
      adds: this.sendAdds(plan, added, true, () => this.uncork())
    }))
    const [logged, ...addResults] = await Promise.allSettled([logging, ...adds])
    await sampled
    const failure = [logged, ...addResults].find(result => result.status === 'rejected')
    if (failure !== undefined) {
      await this.undoFresh(tasks, ids, added, logged.status === 'fulfilled' ? logged.value : null, events)
      throw failure.reason
    }
    return ids.map(id => ({ id, created: true }))
  }

  /** lets what sendTogether corked leave now (nothing while the socket is not corked) */
  private uncork (): void {
    const stream = this.redis.stream as { writableCorked?: number, uncork?: () => void } | undefined
    if (stream !== undefined && typeof stream.uncork === 'function' && (stream.writableCorked ?? 0) > 0) stream.uncork()
  }

  /**
   * After a failed enqueueFresh, whose commands may have partly run: leaves what the
   * sequential path would. Jobs added although their event entry failed are taken back
   * while no worker holds them (the caller hears the enqueue failed, and a retry makes
   * new ones); one a worker took already stays, its event logged now (late: its start
   * may be logged first). Ids not known to have a job leave the index (an add whose
   * reply was lost may have indexed its ids), and an event entry that names tasks not
   * added is rewritten without them.
   */
  private async undoFresh (tasks: NewTask[], ids: string[], added: Set<string>, logged: { entry: string, count: number } | null, events?: EnqueueEvents): Promise<void> {
    const queueOf = new Map(ids.map((id, i) => [id, (tasks[i] as NewTask).queue]))
    if (events !== undefined && logged === null) {
      for (const id of [...added]) {
        const ref = { queue: queueOf.get(id) as string, jobId: id }
        const [outcome] = await (runTaskScript(this.redis, 'delete', [...this.taskArgs(ref), 'ready,scheduled', '0']) as Promise<[string]>).catch(() => ['failed'])
        if (outcome === 'ok') added.delete(id)
      }
    }
    const unused = ids.filter(id => !added.has(id))
    if (unused.length > 0) await this.redis.hdel(this.keys.index, ...unused).catch(() => 0)
    if (events === undefined) return
    const kept = ids.map(id => added.has(id))
    if (logged !== null && unused.length > 0) await this.own.removeEventEntry(logged.entry, logged.count).catch(() => false)
    if ((logged === null || unused.length > 0) && kept.includes(true)) await this.appendEnqueued(events, ids, kept).catch(() => null)
  }

  /** the jobs of the created tasks, per queue, and the queues that have a task ready now */
  private planJobs (tasks: NewTask[], ids: string[], created: boolean[], now: number, parents: Map<string, JobRef>): JobPlan {
    const plan: JobPlan = { byQueue: new Map(), blockedByQueue: new Map(), waitsFor: new Map(), readyNow: new Set() }
    tasks.forEach((task, i) => {
      if (created[i] !== true) return
      const runAt = task.runAt ?? now + task.delayMs
      const delay = Math.max(0, runAt - now)
      // Only what the job hash cannot say otherwise: BullMQ keeps a hash whose values
      // are all <= 64 bytes as a compact listpack, several times cheaper to write, read
      // and free than the hashtable a longer opts string turns it into.
      const meta: SwitchyardMeta = {}
      if (task.timeoutMs !== DEFAULT_TIMEOUT_MS) meta.t = task.timeoutMs
      // timestamp + delay is the run time, except for a run time in the past
      if (runAt < now) meta.r = runAt
      if (task.idempotencyKey !== null) meta.k = task.idempotencyKey
      if (task.tenant != null) meta.tn = task.tenant
      if (task.correlationId != null) meta.ci = task.correlationId
      const opts = { attempts: task.maxAttempts, priority: toBullPriority(task.priority), [META]: meta } as JobsOptions
      if (delay > 0) opts.delay = delay
      // an absent payload as BullMQ encodes it; otherwise the text core encoded (payloadJson)
      const dataJson = task.payload === undefined ? '{}' : payloadJson(task)
      const job: NewJob = { id: ids[i] as string, name: task.handler, dataJson, opts, timestamp: now }
      if (task.dependsOn !== undefined && task.dependsOn.length > 0) {
        plan.waitsFor.set(job.id, {
          policy: task.onParentFailure ?? 'cancel',
          ids: task.dependsOn,
          refs: task.dependsOn.map(parent => { const ref = parents.get(parent) as JobRef; return [ref.queue, ref.jobId] })
        })
        plan.blockedByQueue.set(task.queue, [...(plan.blockedByQueue.get(task.queue) ?? []), job])
        return
      }
      if (runAt <= now) plan.readyNow.add(task.queue)
      const list = plan.byQueue.get(task.queue) ?? []
      list.push(job)
      plan.byQueue.set(task.queue, list)
    })
    return plan
  }

  /**
   * Sends every add of the plan at once (addJobs writes its calls before its first
   * await); `added` hears of each job added. `fresh`: the plan's jobs are fresh
   * (enqueueFresh), and their add calls register the queue and index the ids.
   */
  private sendAdds (plan: JobPlan, added: Set<string>, fresh = false, issued?: () => void): Array<Promise<void>> {
    const adds = [...plan.byQueue].map(([queue, jobs]) => addJobs(this.redis, this.queueFor(queue), jobs, id => added.add(id), fresh
      ? { fresh: true, indexKey: this.keys.index, registryKey: this.keys.queues, queue, ownBase: this.keys.own, workChannel: this.keys.work }
      : undefined, issued))
    for (const [queue, jobs] of plan.blockedByQueue) {
      adds.push(addJobs(this.redis, this.queueFor(queue), jobs, id => added.add(id), { queueBase: this.keys.queueBase(queue), ownBase: this.keys.own, queue, parents: plan.waitsFor }))
    }
    return adds
  }

  /** the stored tasks dependsOn names, by id; a parent no stored task has refuses the whole call */
  private async parentRefs (tasks: NewTask[]): Promise<Map<string, JobRef>> {
    const refs = new Map<string, JobRef>()
    const ids = [...new Set(tasks.flatMap(task => task.dependsOn ?? []))]
    if (ids.length === 0) return refs
    const resolved = await this.resolveMany(ids)
    const check = this.redis.pipeline()
    for (const ref of resolved) if (ref !== null) check.exists(this.keys.queueBase(ref.queue) + ref.jobId)
    const exists = ((await check.exec()) ?? []).map(([err, value]) => {
      if (err !== null) throw err
      return value
    })
    let k = 0
    ids.forEach((id, i) => {
      const ref = resolved[i]
      if (ref != null && exists[k++] === 1) refs.set(id, ref)
    })
    const missing = ids.find(id => !refs.has(id))
    if (missing !== undefined) throw Errors.validation(`dependsOn: no task ${missing} (a parent must be a stored task)`, { details: { field: 'dependsOn', id: missing } })
    return refs
  }

  /** the replace modes of enqueue for a keyed id that already names a job (replace.lua) */
  private async replaceKeyed (id: string, task: NewTask, now: number): Promise<EnqueueResult> {
    const ref = await this.resolve(id)
    if (ref === null) return { id, created: false }
    const [outcome, state] = await runTaskScript(this.redis, 'replace', [...this.taskArgs(ref), payloadJson(task),
      toBullPriority(task.priority), task.maxAttempts, task.timeoutMs, task.runAt ?? '', task.delayMs,
      task.idempotencyMode === 'preserve_run_at' ? '1' : '0', DEFAULT_TIMEOUT_MS]) as [string, TaskState | undefined]
    if (outcome === 'replaced') {
      const runAt = task.runAt ?? now + task.delayMs
      if (task.idempotencyMode === 'preserve_run_at' || runAt <= now) await this.notifier.publish(new Set([ref.queue])).catch(() => {})
      return { id, created: false, outcome: 'replaced' }
    }
    if (outcome === 'existing') return { id, created: false, outcome: 'existing', ...(state === undefined ? {} : { state }) }
    return { id, created: false }
  }

  async getTaskByKey (key: string): Promise<Task | null> {
    const task = await this.getTask(keyedTaskId(key))
    return task !== null && task.idempotencyKey === key ? task : null
  }

  /** appends `{ id, ...data }` of each created task as one entry; null when none was created */
  private async appendEnqueued (events: EnqueueEvents, ids: string[], created: boolean[]): Promise<{ entry: string, count: number } | null> {
    const batch = ids.flatMap((id, i) => created[i] === true ? [{ type: events.type, data: { id, ...events.data[i] } }] : [])
    if (batch.length === 0) return null
    const [first] = await this.own.appendEvents(batch)
    return { entry: (first?.id as string).slice(0, (first?.id as string).lastIndexOf(':')), count: batch.length }
  }

  // --- working ---------------------------------------------------------------------------

  async leaseTasks (req: LeaseRequest): Promise<LeasedTask[]> {
    return (await this.lease(req, false)).tasks
  }

  /** lease-jobs.lua takes the global rate limit's permits itself, on the Redis clock it stamps processedOn with */
  async leaseWithinRateLimit (req: LeaseRequest): Promise<RateLimitedLease> {
    return await this.lease(req, true)
  }

  private async lease (req: LeaseRequest, withinRateLimit: boolean): Promise<RateLimitedLease> {
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    if (limit === 0 || req.queues.length === 0 || req.handlers?.length === 0) return { tasks: [], rateLimited: false }
    const queues = req.queues.filter(queue => typeof queue === 'string' && queue.length > 0 && !queue.includes(':'))
    if (queues.length === 0) return { tasks: [], rateLimited: false }
    // one script call for the whole batch across the preferred queues (global pause and unknown queues checked inside)
    const { jobs, rateLimited } = await leaseJobs(this.redis, {
      prefix: this.options.prefix, ownBase: this.keys.own, queues, limit, tokenBase: `${randomUUID()}:`, leaseMs: req.leaseMs, workerId: req.workerId, handlers: req.handlers, withinRateLimit
    })
    const tasks: LeasedTask[] = []
    for (const [queue, jobId, token, flat, expiresAt] of jobs) {
      const task = await this.takeLeased(queue, jobId, token, flat, Number(expiresAt), req.leaseMs)
      if (task !== null) tasks.push(task)
    }
    return { tasks, rateLimited }
  }

  /** a job BullMQ moved to active for us, as a leased task; null when it had to be failed instead */
  private async takeLeased (queue: string, jobId: string, token: string, flat: string[], expiresAt: number, leaseMs: number): Promise<LeasedTask | null> {
    const hash = hashFromFlat(flat)
    // BullMQ's stalled check marks a job that stalled too often to be failed by the next fetcher
    if (hash.defa !== undefined) {
      await this.failFetched(this.workerFor(queue, leaseMs), jobId, hash, token, hash.defa)
      return null
    }
    const opts = jobOpts(hash)
    const id = opts[META] !== null && typeof opts[META] === 'object' ? jobId : foreignTaskId(queue, jobId)
    this.remember(`${id}\n${token}`, { queue, jobId, hash })
    return leasedFromHash(id, queue, hash, opts, token, expiresAt)
  }

  private async failFetched (worker: Worker, jobId: string, hash: JobHash, token: string, reason: string): Promise<void> {
    const job = Job.fromJSON(worker, hash as never, jobId)
    const args = worker.scripts.moveToFailedArgs(job, reason, job.opts.removeOnFail ?? false, token, false, { failedReason: reason })
    // batched (finish.lua), so a job that has children settles them as any dead task does
    const [reply] = await runBatched(this.redis, 'moveToFinished', [args])
    if (reply instanceof Error) throw reply
    if (typeof reply === 'number' && reply < 0 && !LEASE_LOST_CODES.has(reply)) throw worker.scripts.finishedErrors({ code: reply, jobId, command: 'moveToFinished', state: 'active' })
  }

  /** the job behind a lease: remembered from leaseTasks, else read back */
  private async leaseEntry (ref: LeaseRef): Promise<LeaseEntry | null> {
    const remembered = this.leases.get(`${ref.id}\n${ref.leaseToken}`)
    if (remembered !== undefined) return remembered
    const job = await this.resolve(ref.id)
    if (job === null) return null
    const flat = await this.redis.hgetall(this.keys.queueBase(job.queue) + job.jobId)
    if (Object.keys(flat).length === 0) return null
    return { queue: job.queue, jobId: job.jobId, hash: flat }
  }

  private remember (key: string, entry: LeaseEntry): void {
    // leases lost to expiry are never acked here; the oldest make room (a miss is only a lookup)
    if (this.leases.size >= MAX_REMEMBERED_LEASES) this.leases.delete(this.leases.keys().next().value as string)
    this.leases.set(key, entry)
  }

  private forget (ref: LeaseRef): void {
    this.leases.delete(`${ref.id}\n${ref.leaseToken}`)
  }

  /**
   * Acks the batch and leases the next one in one round trip. Acks of the first
   * preferred queue take that queue's next job in the same script run, as BullMQ's
   * own workers do (moveToFinished with fetchNext): one script run per task instead
   * of two. What they cannot cover is leased right after, on the same connection,
   * so Redis runs it after the acks.
   */
  async completeAndLease (acks: CompleteRequest[], lease: LeaseRequest): Promise<{ acks: AckOutcome[], leased: LeasedTask[] }> {
    // core checked the lease request before the call, so a bad one applies no ack
    const limit = Math.min(lease.limit, MAX_LIST_LIMIT)
    const first = lease.queues.find(queue => typeof queue === 'string' && queue.length > 0 && !queue.includes(':'))
    const entries = await Promise.all(acks.map(item => this.leaseEntry(item)))
    const fetching = first === undefined || lease.handlers?.length === 0 ? null : { queue: first, limit, leaseMs: lease.leaseMs, workerId: lease.workerId, handlers: lease.handlers }
    const sent = this.sendCompletions(acks, entries, fetching)
    const rest = limit - sent.fetching
    const leased = rest > 0 ? this.leaseTasks({ ...lease, limit: rest }) : Promise.resolve([])
    const [{ outcomes, fetched }, tasks] = await Promise.all([sent.done, leased])
    const next: LeasedTask[] = []
    for (const [queue, jobId, token, flat, expiresAt] of fetched) {
      const task = await this.takeLeased(queue, jobId, token, flat, expiresAt, lease.leaseMs)
      if (task !== null) next.push(task)
    }
    // Acks that were to fetch but did not (lease lost, queue drained): lease what they
    // left, unless the lease after them already came back short (nothing more to take).
    const shortfall = sent.fetching - fetched.length
    if (shortfall > 0 && (rest <= 0 || tasks.length === rest)) tasks.push(...await this.leaseTasks({ ...lease, limit: shortfall }))
    return { acks: outcomes, leased: [...next, ...tasks] }
  }

  async completeTasks (items: CompleteRequest[]): Promise<AckOutcome[]> {
    return (await this.sendCompletions(items, await Promise.all(items.map(item => this.leaseEntry(item))), null).done).outcomes
  }

  /**
   * BullMQ's scripts for a queue with the lock duration and worker name a lease
   * needs packed into its acks: a view of the queue with those options, so BullMQ
   * still builds every argument itself.
   */
  private scriptsFetching (queue: string, leaseMs: number, workerId: string): Scripts {
    const key = `${queue}\n${leaseMs}\n${workerId}`
    let scripts = this.fetchingScripts.get(key)
    if (scripts === undefined) {
      const base = this.queueFor(queue)
      const view = Object.create(base, { opts: { value: { ...base.opts, lockDuration: leaseMs, name: workerId } } }) as Queue
      scripts = new Scripts(view)
      // workers ids and lease lengths are few per process; the bound only guards against misuse
      if (this.fetchingScripts.size >= 1000) this.fetchingScripts.delete(this.fetchingScripts.keys().next().value as string)
      this.fetchingScripts.set(key, scripts)
    }
    return scripts
  }

  /**
   * Issues the completion scripts synchronously (before its first await), so a call
   * after it runs after them. With `fetching`, up to its limit of the acks of its
   * queue also take that queue's next job; `fetching` says how many may.
   */
  private sendCompletions (items: CompleteRequest[], entries: Array<LeaseEntry | null>, fetching: { queue: string, limit: number, leaseMs: number, workerId: string, handlers: string[] | undefined } | null): { fetching: number, done: Promise<{ outcomes: AckOutcome[], fetched: FetchedJob[] }> } {
    const outcomes = new Array<AckOutcome>(items.length).fill('lease_lost')
    const calls: unknown[][] = []
    const callOf: Array<{ at: number, queue: Queue, jobId: string }> = []
    let fetches = 0
    // Acking a job that has a parent (a BullMQ flow) may move the parent to wait during
    // the batch, ahead of the job handler-filter.lua chose for fetch-next: such a batch
    // fetches nothing and the lease sent after it takes the next jobs.
    const flow = fetching !== null && entries.some(entry => entry?.hash.parentKey !== undefined)
    entries.forEach((entry, i) => {
      if (entry === null) return
      const queue = this.queueFor(entry.queue)
      const fetchNext = fetching !== null && !flow && entry.queue === fetching.queue && fetches < fetching.limit
      const scripts = fetchNext ? this.scriptsFetching(entry.queue, fetching.leaseMs, fetching.workerId) : queue.scripts
      const job = Job.fromJSON(queue, entry.hash as never, entry.jobId)
      // exactly what job.moveToCompleted(null, token, fetchNext) sends, for the whole batch in one call
      // BullMQ's own returnvalue field holds the result (its "null" for none, as BullMQ writes for a processor returning nothing)
      const item = items[i] as CompleteRequest
      const returnvalue = isNoResult(item.result) ? 'null' : JSON.stringify(item.result)
      calls.push(scripts.moveToCompletedArgs(job, returnvalue, job.opts.removeOnComplete as boolean, item.leaseToken, fetchNext))
      callOf.push({ at: i, queue, jobId: entry.jobId })
      if (fetchNext) fetches++
    })
    const target: FetchTarget | null = fetching === null || fetches === 0
      ? null
      : { ownBase: this.keys.own, queueBase: this.keys.queueBase(fetching.queue), queue: fetching.queue, leaseMs: fetching.leaseMs, workerId: fetching.workerId, handlers: fetching.handlers }
    const replied = calls.length === 0
      ? Promise.resolve([])
      : target === null ? runBatched(this.redis, 'moveToFinished', calls) : completeAndFetch(this.redis, target, calls)
    const done = (async () => {
      const fetched: FetchedJob[] = []
      try {
        const replies = await replied
        callOf.forEach(({ at, queue, jobId }, k) => {
          const reply = replies[k]
          if (!finishedOk(reply, queue, jobId, 'moveToFinished')) return
          outcomes[at] = 'ok'
          // [flat hash, next job id, 0, 0, lease expiry] when the ack took the next job
          if (Array.isArray(reply) && typeof reply[1] === 'string' && target !== null) {
            fetched.push([target.queue, reply[1], (items[at] as LeaseRef).leaseToken, reply[0] as string[], Number(reply[4])])
          }
        })
      } finally {
        for (const item of items) this.forget(item)
      }
      return { outcomes, fetched }
    })()
    return { fetching: fetches, done }
  }

  async failTasks (items: FailRequest[]): Promise<FailOutcome[]> {
    const [now, entries] = await Promise.all([this.now(), Promise.all(items.map(item => this.leaseEntry(item)))])
    const outcomes = new Array<FailOutcome>(items.length).fill('lease_lost')
    const readyAgain = new Set<string>()
    // each kind of failure is one BullMQ script, run for its whole group in one call
    const groups: Record<'moveToFinished' | 'retryJob' | 'moveToDelayed', { calls: unknown[][], of: Array<{ at: number, queue: Queue, queueName: string, jobId: string, outcome: FailOutcome }> }> = {
      moveToFinished: { calls: [], of: [] }, retryJob: { calls: [], of: [] }, moveToDelayed: { calls: [], of: [] }
    }
    entries.forEach((entry, i) => {
      if (entry === null) return
      const item = items[i] as FailRequest
      const queue = this.queueFor(entry.queue)
      const { scripts } = queue
      const job = Job.fromJSON(queue, entry.hash as never, entry.jobId)
      const message = String(item.error?.message ?? 'failed')
      const error = { attempt: job.attemptsStarted, message, at: now, ...(item.error?.stack === undefined ? {} : { stack: item.error.stack }) }
      const errors = [error, ...storedErrors(entry.hash)].slice(0, MAX_ERRORS)
      const stacktrace = [...(job.stacktrace ?? []), ...(item.error?.stack === undefined ? [] : [item.error.stack])].slice(-10)
      const fields: Record<string, string | number> = { failedReason: message, stacktrace: JSON.stringify(stacktrace), sye: JSON.stringify(errors), syu: now }
      const of = { at: i, queue, queueName: entry.queue, jobId: entry.jobId }
      if (item.retryDelayMs === null) {
        groups.moveToFinished.calls.push(scripts.moveToFailedArgs(job, message, job.opts.removeOnFail ?? false, item.leaseToken, false, fields))
        groups.moveToFinished.of.push({ ...of, outcome: 'dead' })
        return
      }
      fields.syra = now + item.retryDelayMs
      if (item.retryDelayMs === 0) {
        groups.retryJob.calls.push(scripts.retryJobArgs(entry.jobId, false, item.leaseToken, { fieldsToUpdate: fields }))
        groups.retryJob.of.push({ ...of, outcome: 'retrying' })
      } else {
        groups.moveToDelayed.calls.push(scripts.moveToDelayedArgs(entry.jobId, now, item.leaseToken, item.retryDelayMs, { fieldsToUpdate: fields, skipAttempt: false }))
        groups.moveToDelayed.of.push({ ...of, outcome: 'retrying' })
      }
    })
    try {
      await Promise.all(Object.entries(groups).map(async ([script, group]) => {
        if (group.calls.length === 0) return
        const replies = await runBatched(this.redis, script as BatchedScript, group.calls)
        const backoff: Array<{ queueName: string, jobId: string }> = []
        group.of.forEach(({ at, queue, queueName, jobId, outcome }, k) => {
          if (!finishedOk(replies[k], queue, jobId, script)) return
          outcomes[at] = outcome
          if (script === 'moveToDelayed') backoff.push({ queueName, jobId })
          if (script === 'retryJob') readyAgain.add(queueName)
        })
        await this.notifier.publish(readyAgain)
        if (backoff.length === 0) return
        // counts only: tells retrying apart from scheduled inside BullMQ's delayed set
        const mark = this.redis.pipeline()
        for (const { queueName, jobId } of backoff) mark.sadd(this.keys.retry(queueName), jobId)
        await mark.exec()
      }))
    } finally {
      for (const item of items) this.forget(item)
    }
    return outcomes
  }

  async extendLeases (items: LeaseRef[], leaseMs: number): Promise<Array<number | null>> {
    const refs = await this.resolveMany(items.map(i => i.id))
    return await Promise.all(items.map(async (item, i) => {
      const ref = refs[i]
      if (ref == null) return null
      const expires = await runTaskScript(this.redis, 'extend', [...this.taskArgs(ref), item.leaseToken, leaseMs])
      return expires === null ? null : Number(expires)
    }))
  }

  async setTaskProgress (items: ProgressRequest[]): Promise<AckOutcome[]> {
    const refs = await this.resolveMany(items.map(i => i.id))
    return await Promise.all(items.map(async (item, i): Promise<AckOutcome> => {
      const ref = refs[i]
      if (ref == null) return 'lease_lost'
      const stored = await runTaskScript(this.redis, 'progress', [...this.taskArgs(ref), item.leaseToken, JSON.stringify(item.progress)])
      return stored === 1 ? 'ok' : 'lease_lost'
    }))
  }

  async releaseTasks (items: LeaseRef[]): Promise<AckOutcome[]> {
    const refs = await this.resolveMany(items.map(i => i.id))
    const readyAgain = new Set<string>()
    const outcomes = await Promise.all(items.map(async (item, i): Promise<AckOutcome> => {
      const ref = refs[i]
      if (ref == null) return 'lease_lost'
      const released = await runTaskScript(this.redis, 'release', [...this.taskArgs(ref), item.leaseToken])
      this.forget(item)
      if (released !== 1) return 'lease_lost'
      readyAgain.add(ref.queue)
      return 'ok'
    }))
    await this.notifier.publish(readyAgain)
    return outcomes
  }

  async recoverExpiredLeases (limit: number): Promise<RecoveredLeases> {
    const result: RecoveredLeases = { requeued: [], dead: [] }
    let left = Math.min(limit, MAX_LIST_LIMIT)
    if (left === 0) return result
    const queues = await this.redis.smembers(this.keys.queues)
    for (const queue of queues) {
      if (left <= 0) break
      const [requeued, dead, , cascaded] = await runTaskScript(this.redis, 'recover', [this.keys.queueBase(queue), this.keys.own, queue, left]) as [string[], string[], number, unknown]
      this.cascades.report(cascadedTriples(cascaded))
      left -= requeued.length + dead.length
      result.requeued.push(...await this.taskIdsOf(queue, requeued))
      result.dead.push(...await this.taskIdsOf(queue, dead))
      if (requeued.length > 0) await this.notifier.publish([queue])
    }
    return result
  }

  async releaseWorkerLeases (req: ReleaseWorkerLeasesRequest): Promise<RecoveredLeases> {
    const result: RecoveredLeases = { requeued: [], dead: [] }
    let left = Math.min(req.limit, MAX_LIST_LIMIT)
    if (left === 0) return result
    const queues = await this.redis.smembers(this.keys.queues)
    for (const queue of queues) {
      if (left <= 0) break
      const [requeued, dead, cascaded] = await runTaskScript(this.redis, 'release-worker',
        [this.keys.queueBase(queue), this.keys.own, queue, left, req.workerId, req.dryRun === true ? 1 : 0]) as [string[], string[], unknown]
      this.cascades.report(cascadedTriples(cascaded))
      left -= requeued.length + dead.length
      result.requeued.push(...await this.taskIdsOf(queue, requeued))
      result.dead.push(...await this.taskIdsOf(queue, dead))
      if (requeued.length > 0 && req.dryRun !== true) await this.notifier.publish([queue])
    }
    return result
  }

  // --- operating on tasks ---------------------------------------------------------------------

  async cancelTask (id: string): Promise<CancelOutcome> {
    const ref = await this.resolve(id)
    if (ref === null) return { outcome: 'not_found' }
    const [outcome, state] = await runTaskScript(this.redis, 'cancel', this.taskArgs(ref)) as [string, unknown]
    if (outcome === 'canceled') {
      this.cascades.report(cascadedTriples(state))
      return { outcome: 'canceled' }
    }
    if (outcome === 'conflict') return { outcome: 'conflict', state: state as TaskState }
    return { outcome: 'not_found' }
  }

  /** core checked that exactly one of ids and filter is given */
  private async candidateIds (req: { ids?: string[], filter?: RequeueRequest['filter'] }): Promise<string[]> {
    if (req.ids !== undefined) return [...new Set(req.ids)]
    const { limit, ...filter } = req.filter as NonNullable<RequeueRequest['filter']>
    const page = await this.lister.list({ ...filter, limit, offset: 0 }, this.knownQueues(filter.queue), true)
    return page.tasks.map(t => t.id)
  }

  private async knownQueues (only?: string): Promise<string[]> {
    if (only !== undefined) return (await this.redis.sismember(this.keys.queues, only)) === 1 ? [only] : []
    return (await this.redis.smembers(this.keys.queues)).sort()
  }

  async requeueTasks (req: RequeueRequest): Promise<RequeueResult> {
    const target = req.queue === undefined ? null : assertQueueName('queue', req.queue)
    const payload = req.payload === undefined ? '' : JSON.stringify(req.payload)
    const ids = await this.candidateIds(req)
    const refs = await this.resolveMany(ids)
    const result: RequeueResult = { requeued: [], skipped: [] }
    const readyAgain = new Set<string>()
    for (const [i, id] of ids.entries()) {
      const ref = refs[i]
      if (ref == null) { result.skipped.push({ id, reason: 'not_found' }); continue }
      const to = target ?? ref.queue
      if (to !== ref.queue && parseForeignId(id) !== null) {
        throw Errors.validation(`queue: task ${id} was created by another BullMQ producer; moving it would change its id`, { details: { field: 'queue', id } })
      }
      const [outcome, state] = await runTaskScript(this.redis, 'requeue', [...this.taskArgs(ref), req.fromStates.join(','), req.dryRun === true ? '1' : '0', payload, to, this.keys.queueBase(to)]) as [string, TaskState | undefined]
      if (outcome === 'ok') {
        result.requeued.push(id)
        if (req.dryRun !== true) readyAgain.add(to)
      } else result.skipped.push(skip(id, outcome, state))
    }
    await this.notifier.publish(readyAgain)
    return result
  }

  async deleteTasks (req: DeleteRequest): Promise<DeleteResult> {
    const ids = await this.candidateIds(req)
    const refs = await this.resolveMany(ids)
    const result: DeleteResult = { deleted: [], skipped: [] }
    for (const [i, id] of ids.entries()) {
      const ref = refs[i]
      if (ref == null) { result.skipped.push({ id, reason: 'not_found' }); continue }
      const [outcome, state, cascaded] = await runTaskScript(this.redis, 'delete', [...this.taskArgs(ref), req.fromStates.join(','), req.dryRun === true ? '1' : '0']) as [string, TaskState | undefined, unknown]
      this.cascades.report(cascadedTriples(cascaded))
      if (outcome === 'ok') result.deleted.push(id)
      else result.skipped.push(skip(id, outcome, state))
    }
    return result
  }

  /** dependency cascades run inside the scripts (lua/deps.lua), which return what they finished */
  watchCascades (listener: (tasks: CascadedTask[]) => void): () => void {
    return this.cascades.watch(listener)
  }

  async applyTaskAction (req: TaskActionRequest): Promise<TaskActionResult> {
    return await applyTaskAction({
      redis: this.redis,
      backend: this,
      resolveMany: async (ids) => await this.resolveMany(ids),
      taskArgs: (ref) => this.taskArgs(ref),
      queueBase: (queue) => this.keys.queueBase(queue),
      publish: async (queues) => await this.notifier.publish(queues),
      assertQueueName,
      cascades: this.cascades
    }, req)
  }

  /** the direct links of each stored task named (lua/links.lua, lua/deps.lua); unknown ids are left out */
  async taskLinks (ids: string[]): Promise<TaskLinks[]> {
    const unique = [...new Set(ids)]
    const refs = await this.resolveMany(unique)
    const found = await Promise.all(unique.map(async (id, i): Promise<TaskLinks | null> => {
      const ref = refs[i]
      if (ref == null) return null
      const links = await runTaskScript(this.redis, 'links', [...this.taskArgs(ref), MAX_CHILD_LINKS]) as [TaskState, string, string, string[]] | null
      if (links === null) return null
      const [state, handler, parents, children] = links
      const parsed = parents === '' ? [] : JSON.parse(parents) as unknown
      return { id, queue: ref.queue, handler, state, parents: Array.isArray(parsed) ? parsed.map(String) : [], children: [...children].sort() }
    }))
    return found.filter((links): links is TaskLinks => links !== null)
  }

  async getTask (id: string): Promise<Task | null> {
    const ref = await this.resolve(id)
    if (ref === null) return null
    const found = await runTaskScript(this.redis, 'get', this.taskArgs(ref)) as [TaskState | 'unknown', string[], string | null] | null
    if (found === null) return null
    const [state, flat, score] = found
    if (state === 'unknown') return null
    return taskFromHash(id, ref.queue, state, hashFromFlat(flat), score == null ? null : Number(score))
  }

  async listTasks (req: ListTasksRequest): Promise<TaskPage> {
    return await this.lister.list(req, this.knownQueues(req.queue), false)
  }

  async dlqStats (): Promise<DLQStats> {
    return await this.lister.dlqStats(await this.knownQueues())
  }

  async pendingHandlers (req: PendingHandlersRequest): Promise<PendingHandler[]> {
    if (!Array.isArray(req.queues)) throw Errors.validation('queues: must be an array of queue names', { details: { field: 'queues' } })
    if (!Number.isInteger(req.limit) || req.limit < 0) throw Errors.validation('limit: must be an integer >= 0', { details: { field: 'limit' } })
    const queues = req.queues.filter(queue => typeof queue === 'string' && queue.length > 0 && !queue.includes(':'))
    const limit = Math.min(req.limit, MAX_LIST_LIMIT)
    if (limit === 0 || queues.length === 0) return []
    return await this.pendingOf(queues, limit)
  }

  /** pending pairs of `queues` (none: every registered queue), at most `limit` */
  private async pendingOf (queues: string[], limit: number): Promise<PendingHandler[]> {
    const flat = await runPlainScript(this.redis, 'pending-handlers', [], [`${this.options.prefix}:`, this.keys.own, limit, PENDING_SCAN_PER_STRUCTURE, PENDING_SCAN_BUDGET, ...queues]) as string[]
    const out: PendingHandler[] = []
    for (let i = 0; i < flat.length; i += 2) out.push({ queue: flat[i] as string, handler: flat[i + 1] as string })
    return out
  }

  /**
   * Every read of the overview issued at once on the one connection: ioredis writes
   * them back to back without waiting, so they are answered together (one round trip
   * of waiting; a second only for leader locks or an event page spanning batches).
   */
  async readOverview (req: OverviewReadRequest): Promise<OverviewRead> {
    const pendingLimit = Math.min(req.pendingLimit, MAX_LIST_LIMIT)
    const [queues, workers, coordination, pending, events] = await Promise.all([
      this.queueStats(),
      this.listWorkers(),
      this.getCoordinationState(),
      pendingLimit === 0 ? Promise.resolve([]) : this.pendingOf([], pendingLimit),
      req.events === null ? Promise.resolve([]) : this.readEvents(req.events)
    ])
    return { queues, workers, coordination, pending, events }
  }

  async pruneFinished (req: PruneRequest): Promise<number> {
    // as many as retention's largest batch, so a full batch always means there may be more
    let left = Math.min(req.limit, MAX_PRUNE_PER_CALL)
    const cutoff = (await this.now()) - req.finishedOlderThanMs
    let removed = 0
    for (const queue of await this.knownQueues()) {
      if (left <= 0) break
      // BullMQ scores finished jobs by their finish time, and so does the canceled set
      const set = req.state === 'succeeded' ? this.keys.queueKey(queue, 'completed') : req.state === 'dead' ? this.keys.queueKey(queue, 'failed') : this.keys.canceled(queue)
      const jobIds = await this.redis.zrangebyscore(set, '-inf', `(${cutoff}`, 'LIMIT', 0, left)
      if (jobIds.length === 0) continue
      // one script per job, sent together: each removes the job and its index entry (freeing its idempotency key)
      const outcomes = await Promise.all(jobIds.map(async jobId =>
        await runTaskScript(this.redis, 'delete', [...this.taskArgs({ queue, jobId }), req.state, '0']) as [string, TaskState | undefined]))
      removed += outcomes.filter(([outcome]) => outcome === 'ok').length
      // an id whose job hash is gone (removed by other BullMQ code) would otherwise be picked first on every pass
      const orphans = jobIds.filter((_, i) => outcomes[i]?.[0] === 'not_found')
      if (orphans.length > 0) await this.redis.zrem(set, ...orphans)
      left -= jobIds.length
    }
    return removed
  }

  // --- queues ------------------------------------------------------------------------------------

  async queueStats (names?: string[]): Promise<QueueStats[]> {
    // two scripts sent together (one round trip): registered queues only, O(queues)
    const [stats, flow] = await Promise.all([
      this.lister.queueStats(names?.filter(n => typeof n === 'string' && n.length > 0 && !n.includes(':'))),
      this.flowState()
    ])
    for (const q of stats) q.throttled = flow.throttledByQueue.get(q.name) ?? 0
    return stats
  }

  // --- flow control (lua/flow.lua) -----------------------------------------------------------------

  private async flowState (): Promise<{ limits: FlowLimitState[], throttledByQueue: Map<string, number> }> {
    const [flat, perQueue] = await runPlainScript(this.redis, 'flow-list', [], [`${this.keys.prefix}:`, this.keys.own]) as [Array<string | number>, Array<string | number>]
    const limits: FlowLimitState[] = []
    for (let i = 0; i < flat.length; i += 7) {
      const [concurrency, rate, windowMs] = String(flat[i + 2]).split(':').map(v => v === '' ? null : Number(v))
      limits.push({
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
    limits.sort((a, b) => a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    const throttledByQueue = new Map<string, number>()
    for (let i = 0; i < perQueue.length; i += 2) throttledByQueue.set(String(perQueue[i]), Number(perQueue[i + 1]))
    return { limits: limits.slice(0, MAX_LIST_LIMIT), throttledByQueue }
  }

  async setFlowLimit (scope: FlowScope, limit: FlowLimit): Promise<void> {
    const spec = `${limit.concurrency ?? ''}:${limit.rate?.limit ?? ''}:${limit.rate?.windowMs ?? ''}`
    await runPlainScript(this.redis, 'flow-set', [], [this.keys.own, `${scope.kind}:${scope.name}`, spec])
  }

  async clearFlowLimit (scope: FlowScope): Promise<boolean> {
    const key = `${scope.kind}:${scope.name}`
    const [[, removed]] = await this.redis.multi().hdel(`${this.keys.own}fl`, key).hdel(`${this.keys.own}fw`, key).exec() as [[unknown, number], unknown]
    return removed === 1
  }

  async listFlowLimits (): Promise<FlowLimitState[]> {
    return (await this.flowState()).limits
  }

  async ensureQueues (names: string[]): Promise<void> {
    if (names.length === 0) return
    names.forEach((name, i) => assertQueueName(`names[${i}]`, name))
    await this.redis.sadd(this.keys.queues, ...names)
  }

  async setQueueWeight (name: string, weight: number | null): Promise<void> {
    assertQueueName('name', name)
    if (weight === null) {
      await this.redis.hdel(this.keys.weights, name)
      return
    }
    await this.redis.multi().sadd(this.keys.queues, name).hset(this.keys.weights, name, weight).exec()
  }

  async setQueuePaused (name: string, paused: boolean): Promise<void> {
    assertQueueName('name', name)
    await this.redis.sadd(this.keys.queues, name)
    const queue = this.queueFor(name)
    // BullMQ's pause is durable (meta "paused" + the paused list) and stops plain BullMQ workers too
    if (paused) await queue.pause()
    else await queue.resume()
  }

  // --- coordination, workers, events, audit --------------------------------------------------------

  setGlobalPause (paused: boolean): Promise<void> { return this.own.setGlobalPause(paused) }
  getCoordinationState (): Promise<CoordinationState> { return this.own.coordinationState() }
  acquireLeader (name: string, holder: string, ttlMs: number): Promise<LeaderAcquireResult> { return this.own.acquireLeader(name, holder, ttlMs) }
  releaseLeader (name: string, holder: string, token: number): Promise<boolean> { return this.own.releaseLeader(name, holder, token) }
  setRateLimit (limit: RateLimit | null): Promise<void> { return this.own.setRateLimit(limit) }
  takeRatePermits (n: number): Promise<number> { return this.own.takeRatePermits(n) }
  heartbeatWorker (info: WorkerInfo, ttlMs: number): Promise<WorkerHeartbeat> { return this.own.heartbeatWorker(info, ttlMs) }
  listWorkers (options?: ListWorkersOptions): Promise<WorkerInfo[]> { return this.own.listWorkers(options) }
  removeWorker (id: string): Promise<void> { return this.own.removeWorker(id) }
  setWorkerCordoned (id: string, cordoned: boolean): Promise<boolean> { return this.own.setWorkerCordoned(id, cordoned) }
  sweepWorkers (req: SweepWorkersRequest): Promise<WorkerInfo[]> { return this.own.sweepWorkers(req) }
  appendEvents (events: EventInput[]): Promise<StoredEvent[]> { return this.own.appendEvents(events) }
  readEvents (req: ReadEventsRequest): Promise<StoredEvent[]> { return this.own.readEvents(req) }
  readEventsNewestFirst (req: ReadEventsBackwardRequest): Promise<StoredEvent[]> { return this.own.readEventsNewestFirst(req) }
  subscribeEvents (listener: () => void): Promise<() => Promise<void>> { return this.own.subscribeEvents(listener) }
  subscribeWork (listener: (queue: string) => void): Promise<Unsubscribe> { return this.notifier.subscribe(listener) }
  /** capability pushDelivery: see push-delivery.ts and lua/lib/push.lua */
  awaitPushedTasks (req: PushWaitRequest): Promise<LeasedTask[]> { return this.pushWaits.wait(req) }
  appendAudit (event: AuditInput): Promise<AuditEvent> { return this.own.appendAudit(event) }
  listAudit (req: ListAuditRequest): Promise<AuditEvent[]> { return this.own.listAudit(req) }
  pruneAudit (req: { maxCount?: number, maxAgeMs?: number }): Promise<number> { return this.own.pruneAudit(req) }
  putRecord (collection: string, key: string, value: unknown, options?: PutRecordOptions): Promise<PutRecordResult> { return this.records.put(collection, key, value, options) }
  getRecord (collection: string, key: string): Promise<StoredRecord | null> { return this.records.get(collection, key) }
  listRecords (collection: string, req: ListRecordsRequest): Promise<StoredRecord[]> { return this.records.list(collection, req) }
  deleteRecord (collection: string, key: string, options?: { ifVersion?: number }): Promise<boolean> { return this.records.delete(collection, key, options) }
  claimOnce (key: string, ttlMs: number): Promise<boolean> { return this.records.claimOnce(key, ttlMs) }

  /** deletes every key under this backend's prefix (tests and `switchyard` teardown of a scratch prefix) */
  async destroyAllData (): Promise<void> {
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.options.prefix}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await this.redis.unlink(...keys)
    } while (cursor !== '0')
  }
}

function skip (id: string, outcome: string, state: TaskState | undefined): SkippedTask {
  if (outcome === 'not_found') return { id, reason: 'not_found' }
  return state === undefined ? { id, reason: 'wrong_state' } : { id, reason: 'wrong_state', state }
}

