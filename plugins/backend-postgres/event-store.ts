import { Errors, MAX_LIST_LIMIT, type AuditEvent, type Backend, type StoredEvent } from 'switchyard'
import { clampLimit, requireId, type BackendContext } from './context.ts'
import type { SqlParam } from './sql-client.ts'

// The event log (SSE replay) and the audit trail.

type EventMethods = Pick<Backend, 'appendEvents' | 'readEvents' | 'appendAudit' | 'listAudit' | 'pruneAudit'>

const MAX_APPEND = 10_000

interface EventRow { id: string, time: number, type: string, data: unknown }
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

const toEvent = (r: EventRow): StoredEvent => ({ id: r.id, type: r.type, time: r.time, data: r.data })

function toAudit (r: AuditRow): AuditEvent {
  const event: AuditEvent = {
    id: r.id, time: r.time, action: r.action, target: r.target, actor: r.actor, requestId: r.request_id, params: r.params, outcome: r.outcome
  }
  if (r.error !== null) event.error = r.error
  return event
}

function optionalMs (field: string, value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw Errors.validation(`${field}: must be a non-negative number of milliseconds`, { details: { field } })
  return value
}

export function eventMethods (ctx: BackendContext): EventMethods {
  const { s } = ctx

  // The counter row's lock is held until commit, so appends commit in id order and
  // a reader that has seen id N can never later find a smaller id appearing.
  const appendSql = `
    WITH seq AS (
      UPDATE ${s}.event_counter SET last_id = last_id + $3 WHERE id = 1 RETURNING last_id
    ), inserted AS (
      INSERT INTO ${s}.events (id, type, data)
      SELECT seq.last_id - $3 + e.ord, e.type, e.data::jsonb
      FROM seq, unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(type, data, ord)
      RETURNING id, time, type, data
    ), trimmed AS (
      DELETE FROM ${s}.events WHERE id <= (SELECT last_id FROM seq) - $4
    )
    SELECT i.id::text AS id, ${s}.ms(i.time) AS time, i.type, i.data
    FROM inserted i CROSS JOIN (SELECT CASE WHEN $5::text IS NULL THEN NULL ELSE pg_notify($5::text, '') END) AS woken
    ORDER BY i.id`

  const auditColumns = `id::text AS id, ${s}.ms(time) AS time, action, target, actor, request_id, params, outcome, error`

  return {
    async appendEvents (events) {
      if (!Array.isArray(events)) throw Errors.validation('events: must be an array', { details: { field: 'events' } })
      if (events.length === 0) return []
      if (events.length > MAX_APPEND) throw Errors.validation(`events: at most ${MAX_APPEND} per call`, { details: { field: 'events' } })
      const types = events.map((e, i) => {
        if (typeof e?.type !== 'string' || e.type === '') throw Errors.validation(`events[${i}].type: must be a non-empty string`, { details: { field: `events[${i}].type` } })
        return e.type
      })
      const data = events.map(e => JSON.stringify(e.data === undefined ? null : e.data))
      const rows = await ctx.db().query<EventRow>(appendSql, [types, data, events.length, ctx.maxEvents, ctx.notify ? ctx.eventsChannel : null])
      return rows.map(toEvent)
    },

    async readEvents (req) {
      const limit = clampLimit('limit', req?.limit, MAX_LIST_LIMIT)
      if (limit === 0) return []
      const after = req.afterId === null || req.afterId === undefined ? '0' : requireId('afterId', req.afterId)
      const rows = await ctx.db().query<EventRow>(
        `SELECT id::text AS id, ${s}.ms(time) AS time, type, data FROM ${s}.events e WHERE e.id > $1::bigint ORDER BY e.id LIMIT $2`, [after, limit])
      return rows.map(toEvent)
    },

    async appendAudit (event) {
      for (const field of ['action', 'target', 'actor', 'requestId'] as const) {
        if (typeof event?.[field] !== 'string') throw Errors.validation(`${field}: must be a string`, { details: { field } })
      }
      if (!['ok', 'error', 'denied'].includes(event.outcome)) throw Errors.validation('outcome: must be ok, error or denied', { details: { field: 'outcome' } })
      const [row] = await ctx.db().query<AuditRow>(`
        INSERT INTO ${s}.audit (action, target, actor, request_id, params, outcome, error)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING ${auditColumns}`,
      [event.action, event.target, event.actor, event.requestId, JSON.stringify(event.params ?? {}), event.outcome, event.error ?? null])
      return toAudit(row as AuditRow)
    },

    async listAudit (req) {
      const limit = clampLimit('limit', req?.limit, MAX_LIST_LIMIT)
      if (limit === 0) return []
      const params: SqlParam[] = []
      const where: string[] = []
      if (req.action !== undefined) { params.push(String(req.action)); where.push(`action = $${params.length}`) }
      if (req.target !== undefined) { params.push(String(req.target)); where.push(`target = $${params.length}`) }
      const since = optionalMs('since', req.since)
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
      const maxAge = optionalMs('maxAgeMs', req?.maxAgeMs)
      const maxCount = req?.maxCount === undefined ? null : clampLimit('maxCount', req.maxCount, Number.MAX_SAFE_INTEGER)
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
