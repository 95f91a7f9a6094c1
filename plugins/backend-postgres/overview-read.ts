import { createHash } from 'node:crypto'
import { Errors, type Backend, type OverviewRead, type PendingHandler, type QueueStats } from '@switchyard/core'
import type { BackendContext } from './context.ts'
import type { SqlClient } from './sql-client.ts'
import { coordinationOf, heldLeadersSql, toWorkerInfo, workersSql, type LeaderRow, type SettingsRow, type WorkerRow } from './coordination.ts'
import { eventReadSql, forwardRequest, readForward, type ReadRow } from './event-store.ts'
import { MAX_PENDING_HANDLERS, pendingHandlersSql, queueStatsSql, toQueueStats, type StatsRow } from './queues.ts'

// The admin overview in one statement, so one round trip: the queue stats, the live
// workers, the coordination state, the pending (queue, handler) pairs and a page of the
// event log, each read by the SQL the separate call runs, each section one JSON value.
// Every part is O(queues), O(workers) or O(the event page): the counts come from
// queue_counts and handler_counts (kept by the count triggers), never from tasks.
// Extra round trips only where the separate calls would make them too: the throttled
// counts when a flow limit is stored, and a second event read when a running
// transaction holds back committed events (readEvents waits for those).

type OverviewMethods = Required<Pick<Backend, 'readOverview'>>

interface OverviewRow {
  queues: StatsRow[]
  workers: WorkerRow[]
  settings: (SettingsRow & { flow_limited: boolean }) | null
  leaders: LeaderRow[]
  pending: PendingHandler[]
  /** the rows readEvents' first read answers; null when no page was asked for */
  pages: ReadRow[] | null
}

/** the statement's text; exported for the plan check in overview-read.test.ts */
export function overviewSql (s: string): string {
  // $1 pending pairs at most (0: none), $2 and $3 the event cursor's xid and position,
  // $4 the event pages to read (0: none)
  return `
    WITH listed AS MATERIALIZED (${queueStatsSql(s, 'NULL')})
    SELECT
      (SELECT coalesce(json_agg(q ORDER BY q.name), '[]') FROM listed q) AS queues,
      (SELECT coalesce(json_agg(w ORDER BY w.id), '[]') FROM (${workersSql(s, false)}) AS w) AS workers,
      (SELECT row_to_json(st) FROM (SELECT global_paused, rate_limit, rate_window_ms, flow_limited FROM ${s}.settings WHERE id = 1) AS st) AS settings,
      (SELECT coalesce(json_agg(l ORDER BY l.name), '[]') FROM (${heldLeadersSql(s)}) AS l) AS leaders,
      CASE WHEN $1::int > 0
        THEN (SELECT coalesce(json_agg(p), '[]') FROM (${pendingHandlersSql(s, 'ARRAY(SELECT name FROM listed)', '$1::int')}) AS p)
        ELSE '[]'::json END AS pending,
      CASE WHEN $4::int > 0
        THEN (SELECT json_agg(e) FROM (${eventReadSql(s, '$2', '$3', '$4::int')}) AS e) END AS pages`
}

/** pages in read order, (xid, pos) compared as numbers; a row without a page (xid null) first */
function inReadOrder (rows: ReadRow[]): ReadRow[] {
  const key = (r: ReadRow): [bigint, bigint] => [r.xid === null ? -1n : BigInt(r.xid), r.pos === null ? -1n : BigInt(r.pos)]
  return [...rows].sort((a, b) => {
    const [ax, ap] = key(a)
    const [bx, bp] = key(b)
    return ax !== bx ? (ax < bx ? -1 : 1) : ap === bp ? 0 : ap < bp ? -1 : 1
  })
}

/**
 * On PGlite planning this statement costs more than running it (about 7 ms against 4
 * on a loaded two-core machine, baseline-compiled WebAssembly) and PGlite has no
 * per-connection statement cache as the pg pool has (pg-client.ts), so it is kept as
 * a session-level prepared statement and EXECUTEd: 2 to 4 times faster per overview.
 * EXECUTE takes no bind parameters, so the arguments go in as literals; each is an
 * integer or a string of digits (checked here and by parseEventId).
 */
const prepared = new WeakMap<SqlClient, Set<string>>()

function literalArgs (args: Array<number | string>): string {
  return args.map(arg => {
    const text = String(arg)
    if (!/^[0-9]{1,20}$/.test(text)) throw new Error(`overview: argument ${text} is not a decimal integer`)
    return typeof arg === 'number' ? text : `'${text}'`
  }).join(', ')
}

async function executePrepared (client: SqlClient, name: string, sql: string, args: Array<number | string>): Promise<OverviewRow[]> {
  let names = prepared.get(client)
  if (names === undefined) prepared.set(client, names = new Set())
  if (!names.has(name)) {
    // another backend on this engine and schema (tests, a second node) may have prepared it
    await client.query(`PREPARE ${name} (int, text, text, int) AS ${sql}`).catch((err: unknown) => {
      if ((err as { code?: string }).code !== '42P05') throw err
    })
    names.add(name)
  }
  return await client.query<OverviewRow>(`EXECUTE ${name}(${literalArgs(args)})`)
}

export function overviewMethods (ctx: BackendContext, throttledByQueue: (stats: QueueStats[], flowLimited?: boolean) => Promise<void>): OverviewMethods {
  const { s } = ctx
  const sql = overviewSql(s)
  const readSql = eventReadSql(s, '$1', '$2', '$3')
  const preparedName = `sy_overview_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`

  async function runStatement (args: Array<number | string>): Promise<OverviewRow[]> {
    const client = ctx.db()
    if (client.kind !== 'pglite') return await client.query<OverviewRow>(sql, args)
    return await executePrepared(client, preparedName, sql, args)
  }

  return {
    async readOverview (req): Promise<OverviewRead> {
      // core checked the request (core/backend/arguments.ts); the event cursor is checked here, as readEvents does
      const pendingLimit = Math.min(req.pendingLimit, MAX_PENDING_HANDLERS)
      const events = req.events === null ? null : forwardRequest(req.events)
      const eventLimit = events?.limit ?? 0
      const [row] = await runStatement([pendingLimit, events?.after?.xid ?? '0', events?.after?.pos ?? '0', eventLimit === 0 ? 0 : eventLimit + 1])
      if (row === undefined) throw Errors.backendUnavailable('postgres: the overview read returned no row')
      const queues = row.queues.map(toQueueStats)
      await throttledByQueue(queues, row.settings?.flow_limited ?? false)
      const read = events === null || eventLimit === 0 ? [] : await readForward(ctx, readSql, events.after, eventLimit, row.pages === null ? null : inReadOrder(row.pages))
      return {
        queues,
        workers: row.workers.map(toWorkerInfo),
        coordination: coordinationOf(row.settings ?? undefined, row.leaders),
        pending: row.pending,
        events: read
      }
    }
  }
}
