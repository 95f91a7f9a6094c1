import { Errors, MAX_LIST_LIMIT, type AuditEvent, type Backend, type ReadEventsRequest, type StoredEvent } from '@switchyard/core'
import { requireId, type BackendContext } from './context.ts'
import type { SqlParam } from './sql-client.ts'

// The event log (SSE replay) and the audit trail.
//
// One append is one page (a row holding the append's events). Pages are written
// without any lock held to commit (see migration 007): a page gets its positions
// from a sequence and records the id of the transaction that wrote it (xid). A
// reader reads only pages whose xid is below its snapshot's xmin, the oldest
// transaction still running: every transaction there has ended, so no page can
// appear among them later, and they are read in (xid, pos) order, which grows only
// at its end. A transaction that starts after another one committed has a larger
// xid, so an event appended because of a committed one (a task's start, after the
// enqueue that appended `task.enqueued` in its own statement) is read after it.
// The cost: an event becomes readable once every transaction that was running
// when it committed has ended (normally milliseconds; a long writing transaction
// in the cluster holds events back until it ends).

type EventMethods = Pick<Backend, 'appendEvents' | 'readEvents' | 'appendAudit' | 'listAudit' | 'pruneAudit'> & Required<Pick<Backend, 'readEventsNewestFirst'>>

interface PageRow { xid: string, pos: string, time: number, events: Array<[string, unknown]> }
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

export interface ReadRow { xid: string | null, pos: string | null, time: number | null, events: Array<[string, unknown]> | null, horizon: string, held_max: string | null }

/** how long a read waits at most for events a running transaction holds back */
const HELD_BACK_WAIT_MS = 1_000

/** a reader's place: after event `index` of page (xid, pos) */
export interface Cursor { xid: string, pos: string, index: number }

const MAX_XID8 = 18446744073709551615n
const MAX_BIGINT = 9223372036854775807n

/** "<xid>-<pos>-<index>": the event ids this backend issues */
function parseEventId (field: string, id: string): Cursor {
  const match = /^([0-9]{1,20})-([0-9]{1,19})-([0-9]{1,9})$/.exec(id)
  if (match === null || BigInt(match[1] as string) > MAX_XID8 || BigInt(match[2] as string) > MAX_BIGINT) {
    throw Errors.validation(`${field}: must be an event id of this backend (<xid>-<position>-<index>)`, { details: { field } })
  }
  return { xid: BigInt(match[1] as string).toString(), pos: BigInt(match[2] as string).toString(), index: Number(match[3]) }
}

function unpack (page: PageRow, after: Cursor | null, limit: number, into: StoredEvent[]): void {
  const skip = after !== null && after.xid === page.xid && after.pos === page.pos ? after.index + 1 : 0
  for (let k = skip; k < page.events.length && into.length < limit; k++) {
    const [type, data] = page.events[k] as [string, unknown]
    into.push({ id: `${page.xid}-${page.pos}-${k}`, type, time: page.time, data })
  }
}

/** the events of a page before the cursor's (all of them past other pages), newest first */
function unpackBackward (page: PageRow, before: Cursor | null, limit: number, into: StoredEvent[]): void {
  const end = before !== null && before.xid === page.xid && before.pos === page.pos ? before.index : page.events.length
  for (let k = Math.min(end, page.events.length) - 1; k >= 0 && into.length < limit; k--) {
    const [type, data] = page.events[k] as [string, unknown]
    into.push({ id: `${page.xid}-${page.pos}-${k}`, type, time: page.time, data })
  }
}

/** the page's position: one value of the sequence per event, the largest is the page's */
function pagePosition (s: string, count: string): string {
  return `(SELECT max(nextval('${s}.event_positions')) FROM generate_series(1, ${count}))`
}

/**
 * The same values taken at once, for PGlite only: the sequence moved past the page's
 * last value by setval. Two sessions could interleave there (another nextval between
 * this nextval and the setval would take a value inside this page's range), so a
 * server keeps one nextval per event; PGlite is one connection that runs one statement
 * at a time, so nothing runs between them. A 500-event append cost about 1-1.4 ms
 * less CPU this way (bench/README.md, "one UPDATE for acks and lease").
 */
function pagePositionSingleSession (s: string, count: string): string {
  return `(SELECT setval('${s}.event_positions', nextval('${s}.event_positions') + ${count} - 1))`
}

/**
 * A data-modifying CTE that deletes pages older than the newest `maxEvents` positions.
 * SKIP LOCKED: concurrent appenders never wait for each other's trims (a page another
 * one is deleting is left to it).
 */
function trimCte (s: string, newest: string, maxEvents: string): string {
  return `trimmed AS (
      DELETE FROM ${s}.event_pages WHERE pos IN (
        SELECT pos FROM ${s}.event_pages
        WHERE pos <= ${newest} - ${maxEvents}
        FOR UPDATE SKIP LOCKED)
    )`
}

/**
 * CTEs that append one page of `task.enqueued`-like events, one per created task, to
 * an enqueue statement (so the events commit with the tasks). `created` must name a
 * relation of (id bigint, ord bigint, data text: the event data without its id as a
 * JSON object). The placeholders are the event type, maxEvents and the notification
 * channel (null: none). Adds the CTEs `event_page`, `event_page_inserted`, `trimmed`
 * and `events_woken` (select it to send the notification).
 */
export function enqueueEventCtes (s: string, typeParam: string, maxEventsParam: string, channelParam: string): string {
  // the data's members follow the id, in the order core gave them
  const withId = `CASE WHEN c.data = '{}' THEN json_build_object('id', c.id::text)::text
      ELSE '{"id":' || to_json(c.id::text)::text || ',' || substr(c.data, 2) END`
  return `event_page AS (
      SELECT pg_current_xact_id() AS xid, max(nextval('${s}.event_positions')) AS pos,
        json_agg(json_build_array(${typeParam}::text, (${withId})::json) ORDER BY c.ord) AS events
      FROM created c HAVING count(*) > 0
    ), event_page_inserted AS (
      INSERT INTO ${s}.event_pages (xid, pos, events) SELECT xid, pos, events FROM event_page RETURNING pos
    ), ${trimCte(s, '(SELECT pos FROM event_page)', `${maxEventsParam}::bigint`)}, events_woken AS (
      SELECT count(pg_notify(${channelParam}::text, '')) AS n FROM event_page_inserted WHERE ${channelParam}::text IS NOT NULL
    )`
}

/**
 * One forward read of the event log: the pages after (afterXid, afterPos), inclusive
 * (its own page holds the events after the cursor), at most `pages` of them, in read
 * order. Every page after the cursor's holds at least one event past it, so `limit`
 * pages and the cursor's own are enough. Also answers the horizon and the newest xid
 * of committed pages above it (held back until the transactions before them end).
 * One row even when no page is found (xid null).
 */
export function eventReadSql (s: string, afterXid: string, afterPos: string, pages: string): string {
  return `
    WITH horizon AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
    pages AS (
      SELECT p.xid, p.pos, ${s}.ms(p.time) AS time, p.events
      FROM ${s}.event_pages p
      WHERE p.xid < (SELECT xmin FROM horizon) AND (p.xid, p.pos) >= (${afterXid}::xid8, ${afterPos}::bigint)
      ORDER BY p.xid, p.pos LIMIT ${pages}
    )
    SELECT pages.xid::text AS xid, pages.pos::text AS pos, pages.time, pages.events,
      (SELECT xmin FROM horizon)::text AS horizon,
      (SELECT xid FROM ${s}.event_pages WHERE xid >= (SELECT xmin FROM horizon) ORDER BY xid DESC LIMIT 1)::text AS held_max
    FROM (SELECT 1) AS one LEFT JOIN pages ON true
    ORDER BY pages.xid, pages.pos`
}

/** a forward read's cursor (VALIDATION_FAILED for an id this backend did not issue) and page limit */
export function forwardRequest (req: ReadEventsRequest): { after: Cursor | null, limit: number } {
  return {
    after: req.afterId === null || req.afterId === undefined ? null : parseEventId('afterId', req.afterId),
    limit: Math.min(req.limit, MAX_LIST_LIMIT)
  }
}

/**
 * Reads up to `limit` events after `after` with `readSql` (eventReadSql with the
 * cursor's xid, position and the page count as $1..$3). `first`: the rows of that read
 * already made (inside another statement), used for the first round.
 */
export async function readForward (ctx: BackendContext, readSql: string, after: Cursor | null, limit: number, first: ReadRow[] | null): Promise<StoredEvent[]> {
  // A read answers every event committed before it began: pages held back by a
  // transaction still running are waited for (until the horizon passes the newest
  // of them, usually milliseconds), so a caller reads its own appends. Later pages
  // are not waited for, so a steady stream of appends never stalls a read.
  const deadline = Date.now() + HELD_BACK_WAIT_MS
  let waitFor: bigint | null = null
  let given = first
  for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
    const rows = given ?? await ctx.db().query<ReadRow>(readSql, [after?.xid ?? '0', after?.pos ?? '0', limit + 1])
    given = null
    const events: StoredEvent[] = []
    for (const page of rows) {
      if (page.xid !== null) unpack(page as PageRow, after, limit, events)
    }
    const head = rows[0]
    if (head === undefined || events.length >= limit) return events
    waitFor ??= head.held_max === null ? -1n : BigInt(head.held_max)
    if (waitFor < BigInt(head.horizon)) return events
    if (Date.now() >= deadline) {
      ctx.eventsHeldBack()
      return events
    }
    await new Promise(resolve => setTimeout(resolve, pause))
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

  const appendSqlFor = (position: string): string => `
    WITH page AS (
      SELECT pg_current_xact_id() AS xid, ${position} AS pos
    ), inserted AS (
      INSERT INTO ${s}.event_pages (xid, pos, events) SELECT xid, pos, $1::json FROM page
      RETURNING xid, pos, time
    ), ${trimCte(s, '(SELECT pos FROM page)', '$3::bigint')}
    SELECT i.xid::text AS xid, i.pos::text AS pos, ${s}.ms(i.time) AS time
    FROM inserted i CROSS JOIN (SELECT CASE WHEN $4::text IS NULL THEN NULL ELSE pg_notify($4::text, '') END) AS woken`
  const appendSql = appendSqlFor(pagePosition(s, '$2::int'))
  const appendSingleSessionSql = appendSqlFor(pagePositionSingleSession(s, '$2::int'))

  const readSql = eventReadSql(s, '$1', '$2', '$3')

  // Newest first over the same order: pages below the horizon (every event a forward
  // reader will ever see there), from the cursor's page (inclusive: its earlier
  // events) down. With a cursor, pages held back by a running transaction are not
  // waited for: they are newer than everything answered, and a forward read from the
  // newest id answered here picks them up. A read of the newest events (no cursor)
  // waits for them as a forward read does, so a caller reads its own appends.
  const readBackwardSql = `
    WITH horizon AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
    pages AS (
      SELECT p.xid, p.pos, ${s}.ms(p.time) AS time, p.events
      FROM ${s}.event_pages p
      WHERE p.xid < (SELECT xmin FROM horizon) AND (p.xid, p.pos) <= ($1::xid8, $2::bigint)
      ORDER BY p.xid DESC, p.pos DESC LIMIT $3
    )
    SELECT pages.xid::text AS xid, pages.pos::text AS pos, pages.time, pages.events,
      (SELECT xmin FROM horizon)::text AS horizon,
      (SELECT xid FROM ${s}.event_pages WHERE xid >= (SELECT xmin FROM horizon) ORDER BY xid DESC LIMIT 1)::text AS held_max
    FROM (SELECT 1) AS one LEFT JOIN pages ON true
    ORDER BY pages.xid DESC, pages.pos DESC`

  const auditColumns = `id::text AS id, ${s}.ms(time) AS time, action, target, actor, request_id, params, outcome, error`

  return {
    async appendEvents (events, options) {
      if (events.length === 0) return []
      const page = events.map(e => [e.type, e.data === undefined ? null : e.data])
      const text = JSON.stringify(page)
      const db = ctx.db()
      const [row] = await db.query<{ xid: string, pos: string, time: number }>(db.kind === 'pglite' ? appendSingleSessionSql : appendSql, [text, events.length, ctx.maxEvents, ctx.notify ? ctx.eventsChannel : null])
      if (row === undefined) throw Errors.backendUnavailable('postgres: the event append returned no page')
      // the worker's event log reads no answer: decoding the page again cost about 0.6 µs per event
      if (options?.answer === false) return []
      // the events as stored: the JSON round trip drops what JSON cannot hold, as a read would
      const stored: StoredEvent[] = []
      unpack({ ...row, events: JSON.parse(text) as Array<[string, unknown]> }, null, events.length, stored)
      return stored
    },

    async readEvents (req) {
      if (Math.min(req.limit, MAX_LIST_LIMIT) === 0) return []
      const { after, limit } = forwardRequest(req)
      return await readForward(ctx, readSql, after, limit, null)
    },

    async readEventsNewestFirst (req) {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      const before = req.beforeId === null || req.beforeId === undefined ? null : parseEventId('beforeId', req.beforeId)
      if (limit === 0) return []
      const params = [before?.xid ?? MAX_XID8.toString(), before?.pos ?? MAX_BIGINT.toString(), limit + 1]
      const deadline = Date.now() + HELD_BACK_WAIT_MS
      let waitFor: bigint | null = null
      for (let pause = 1; ; pause = Math.min(pause * 2, 20)) {
        const rows = await ctx.db().query<ReadRow>(readBackwardSql, params)
        const head = rows[0]
        if (before === null && head !== undefined) {
          // the newest pages committed before this read began, held back by a running
          // transaction: wait until the horizon passes them (bounded, as forward reads)
          waitFor ??= head.held_max === null ? -1n : BigInt(head.held_max)
          if (waitFor >= BigInt(head.horizon)) {
            if (Date.now() < deadline) {
              await new Promise(resolve => setTimeout(resolve, pause))
              continue
            }
            ctx.eventsHeldBack()
          }
        }
        const events: StoredEvent[] = []
        for (const page of rows) {
          if (page.xid !== null) unpackBackward(page as PageRow, before, limit, events)
        }
        return events
      }
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
