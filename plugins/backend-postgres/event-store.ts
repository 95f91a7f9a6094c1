import { Errors, MAX_LIST_LIMIT, type AuditEvent, type Backend, type StoredEvent } from '@switchyard/core'
import { requireId, type BackendContext } from './context.ts'
import type { SqlParam } from './sql-client.ts'

// The event log (SSE replay) and the audit trail.

type EventMethods = Pick<Backend, 'appendEvents' | 'readEvents' | 'appendAudit' | 'listAudit' | 'pruneAudit'>

interface PageRow { first_id: string, time: number, events: Array<[string, unknown]> }
interface AuditRow {
  id: string
  time: number
  action: string
  target: string
  actor: string
  request_id: string
  params: Record<string, unknown>
  outcome: AuditEvent['outcome']
  error: string | null
}

/** the id of the k-th event of a page; plain numbers while they are exact */
function idAt (firstId: string, k: number): string {
  const first = Number(firstId)
  return Number.isSafeInteger(first + k) ? String(first + k) : (BigInt(firstId) + BigInt(k)).toString()
}

function unpack (page: PageRow, afterId: bigint, limit: number, into: StoredEvent[]): void {
  const first = BigInt(page.first_id)
  const skip = afterId >= first ? Number(afterId - first) + 1 : 0
  for (let k = skip; k < page.events.length && into.length < limit; k++) {
    const [type, data] = page.events[k] as [string, unknown]
    into.push({ id: idAt(page.first_id, k), type, time: page.time, data })
  }
}

function toAudit (r: AuditRow): AuditEvent {
  const event: AuditEvent = {
    id: r.id, time: r.time, action: r.action, target: r.target, actor: r.actor, requestId: r.request_id, params: r.params, outcome: r.outcome
  }
  if (r.error !== null) event.error = r.error
  return event
}

export function eventMethods (ctx: BackendContext): EventMethods {
  const { s } = ctx

  // One append is one page. The counter row's lock is held until commit, so appends
  // commit in id order and a reader that has seen id N can never later find a
  // smaller id appearing. Pages wholly older than the newest maxEvents are deleted.
  const appendSql = `
    WITH seq AS (
      UPDATE ${s}.event_counter SET last_id = last_id + $2 WHERE id = 1 RETURNING last_id
    ), inserted AS (
      INSERT INTO ${s}.event_pages (last_id, first_id, events)
      SELECT last_id, last_id - $2 + 1, $1::json FROM seq
      RETURNING first_id, time
    ), trimmed AS (
      DELETE FROM ${s}.event_pages WHERE last_id <= (SELECT last_id FROM seq) - $3
    )
    SELECT i.first_id::text AS first_id, ${s}.ms(i.time) AS time
    FROM inserted i CROSS JOIN (SELECT CASE WHEN $4::text IS NULL THEN NULL ELSE pg_notify($4::text, '') END) AS woken`

  // Every page holds at least one event past the cursor, so `limit` pages are enough.
  // Events of a straddling page older than the newest maxEvents count as trimmed.
  const readSql = `
    SELECT p.first_id::text AS first_id, ${s}.ms(p.time) AS time, p.events,
      greatest($1::bigint, c.last_id - $3)::text AS floor
    FROM ${s}.event_counter c JOIN ${s}.event_pages p ON p.last_id > greatest($1::bigint, c.last_id - $3)
    WHERE c.id = 1
    ORDER BY p.last_id LIMIT $2`

  const auditColumns = `id::text AS id, ${s}.ms(time) AS time, action, target, actor, request_id, params, outcome, error`

  return {
    async appendEvents (events) {
      if (events.length === 0) return []
      const page = events.map(e => [e.type, e.data === undefined ? null : e.data])
      const text = JSON.stringify(page)
      const [row] = await ctx.db().query<{ first_id: string, time: number }>(appendSql, [text, events.length, ctx.maxEvents, ctx.notify ? ctx.eventsChannel : null])
      if (row === undefined) throw Errors.backendUnavailable('postgres: the event append returned no page')
      // the events as stored: the JSON round trip drops what JSON cannot hold, as a read would
      const stored: StoredEvent[] = []
      unpack({ first_id: row.first_id, time: row.time, events: JSON.parse(text) as Array<[string, unknown]> }, 0n, events.length, stored)
      return stored
    },

    async readEvents (req) {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      if (limit === 0) return []
      const after = req.afterId === null || req.afterId === undefined ? '0' : requireId('afterId', req.afterId)
      const rows = await ctx.db().query<PageRow & { floor: string }>(readSql, [after, limit, ctx.maxEvents])
      const events: StoredEvent[] = []
      for (const page of rows) unpack(page, BigInt(page.floor), limit, events)
      return events
    },

    async appendAudit (event) {
      const [row] = await ctx.db().query<AuditRow>(`
        INSERT INTO ${s}.audit (action, target, actor, request_id, params, outcome, error)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING ${auditColumns}`,
      [event.action, event.target, event.actor, event.requestId, JSON.stringify(event.params ?? {}), event.outcome, event.error ?? null])
      return toAudit(row as AuditRow)
    },

    async listAudit (req) {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      if (limit === 0) return []
      const params: SqlParam[] = []
      const where: string[] = []
      if (req.action !== undefined) { params.push(req.action); where.push(`action = $${params.length}`) }
      if (req.target !== undefined) { params.push(req.target); where.push(`target = $${params.length}`) }
      const since = req.since ?? null
      if (since !== null) {
        // reported times are rounded to the ms, so an event's own reported time must still match it
        params.push(since)
        where.push(`a.time >= 'epoch'::timestamptz + ($${params.length}::float8 - 0.5) * interval '1 millisecond'`)
      }
      if (req.beforeId !== undefined) { params.push(requireId('beforeId', req.beforeId)); where.push(`a.id < $${params.length}::bigint`) }
      params.push(limit)
      const rows = await ctx.db().query<AuditRow>(
        `SELECT ${auditColumns} FROM ${s}.audit a ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY a.id DESC LIMIT $${params.length}`, params)
      return rows.map(toAudit)
    },

    async pruneAudit (req) {
      const maxAge = req.maxAgeMs ?? null
      const maxCount = req.maxCount ?? null
      if (maxAge === null && maxCount === null) return 0
      const [row] = await ctx.db().query<{ n: number }>(`
        WITH cutoff AS (
          SELECT (SELECT id FROM ${s}.audit ORDER BY id DESC OFFSET $2 LIMIT 1) AS last_dropped
        ), gone AS (
          DELETE FROM ${s}.audit a USING cutoff
          WHERE ($1::float8 IS NOT NULL AND a.time < now() - $1::float8 * interval '1 millisecond')
             OR ($2::bigint IS NOT NULL AND a.id <= cutoff.last_dropped)
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM gone`, [maxAge, maxCount])
      return row?.n ?? 0
    }
  }
}
