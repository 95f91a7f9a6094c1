import type { Redis } from 'ioredis'
import { Errors, MAX_LIST_LIMIT, hasTimeWindow, taskInWindow, type DLQStats, type ListTasksRequest, type QueueStats, type Task, type TaskPage, type TaskState } from '@switchyard/core'
import type { Keys } from './keys.ts'
import { matchesQuery, taskFromHash } from './task-view.ts'
import { runPlainScript } from './scripts.ts'

// Listing and counting over BullMQ's structures. Every state lives in one list or
// sorted set per queue, so counts are one LLEN/ZCARD each (one script for every queue)
// and a page of one state in one queue is a range read. Handler and text filters have
// no index in BullMQ: they examine at most `scanLimit` jobs per structure. Ready jobs
// a lease parked (handler-filter.lua) are one more ready structure: the parked sets of
// a queue, read together in score order.

type Structure = 'active' | 'wait' | 'paused' | 'prioritized' | 'parked' | 'delayed' | 'completed' | 'failed' | 'canceled' | 'blocked'

const STRUCTURES_OF: Record<TaskState, Structure[]> = {
  processing: ['active'],
  ready: ['wait', 'paused', 'prioritized', 'parked'],
  scheduled: ['delayed'],
  retrying: ['delayed'],
  succeeded: ['completed'],
  dead: ['failed'],
  canceled: ['canceled'],
  // jobs waiting for their parent tasks, in Switchyard's own set (lua/deps.lua)
  blocked: ['blocked']
}
const ALL_STRUCTURES: Structure[] = ['active', 'wait', 'paused', 'prioritized', 'parked', 'delayed', 'completed', 'failed', 'canceled', 'blocked']
const FINISHED_STRUCTURES = new Set<Structure>(['completed', 'failed', 'canceled'])
const STATE_OF: Partial<Record<Structure, TaskState>> = {
  active: 'processing', wait: 'ready', paused: 'ready', prioritized: 'ready', parked: 'ready', completed: 'succeeded', failed: 'dead', canceled: 'canceled', blocked: 'blocked'
}
/** largest offset honoured by lists that merge several structures */
const MAX_MERGE_WINDOW = 20_000
/** delayed jobs one delayed-page.lua call examines: bounds how long one call holds Redis */
const DELAYED_EXAMINED_PER_CALL = 5000

interface Candidate { queue: string, structure: Structure, jobId: string, score: number | null, seq: number }
interface Counted { counts: Record<Structure | 'retrying', number>, weight: number | null, paused: boolean }

export class TaskLister {
  constructor (
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly scanLimit: number,
    private readonly taskIdsOf: (queue: string, jobIds: string[]) => Promise<string[]>
  ) {}

  private structureKey (queue: string, structure: Structure): string {
    if (structure === 'blocked') return this.keys.blocked(queue)
    return structure === 'canceled' ? this.keys.canceled(queue) : this.keys.queueKey(queue, structure)
  }

  /**
   * Counts of the named queues that are registered (in the order named), or of every
   * registered queue when `names` is undefined: one script call (queue-counts.lua).
   */
  async countQueues (names?: string[]): Promise<Array<Counted & { name: string }>> {
    if (names !== undefined && names.length === 0) return []
    const flat = await runPlainScript(this.redis, 'queue-counts', [], [`${this.keys.prefix}:`, this.keys.own, ...(names ?? [])]) as Array<string | number>
    const out: Array<Counted & { name: string }> = []
    for (let i = 0; i < flat.length; i += 14) {
      const [active, wait, paused, prioritized, delayed, completed, failed, canceled, retrying, isPaused] = flat.slice(i + 1, i + 11).map(Number) as [number, number, number, number, number, number, number, number, number, number]
      const weight = flat[i + 11]
      const parked = Number(flat[i + 12])
      const blocked = Number(flat[i + 13])
      out.push({
        name: String(flat[i]),
        counts: { active, wait, paused, prioritized, parked, delayed, completed, failed, canceled, retrying, blocked },
        weight: weight === '' || weight === undefined ? null : Number(weight),
        paused: isPaused === 1
      })
    }
    return out
  }

  private async counts (queues: string[]): Promise<Counted[]> {
    const byName = new Map((await this.countQueues(queues)).map(c => [c.name, c]))
    const none = { active: 0, wait: 0, paused: 0, prioritized: 0, parked: 0, delayed: 0, completed: 0, failed: 0, canceled: 0, retrying: 0, blocked: 0 }
    return queues.map(name => byName.get(name) ?? { counts: { ...none }, weight: null, paused: false })
  }

  /** stats of the named queues that are registered, or of every registered queue, by name */
  async queueStats (names?: string[]): Promise<QueueStats[]> {
    const counted = await this.countQueues(names)
    return counted.map(({ name, counts: c, weight, paused }) => ({
      name,
      ready: c.wait + c.paused + c.prioritized + c.parked,
      scheduled: c.delayed - c.retrying,
      processing: c.active,
      retrying: c.retrying,
      dead: c.failed,
      succeeded: c.completed,
      canceled: c.canceled,
      blocked: c.blocked,
      weight,
      paused
    })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async dlqStats (queues: string[]): Promise<DLQStats> {
    const stats: DLQStats = { total: 0, byQueue: {}, byHandler: {}, oldestFailedAt: null, newestFailedAt: null }
    if (queues.length === 0) return stats
    // one MULTI (atomic, so the kept counts and the failed set are read at one moment)
    const multi = this.redis.multi()
    for (const queue of queues) {
      const failed = this.keys.queueKey(queue, 'failed')
      multi.zcard(failed).zrange(failed, 0, 0, 'WITHSCORES').zrange(failed, -1, -1, 'WITHSCORES').hgetall(this.keys.deadByHandler(queue))
    }
    const replies = ((await multi.exec()) ?? []).map(([err, value]) => { if (err !== null) throw err; return value })
    let budget = this.scanLimit
    for (const [i, queue] of queues.entries()) {
      const count = Number(replies[i * 4])
      if (count === 0) continue
      stats.total += count
      stats.byQueue[queue] = count
      const oldest = Number((replies[i * 4 + 1] as string[])[1])
      const newest = Number((replies[i * 4 + 2] as string[])[1])
      stats.oldestFailedAt = stats.oldestFailedAt === null ? oldest : Math.min(stats.oldestFailedAt, oldest)
      stats.newestFailedAt = stats.newestFailedAt === null ? newest : Math.max(stats.newestFailedAt, newest)
      // Switchyard's kept counts of dead jobs by name (lua/lib/kept-counts.lua): exact
      // while they add up to the failed set's size, which they do unless other BullMQ
      // code failed or removed jobs of this queue
      const kept = Object.entries(replies[i * 4 + 3] as Record<string, string>).map(([name, n]) => [name, Number(n)] as const)
      if (kept.reduce((sum, [, n]) => sum + n, 0) === count) {
        for (const [name, n] of kept) if (n > 0) stats.byHandler[name] = (stats.byHandler[name] ?? 0) + n
        continue
      }
      if (budget <= 0) continue
      // otherwise the newest dead jobs, up to the scan limit, are counted
      const jobIds = await this.redis.zrevrange(this.keys.queueKey(queue, 'failed'), 0, Math.min(count, budget) - 1)
      budget -= jobIds.length
      const names = this.redis.pipeline()
      for (const jobId of jobIds) names.hget(this.keys.queueBase(queue) + jobId, 'name')
      for (const [, name] of (await names.exec()) ?? []) {
        if (typeof name === 'string') stats.byHandler[name] = (stats.byHandler[name] ?? 0) + 1
      }
    }
    return stats
  }

  async list (req: ListTasksRequest, queuesPromise: Promise<string[]>, oldestFirst: boolean): Promise<TaskPage> {
    const limit = Math.min(Math.max(0, Math.trunc(req.limit)), MAX_LIST_LIMIT)
    const after = req.after === undefined ? null : parsePosition(req.after)
    const offset = after === null ? Math.max(0, Math.trunc(req.offset)) : 0
    const queues = await queuesPromise
    // handler, text, time-window, tenant and correlation filters are checked per job (the window in the same predicate as the others)
    const filtered = (req.handler !== undefined && req.handler !== '') || (req.query !== undefined && req.query !== '') || hasTimeWindow(req) ||
      req.tenant !== undefined || req.correlationId !== undefined
    const counted = await this.counts(queues)
    const structures = req.state === undefined ? ALL_STRUCTURES : STRUCTURES_OF[req.state]
    // handler and text filters have no counters: they are counted by examining every
    // candidate job, which is done only while the candidates fit in the scan limit
    const candidates = counted.reduce((sum, { counts: c }) => sum + structures.reduce((n, s) => n + c[s], 0), 0)
    const countedByScan = filtered && candidates <= this.scanLimit
    const total = filtered ? null : counted.reduce((sum, { counts: c }) => sum + countOf(c, req.state), 0)
    if (queues.length === 0 || (limit === 0 && !countedByScan)) return { tasks: [], total: countedByScan ? 0 : total }
    // parked jobs interleave with prioritized ones by score: a page of ready jobs with parked ones is merged
    const parkedToo = req.state === 'ready' && (counted[0]?.counts.parked ?? 0) > 0
    // one structure of one queue is a range read; ready and processing structures are
    // lists in run order, not the list's sort key, so those go through the merge, which
    // sorts by the key the page positions continue
    if (after === null && !filtered && queues.length === 1 && req.state !== undefined && FINISHED_STATES.has(req.state) && !parkedToo) {
      // one row past the page tells whether another page follows
      const tasks = await this.pageOfOne(queues[0] as string, req.state, offset, limit + 1, oldestFirst)
      return withNext({ tasks: tasks.slice(0, limit), total }, tasks, limit, req.state, oldestFirst)
    }
    if (offset > MAX_MERGE_WINDOW) throw Errors.validation(`offset: at most ${MAX_MERGE_WINDOW} when listing across states or queues`, { details: { field: 'offset' } })
    const found: Candidate[] = []
    // Whether a structure may hold more candidates than were read: a page after a
    // position that comes up short then cannot tell the list ended (see below).
    let cut = false
    if (!filtered && after === null && (req.state === 'scheduled' || req.state === 'retrying')) {
      for (const queue of queues) found.push(...await this.delayedOf(queue, req.state, offset + limit + 1))
    } else {
      // a structure's range order is its run order, not creation order: without a state
      // (newest first), with a filter or after a position, each structure is examined
      // up to the scan limit; finished structures are scored by the finish time, so
      // after a position their range starts at its time, however deep
      const whole = filtered || req.state === undefined || after !== null || !FINISHED_STATES.has(req.state)
      const window = whole ? Math.max(this.scanLimit, offset + limit + 1) : offset + limit + 1
      const finishedFrom = after !== null && req.state !== undefined && FINISHED_STATES.has(req.state) && !oldestFirst ? -after[0] : null
      for (const queue of queues) {
        for (const structure of structures) {
          const part = finishedFrom !== null && FINISHED_STRUCTURES.has(structure)
            ? await this.finishedUpTo(queue, structure, finishedFrom, window)
            : await this.range(queue, structure, 0, window, oldestFirst)
          if (part.length >= window) cut = true
          found.push(...part)
        }
      }
    }
    let tasks = await this.load(found)
    if (req.state !== undefined) tasks = tasks.filter(t => t.task.state === req.state)
    if (req.handler !== undefined && req.handler !== '') tasks = tasks.filter(t => t.task.handler === req.handler)
    if (req.query !== undefined && req.query !== '') tasks = tasks.filter(t => matchesQuery(t.task, req.query as string))
    if (hasTimeWindow(req)) tasks = tasks.filter(t => taskInWindow(t.task, req))
    if (req.tenant !== undefined) tasks = tasks.filter(t => t.task.tenant === req.tenant)
    if (req.correlationId !== undefined) tasks = tasks.filter(t => t.task.correlationId === req.correlationId)
    const matching = tasks.length
    tasks.sort(orderFor(req.state, oldestFirst))
    if (after !== null) {
      const desc = descendingIds(req.state, oldestFirst)
      tasks = tasks.filter(t => compareKeys(sortKey(req.state, oldestFirst, t.task), after, desc) > 0)
      if (cut && tasks.length <= limit) {
        throw Errors.validation(`cursor: past the ${Math.max(this.scanLimit, limit + 1)} tasks per structure the BullMQ backend examines for this list; narrow the filter (a state and a queue)`, { details: { field: 'cursor' } })
      }
    }
    const page = tasks.slice(offset, offset + limit + 1).map(t => t.task)
    return withNext({ tasks: page.slice(0, limit), total: countedByScan ? matching : total }, page, limit, req.state, oldestFirst)
  }

  /** finished jobs of one structure from a finish time down (newest first), at most `count` */
  private async finishedUpTo (queue: string, structure: Structure, finishedAt: number, count: number): Promise<Candidate[]> {
    const flat = await this.redis.zrevrangebyscore(this.structureKey(queue, structure), finishedAt, '-inf', 'WITHSCORES', 'LIMIT', 0, count)
    const out: Candidate[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const jobId = flat[i] as string
      if (!jobId.startsWith('0:')) out.push({ queue, structure, jobId, score: Number(flat[i + 1]), seq: out.length })
    }
    return out
  }

  /**
   * The first `wanted` jobs of one state among a queue's delayed jobs, in run order.
   * Scheduled and retrying jobs share BullMQ's delayed set, so a range of it is not a
   * page of either: the set is walked (delayed-page.lua, bounded per call) until enough
   * jobs of the state are found or it ends.
   */
  private async delayedOf (queue: string, state: 'scheduled' | 'retrying', wanted: number): Promise<Candidate[]> {
    const out: Candidate[] = []
    let position = 0
    while (position >= 0 && out.length < wanted) {
      const [next, ...flat] = await runPlainScript(this.redis, 'delayed-page', [],
        [this.keys.queueKey(queue, 'delayed'), this.keys.queueBase(queue), state, position, wanted - out.length, DELAYED_EXAMINED_PER_CALL]) as [number, ...string[]]
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ queue, structure: 'delayed', jobId: flat[i] as string, score: Number(flat[i + 1]), seq: out.length })
      position = Number(next)
    }
    return out
  }

  /** one state of one queue: its structures read back to back, in run or finish order */
  private async pageOfOne (queue: string, state: TaskState, offset: number, limit: number, oldestFirst: boolean): Promise<Task[]> {
    const structures = STRUCTURES_OF[state]
    const lengths = await this.redis.multi(structures.map(s => [s === 'prioritized' || s === 'parked' || s === 'completed' || s === 'failed' || s === 'canceled' || s === 'blocked' ? 'zcard' : 'llen', this.structureKey(queue, s)])).exec()
    const candidates: Candidate[] = []
    let skip = offset
    let want = limit
    for (const [i, structure] of structures.entries()) {
      const length = Number(lengths?.[i]?.[1] ?? 0)
      if (skip >= length) { skip -= length; continue }
      const part = await this.range(queue, structure, skip, Math.min(want, length - skip), oldestFirst)
      candidates.push(...part)
      want -= part.length
      skip = 0
      if (want <= 0) break
    }
    return (await this.load(candidates)).map(t => t.task)
  }

  /** `count` ids of one structure from `start`, in the order the structure serves them */
  private async range (queue: string, structure: Structure, start: number, count: number, oldestFirst: boolean): Promise<Candidate[]> {
    if (count <= 0) return []
    if (structure === 'parked') return await this.parkedRange(queue, start, count)
    const key = this.structureKey(queue, structure)
    const end = start + count - 1
    let ids: string[]
    let scores: Array<number | null>
    if (structure === 'active' || structure === 'wait' || structure === 'paused') {
      // BullMQ pushes on the left and takes from the right: the right end runs first
      ids = structure === 'active' ? await this.redis.lrange(key, start, end) : (await this.redis.lrange(key, -end - 1, -start - 1)).reverse()
      scores = ids.map(() => null)
    } else {
      const newestFirst = FINISHED_STRUCTURES.has(structure) && !oldestFirst
      const flat = newestFirst ? await this.redis.zrevrange(key, start, end, 'WITHSCORES') : await this.redis.zrange(key, start, end, 'WITHSCORES')
      ids = []
      scores = []
      for (let i = 0; i + 1 < flat.length; i += 2) { ids.push(flat[i] as string); scores.push(Number(flat[i + 1])) }
    }
    return ids.filter(id => !id.startsWith('0:')).map((jobId, i) => ({ queue, structure, jobId, score: scores[i] ?? null, seq: start + i }))
  }

  /** `count` parked jobs of one queue from `start`, in run order across its parked sets */
  private async parkedRange (queue: string, start: number, count: number): Promise<Candidate[]> {
    const names = await this.redis.smembers(this.keys.parkedNames(queue))
    if (names.length === 0) return []
    const pipeline = this.redis.pipeline()
    for (const name of names) pipeline.zrange(this.keys.parked(queue, name), 0, start + count - 1, 'WITHSCORES')
    const merged: Array<{ jobId: string, score: number }> = []
    for (const [err, flat] of (await pipeline.exec()) ?? []) {
      if (err !== null) throw err
      const list = flat as string[]
      for (let i = 0; i + 1 < list.length; i += 2) merged.push({ jobId: list[i] as string, score: Number(list[i + 1]) })
    }
    merged.sort((a, b) => a.score - b.score || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
    return merged.slice(start, start + count).map((c, i) => ({ queue, structure: 'parked', jobId: c.jobId, score: c.score, seq: start + i }))
  }

  private async load (candidates: Candidate[]): Promise<Array<{ task: Task, candidate: Candidate }>> {
    const out: Array<{ task: Task, candidate: Candidate }> = []
    for (let i = 0; i < candidates.length; i += 1000) {
      const chunk = candidates.slice(i, i + 1000)
      const pipeline = this.redis.pipeline()
      for (const c of chunk) pipeline.hgetall(this.keys.queueBase(c.queue) + c.jobId)
      const hashes = (await pipeline.exec()) ?? []
      const byQueue = new Map<string, string[]>()
      for (const c of chunk) byQueue.set(c.queue, [...(byQueue.get(c.queue) ?? []), c.jobId])
      const taskIds = new Map<string, string>()
      for (const [queue, jobIds] of byQueue) {
        const ids = await this.taskIdsOf(queue, jobIds)
        jobIds.forEach((jobId, j) => taskIds.set(`${queue}\n${jobId}`, ids[j] as string))
      }
      chunk.forEach((c, j) => {
        const hash = hashes[j]?.[1] as Record<string, string> | undefined
        if (hash === undefined || Object.keys(hash).length === 0) return
        const state = STATE_OF[c.structure] ?? (Number(hash.ats ?? 0) > 0 ? 'retrying' : 'scheduled')
        const id = taskIds.get(`${c.queue}\n${c.jobId}`) as string
        out.push({ task: taskFromHash(id, c.queue, state, hash, c.structure === 'delayed' ? c.score : null), candidate: c })
      })
    }
    return out
  }
}

function countOf (c: Counted['counts'], state: TaskState | undefined): number {
  switch (state) {
    case undefined: return c.active + c.wait + c.paused + c.prioritized + c.parked + c.delayed + c.completed + c.failed + c.canceled + c.blocked
    case 'processing': return c.active
    case 'ready': return c.wait + c.paused + c.prioritized + c.parked
    case 'scheduled': return c.delayed - c.retrying
    case 'retrying': return c.retrying
    case 'succeeded': return c.completed
    case 'dead': return c.failed
    case 'canceled': return c.canceled
    case 'blocked': return c.blocked
  }
}

type Ordered = { task: Task, candidate: Candidate }

const FINISHED_STATES = new Set<TaskState>(['succeeded', 'dead', 'canceled'])

/** the page, with the position of its last task when `fetched` (the page plus one) shows more follow */
function withNext (page: TaskPage, fetched: Task[], limit: number, state: TaskState | undefined, oldestFirst: boolean): TaskPage {
  const last = fetched[limit - 1]
  if (fetched.length > limit && last !== undefined) page.next = formatPosition(sortKey(state, oldestFirst, last))
  return page
}

/**
 * The sort key of a task in a list of this state, ending in the id so the order is
 * total (a page position is the key of its last task): finished states latest finish
 * first, ready by priority then age, scheduled and retrying by run time, else newest
 * first. Each number is negated where the list runs descending, so keys always
 * compare ascending.
 */
function sortKey (state: TaskState | undefined, oldestFirst: boolean, task: Task): PositionKey {
  const dir = oldestFirst ? 1 : -1
  switch (state) {
    case 'succeeded': case 'dead': case 'canceled': return [dir * (task.finishedAt ?? 0), 0, task.id]
    case 'ready': return [-task.priority, task.createdAt, task.id]
    case 'scheduled': case 'retrying': return [task.runAt, 0, task.id]
    default: return [dir * task.createdAt, 0, task.id]
  }
}

function compareKeys (a: PositionKey, b: PositionKey, descIds: boolean): number {
  const byId = a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0
  return (a[0] - b[0]) || (a[1] - b[1]) || (descIds ? -byId : byId)
}

/** newest-first and latest-finished lists break ties by id descending, run-order lists ascending */
function descendingIds (state: TaskState | undefined, oldestFirst: boolean): boolean {
  return !oldestFirst && state !== 'ready' && state !== 'scheduled' && state !== 'retrying'
}

function orderFor (state: TaskState | undefined, oldestFirst: boolean): (a: Ordered, b: Ordered) => number {
  const desc = descendingIds(state, oldestFirst)
  return (a, b) => compareKeys(sortKey(state, oldestFirst, a.task), sortKey(state, oldestFirst, b.task), desc)
}

type PositionKey = [number, number, string]

const POSITION_MAX_ID = 256

/** a page position: the sort key of the last task of a page, as JSON */
function formatPosition (key: PositionKey): string {
  return JSON.stringify(key)
}

function parsePosition (text: string): PositionKey {
  let key: unknown
  try { key = JSON.parse(text) } catch { key = null }
  if (!Array.isArray(key) || key.length !== 3 || !Number.isFinite(key[0]) || !Number.isFinite(key[1]) || typeof key[2] !== 'string' || key[2] === '' || key[2].length > POSITION_MAX_ID) {
    throw Errors.validation('cursor: not a position of this task list (pass nextCursor back unchanged)', { details: { field: 'cursor' } })
  }
  return key as PositionKey
}
