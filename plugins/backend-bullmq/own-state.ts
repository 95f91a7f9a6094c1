import type { Redis } from 'ioredis'
import {
  Errors, MAX_LIST_LIMIT,
  type AuditEvent, type AuditInput, type CoordinationState, type EventInput, type LeaderAcquireResult, type LeaderLock,
  type ListAuditRequest, type RateLimit, type ReadEventsRequest, type ReadEventsBackwardRequest, type StoredEvent, type WorkerInfo,
  WORKER_RETENTION_MS, type ListWorkersOptions, type SweepWorkersRequest, type WorkerHeartbeat
} from '@switchyard/core'
import type { Keys } from './keys.ts'
import { runPlainScript } from './scripts.ts'

// What BullMQ has no notion of (global pause, rate limit, leader locks, worker
// registry, event log, audit) lives in Switchyard's own keys beside the queues.
// Events and audit are Redis streams: stream ids are time-ordered on the Redis
// clock and strictly increasing, which is what SSE resumption needs. Events are
// stored a batch per entry (see append-events.lua), so an event's id is its entry's
// id and its place in the batch.

// limits arrive checked by core (non-negative integers); lists are clamped here
const clampLimit = (limit: number): number => Math.min(limit, MAX_LIST_LIMIT)
const timeOfStreamId = (id: string): number => Number(id.slice(0, id.indexOf('-')))
const STREAM_ID = /^\d+-\d+$/
/** an event's id: its batch's stream entry and its place in the batch */
const EVENT_ID = /^(\d+-\d+):(\d+)$/

/** a registry entry of the workers script's reply at i: info JSON, heartbeat (Redis clock), cordon flag */
function workerFrom (flat: Array<string | number>, i: number): WorkerInfo {
  const info = JSON.parse(String(flat[i])) as WorkerInfo
  // a worker of an older version reports no handler set; one that beat before the
  // heartbeat hash existed has only the time it reported itself
  const beat = Number(flat[i + 1])
  return { ...info, handlers: Array.isArray(info.handlers) ? info.handlers : [], lastHeartbeatAt: beat > 0 ? beat : info.lastHeartbeatAt, cordoned: flat[i + 2] === 1 }
}

function parseEventId (field: string, id: string): { entry: string, index: number } {
  const m = EVENT_ID.exec(id)
  if (m === null) throw Errors.validation(`${field}: not an event id this backend issued`, { details: { field } })
  return { entry: m[1] as string, index: Number(m[2]) }
}

function assertStreamId (field: string, id: string): void {
  if (!STREAM_ID.test(id)) throw Errors.validation(`${field}: not an id this backend issued`, { details: { field } })
}

export class OwnState {
  constructor (
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly limits: { maxEvents: number, maxAudit: number }
  ) {}

  // --- coordination --------------------------------------------------------------
  async setGlobalPause (paused: boolean): Promise<void> {
    if (paused) await this.redis.set(this.keys.globalPause, '1')
    else await this.redis.del(this.keys.globalPause)
  }

  async isGloballyPaused (): Promise<boolean> {
    return (await this.redis.exists(this.keys.globalPause)) === 1
  }

  async coordinationState (): Promise<CoordinationState> {
    const [paused, rate, names] = await Promise.all([
      this.isGloballyPaused(),
      this.redis.hmget(this.keys.rateLimit, 'limit', 'windowMs'),
      this.redis.srandmember(this.keys.leaders, 1000)
    ])
    const leaders: LeaderLock[] = []
    if (names.length > 0) {
      const pipeline = this.redis.pipeline()
      for (const name of names) pipeline.hmget(this.keys.leader(name), 'holder', 'token', 'expiresAt')
      pipeline.time()
      const replies = (await pipeline.exec()) ?? []
      const [seconds, micros] = replies[replies.length - 1]?.[1] as [string, string]
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      names.forEach((name, i) => {
        const [holder, token, expiresAt] = replies[i]?.[1] as Array<string | null>
        if (holder != null && token != null && expiresAt != null && Number(expiresAt) > now) {
          leaders.push({ name, holder, token: Number(token), expiresAt: Number(expiresAt) })
        }
      })
      leaders.sort((a, b) => a.name.localeCompare(b.name))
    }
    const rateLimit = rate[0] != null && rate[1] != null ? { limit: Number(rate[0]), windowMs: Number(rate[1]) } : null
    return { globalPaused: paused, rateLimit, leaders }
  }

  async acquireLeader (name: string, holder: string, ttlMs: number): Promise<LeaderAcquireResult> {
    const [acquired, current, token, expiresAt] = await runPlainScript(this.redis, 'leader-acquire',
      [this.keys.leader(name), this.keys.leaderFence(name), this.keys.leaders], [name, holder, ttlMs]) as [number, string, number, number]
    return { acquired: acquired === 1, lock: { name, holder: current, token: Number(token), expiresAt: Number(expiresAt) } }
  }

  async releaseLeader (name: string, holder: string, token: number): Promise<boolean> {
    return (await runPlainScript(this.redis, 'leader-release', [this.keys.leader(name)], [holder, String(token)])) === 1
  }

  async setRateLimit (limit: RateLimit | null): Promise<void> {
    if (limit === null) {
      await this.redis.del(this.keys.rateLimit)
      return
    }
    await this.redis.hset(this.keys.rateLimit, 'limit', limit.limit, 'windowMs', limit.windowMs)
  }

  async takeRatePermits (n: number): Promise<number> {
    if (n === 0) return 0
    return Number(await runPlainScript(this.redis, 'rate-permits', [this.keys.rateLimit, this.keys.rateWindow], [n]))
  }

  // --- workers ---------------------------------------------------------------------
  private async workersScript (args: Array<string | number>): Promise<unknown> {
    const k = this.keys
    return await runPlainScript(this.redis, 'workers', [k.workers, k.workerExpiry, k.workerBeats, k.workerCordons], [args[0]!, WORKER_RETENTION_MS, ...args.slice(1)])
  }

  async heartbeatWorker (info: WorkerInfo, ttlMs: number): Promise<WorkerHeartbeat> {
    const { cordoned: _kept, stale: _derived, ...rest } = info
    return { cordoned: await this.workersScript(['beat', info.id, JSON.stringify(rest), ttlMs]) === 1 }
  }

  async listWorkers (options?: ListWorkersOptions): Promise<WorkerInfo[]> {
    const flat = await this.workersScript(['list', options?.includeStale === true ? 1 : 0]) as Array<string | number>
    const out: WorkerInfo[] = []
    for (let i = 0; i < flat.length; i += 4) out.push({ ...workerFrom(flat, i), stale: flat[i + 3] === 1 })
    return out.sort((a, b) => a.id.localeCompare(b.id))
  }

  async removeWorker (id: string): Promise<void> {
    await this.workersScript(['remove', id])
  }

  async setWorkerCordoned (id: string, cordoned: boolean): Promise<boolean> {
    return await this.workersScript(['cordon', id, cordoned ? 1 : 0]) === 1
  }

  async sweepWorkers (req: SweepWorkersRequest): Promise<WorkerInfo[]> {
    const limit = clampLimit(req.limit)
    if (limit === 0) return []
    const flat = await this.workersScript(['sweep', req.olderThanMs, limit, req.dryRun === true ? 1 : 0]) as Array<string | number>
    const out: WorkerInfo[] = []
    for (let i = 0; i < flat.length; i += 3) out.push({ ...workerFrom(flat, i), stale: true })
    return out
  }

  // --- event log ---------------------------------------------------------------------
  async appendEvents (events: EventInput[]): Promise<StoredEvent[]> {
    if (events.length === 0) return []
    const batch = JSON.stringify(events.map(event => [event.type, event.data ?? null]))
    const entry = await runPlainScript(this.redis, 'append-events', [this.keys.events, this.keys.eventCount, this.keys.eventIndex],
      [this.limits.maxEvents, this.keys.notify, events.length, batch]) as string
    const time = timeOfStreamId(entry)
    return events.map((event, k) => ({ id: `${entry}:${k}`, type: event.type, time, data: event.data ?? null }))
  }

  /**
   * Takes back an entry appendEvents wrote (its id is the part of an event id before
   * ':'), for events whose cause did not happen after all; false when it is gone already.
   */
  async removeEventEntry (entry: string, events: number): Promise<boolean> {
    const removed = await this.redis.xdel(this.keys.events, entry)
    if (removed === 0) return false
    // the index item goes too, so trimming keeps reading the index alone (append-events.lua)
    await this.redis.multi().decrby(this.keys.eventCount, events).lrem(this.keys.eventIndex, 1, `${entry} ${events}`).exec()
    return true
  }

  async readEvents (req: ReadEventsRequest): Promise<StoredEvent[]> {
    const limit = clampLimit(req.limit)
    if (limit === 0) return []
    const after = req.afterId == null ? null : parseEventId('afterId', req.afterId)
    const out: StoredEvent[] = []
    // the entry holding afterId is read again for the events after it in that batch
    let start = after === null ? '-' : after.entry
    // An entry holds at least one event, so asking for more entries than events still
    // wanted is never needed; pages start small because one entry can hold hundreds.
    for (let count = Math.min(limit, 8); out.length < limit; count = Math.min(count * 4, limit - out.length)) {
      const entries = await this.redis.xrange(this.keys.events, start, '+', 'COUNT', count)
      for (const [entry, fields] of entries) {
        const batch = JSON.parse(fieldMap(fields).b ?? '[]') as Array<[string, unknown]>
        const from = after !== null && entry === after.entry ? after.index + 1 : 0
        const time = timeOfStreamId(entry)
        for (let k = from; k < batch.length && out.length < limit; k++) {
          const [type, data] = batch[k] as [string, unknown]
          out.push({ id: `${entry}:${k}`, type, time, data })
        }
      }
      if (entries.length < count) break
      start = `(${(entries[entries.length - 1] as [string, string[]])[0]}`
    }
    return out
  }

  /** newest first: the entries before beforeId's (read backwards) and the events of its own entry before it */
  async readEventsNewestFirst (req: ReadEventsBackwardRequest): Promise<StoredEvent[]> {
    const limit = clampLimit(req.limit)
    const before = req.beforeId == null ? null : parseEventId('beforeId', req.beforeId)
    if (limit === 0) return []
    const out: StoredEvent[] = []
    // the entry holding beforeId is read again for the events before it in that batch
    let end = before === null ? '+' : before.entry
    for (let count = Math.min(limit, 8); out.length < limit; count = Math.min(count * 4, limit - out.length + 1)) {
      const entries = await this.redis.xrevrange(this.keys.events, end, '-', 'COUNT', count)
      for (const [entry, fields] of entries) {
        const batch = JSON.parse(fieldMap(fields).b ?? '[]') as Array<[string, unknown]>
        const upTo = before !== null && entry === before.entry ? Math.min(before.index, batch.length) : batch.length
        const time = timeOfStreamId(entry)
        for (let k = upTo - 1; k >= 0 && out.length < limit; k--) {
          const [type, data] = batch[k] as [string, unknown]
          out.push({ id: `${entry}:${k}`, type, time, data })
        }
      }
      if (entries.length < count) break
      end = `(${(entries[entries.length - 1] as [string, string[]])[0]}`
    }
    return out
  }

  async subscribeEvents (listener: () => void): Promise<() => Promise<void>> {
    const subscriber = this.redis.duplicate()
    subscriber.on('message', () => listener())
    subscriber.on('error', () => {})
    await subscriber.subscribe(this.keys.notify)
    return async () => {
      subscriber.removeAllListeners('message')
      await subscriber.quit().catch(() => subscriber.disconnect())
    }
  }

  // --- audit ---------------------------------------------------------------------------
  async appendAudit (event: AuditInput): Promise<AuditEvent> {
    const body = JSON.stringify(event)
    const id = await this.redis.xadd(this.keys.audit, 'MAXLEN', '~', this.limits.maxAudit, '*', 'e', body) as string
    return { ...(JSON.parse(body) as AuditInput), id, time: timeOfStreamId(id) }
  }

  async listAudit (req: ListAuditRequest): Promise<AuditEvent[]> {
    const limit = clampLimit(req.limit)
    if (limit === 0) return []
    if (req.beforeId !== undefined) assertStreamId('beforeId', req.beforeId)
    const out: AuditEvent[] = []
    let end = req.beforeId === undefined ? '+' : `(${req.beforeId}`
    const start = req.since === undefined ? '-' : `${Math.max(0, Math.trunc(req.since))}-0`
    // filters are applied while walking back; the walk is bounded by the stream's own cap
    for (let scanned = 0; out.length < limit && scanned < this.limits.maxAudit + 1000;) {
      const page = await this.redis.xrevrange(this.keys.audit, end, start, 'COUNT', 500)
      if (page.length === 0) break
      scanned += page.length
      for (const [id, fields] of page) {
        const input = JSON.parse(fieldMap(fields).e ?? '{}') as AuditInput
        if (req.action !== undefined && input.action !== req.action) continue
        if (req.target !== undefined && input.target !== req.target) continue
        out.push({ ...input, id, time: timeOfStreamId(id) })
        if (out.length >= limit) break
      }
      end = `(${page[page.length - 1]?.[0] as string}`
    }
    return out
  }

  async pruneAudit (req: { maxCount?: number, maxAgeMs?: number }): Promise<number> {
    let removed = 0
    if (req.maxCount !== undefined) {
      removed += await this.redis.xtrim(this.keys.audit, 'MAXLEN', req.maxCount)
    }
    if (req.maxAgeMs !== undefined) {
      const [seconds, micros] = await this.redis.time()
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      removed += await this.redis.xtrim(this.keys.audit, 'MINID', `${now - req.maxAgeMs}-0`)
    }
    return removed
  }
}

function fieldMap (fields: string[]): Record<string, string> {
  const map: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i] as string] = fields[i + 1] as string
  return map
}
