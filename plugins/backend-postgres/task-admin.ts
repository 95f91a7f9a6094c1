import { MAX_LIST_LIMIT, hasTimeWindow, taskWindowField, type Backend, type CancelOutcome, type DeleteResult, type RequeueResult, type SkippedTask, type TaskFilter, type TaskPage, type TaskState } from '@switchyard/core'
import { likeContains, parseId, type BackendContext } from './context.ts'
import { taskColumns, toTask, type TaskRow } from './task-rows.ts'
import { CASCADE_COLUMNS, reportCascade, type CascadeColumns } from './dependencies.ts'
import { afterSql, LEASE_INDEXED, ORDER_SQL, parsePosition, pendingHandlerScan, positionColumns, positionOf, taskOrder, type PositionRow, type TaskOrder } from './task-pages.ts'
import type { SqlParam } from './sql-client.ts'

// Operator actions on tasks: cancel, replay/requeue, delete, get, list, DLQ stats,
// pruning. Each state change re-checks the state under the row lock in the same
// statement, so it wins or loses atomically against workers.

type TaskAdminMethods = Pick<Backend, 'cancelTask' | 'requeueTasks' | 'deleteTasks' | 'getTask' | 'listTasks' | 'dlqStats' | 'pruneFinished'>

/** counting stops here: past it listTasks reports total null instead of scanning on */
export const COUNT_CAP = 10_000
const MAX_BATCH_IDS = 10_000

// Arguments arrive checked by core (core/backend/arguments.ts): states are task
// states, ids are at most MAX_BATCH_IDS strings.

/**
 * How a creation-time window is read: by tasks_created (a server), or on PGlite as a
 * range of ids, the bounds from `<schema>.created_id_bound()` (migration 029).
 */
type CreatedWindow = { index: 'tasks_created' } | { index: 'primary_key', schema: string }

/** WHERE clauses for a TaskFilter, numbering parameters after `params` */
function filterSql (filter: TaskFilter, params: SqlParam[], created: CreatedWindow): string[] {
  const where: string[] = []
  if (filter.state !== undefined) {
    params.push(filter.state)
    where.push(`t.state = $${params.length}`)
  }
  if (filter.queue !== undefined) {
    params.push(String(filter.queue))
    where.push(`t.queue = $${params.length}`)
  }
  if (filter.handler !== undefined) {
    params.push(String(filter.handler))
    where.push(`t.handler = $${params.length}`)
  }
  if (filter.query !== undefined && filter.query !== '') {
    params.push(likeContains(String(filter.query)))
    const p = `$${params.length}`
    where.push(`(t.id::text ILIKE ${p} OR t.handler ILIKE ${p} OR t.payload::text ILIKE ${p} OR t.last_error ILIKE ${p})`)
  }
  if (filter.tenant !== undefined) {
    params.push(String(filter.tenant))
    where.push(`t.tenant = $${params.length}`)
  }
  if (filter.correlationId !== undefined) {
    params.push(String(filter.correlationId))
    where.push(`t.correlation_id = $${params.length}`)
  }
  where.push(...windowSql(filter, params, created))
  return where
}

/**
 * The time window, judged on the millisecond the task shows (ms() rounds), written as
 * a range over the raw column so the indexes serve it: tasks_finished_order (state,
 * finished_at, id) and tasks_created (created_at, migrations 009 and 022). On PGlite,
 * which has no tasks_created, a creation-time window is also the id range it maps to
 * (created_at does not decrease with the id there, migration 029), which the primary
 * key serves; created_at is still checked on each row of it. Each bound is a subquery,
 * computed once per statement, never once per row a plan might filter.
 */
function windowSql (filter: TaskFilter, params: SqlParam[], created: CreatedWindow): string[] {
  if (!hasTimeWindow(filter)) return []
  const byCreation = taskWindowField(filter) === 'created'
  const column = byCreation ? 't.created_at' : 't.finished_at'
  const idBound = byCreation && created.index === 'primary_key' ? `${created.schema}.created_id_bound` : null
  const where: string[] = []
  if (filter.since !== undefined) {
    params.push(filter.since)
    const at = `to_timestamp(($${params.length}::float8 - 0.5) / 1000)`
    where.push(`${column} >= ${at}`)
    if (idBound !== null) where.push(`t.id >= (SELECT ${idBound}(${at}))`)
  }
  if (filter.until !== undefined) {
    params.push(filter.until)
    const at = `to_timestamp(($${params.length}::float8 + 0.5) / 1000)`
    where.push(`${column} < ${at}`)
    if (idBound !== null) where.push(`t.id < (SELECT ${idBound}(${at}))`)
  }
  return where
}

/**
 * tasks_created holds every task but the processing ones (migration 022), so a window
 * on the creation time without a state is read as its two halves: tasks_created for
 * the tasks not running, tasks_processing (few) for the running ones. Said as one
 * condition, neither index implies it and the planner reads every task.
 */
const NOT_RUNNING = "t.state <> 'processing'"
const RUNNING = "t.state = 'processing'"
function splitsCreatedWindow (filter: TaskFilter, created: CreatedWindow): boolean {
  return created.index === 'tasks_created' && hasTimeWindow(filter) && filter.state === undefined && taskWindowField(filter) === 'created'
}


/** GetDLQStats' one statement over the dead rows of handler_counts (migrations 017, 021); exported for the plan check in dlq-stats.test.ts */
export function dlqStatsSql (s: string): string {
  return `
        SELECT queue, handler, sum(n)::float8 AS n,
          (SELECT ${s}.ms(min(finished_at)) FROM ${s}.tasks WHERE state = 'dead' AND finished_at IS NOT NULL) AS oldest,
          (SELECT ${s}.ms(max(finished_at)) FROM ${s}.tasks WHERE state = 'dead' AND finished_at IS NOT NULL) AS newest
        FROM ${s}.handler_counts WHERE kind = 'dead' GROUP BY queue, handler HAVING sum(n) > 0 LIMIT 100000`
}

/** how a page reads its ranges: once (null), per queue, or per (queue, handler) */
type Split = null | { queues: 'all' | { param: string }, byHandler: boolean }

/**
 * A list in a pending state is read from tasks_lease_handler, whose ranges are per
 * (queue, handler): per queue when the handler is given, per (queue, handler) when it is
 * not, every queue when no queue is given (the queue's name a parameter added to `params`).
 */
function waitingSplit (filter: TaskFilter, params: SqlParam[]): Split {
  if (filter.state === undefined || !LEASE_INDEXED.includes(filter.state)) return null
  const byHandler = filter.handler === undefined
  if (filter.queue === undefined) return { queues: 'all', byHandler }
  if (!byHandler) return null
  params.push(String(filter.queue))
  return { queues: { param: `$${params.length}` }, byHandler }
}

export function taskAdminMethods (ctx: BackendContext): TaskAdminMethods {
  const { s } = ctx
  // PGlite's schema has no tasks_created (migration 029)
  const createdWindow = (): CreatedWindow => ctx.db().kind === 'pglite' ? { index: 'primary_key', schema: s } : { index: 'tasks_created' }

  /**
   * One page: the keys of each index range (the whole order, or the ranges after a
   * position) read in list order and merged, then the rows of the page joined by id.
   * `split` reads the ranges once per queue (`queues`: every queue; or one queue, an SQL
   * expression), or once per (queue, handler) with the handlers of each queue's pending
   * tasks (`byHandler`): tasks_lease_handler starts with the queue and the handler.
   */
  function pageSql (order: TaskOrder, where: string[], ranges: string[][], split: Split, lim: string, off: string): string {
    const sort = ORDER_SQL[order]
    const keys = (conds: string[]): string =>
      `(SELECT t.id, t.priority, t.run_at, t.finished_at FROM ${s}.tasks t ${conds.length > 0 ? 'WHERE ' + conds.join(' AND ') : ''} ORDER BY ${sort} LIMIT ${lim}::bigint + ${off}::bigint)`
    const per = split === null ? [] : ['t.queue = q.name', ...(split.byHandler ? ['t.handler = h.name'] : [])]
    const union = ranges.map(range => keys([...where, ...per, ...range])).join(' UNION ALL ')
    const queues = split === null ? '' : split.queues === 'all' ? `${s}.queues q` : `(SELECT ${split.queues.param}::text AS name) AS q`
    const handlers = split?.byHandler === true ? ` CROSS JOIN LATERAL ${pendingHandlerScan(s, 'q.name')} AS h` : ''
    const from = split === null ? `(${union}) AS c` : `${queues}${handlers} CROSS JOIN LATERAL (${union}) AS c`
    return `
      WITH page AS MATERIALIZED (
        SELECT c.id, c.priority, c.run_at, c.finished_at FROM ${from} ORDER BY ${sort.replaceAll('t.', 'c.')} LIMIT ${lim} OFFSET ${off}
      )
      SELECT ${taskColumns(s)}, ${positionColumns()} FROM page JOIN ${s}.tasks t ON t.id = page.id ORDER BY ${sort}`
  }

  const cancelSql = `
    UPDATE ${s}.tasks t SET state = 'canceled', finished_at = now(), updated_at = now()
    WHERE id = $1 AND state IN ('scheduled', 'ready', 'retrying', 'blocked')
    RETURNING t.id::text AS id, ${CASCADE_COLUMNS}`

  // states as seen now; the change below re-checks them under the row locks
  const statesSql = `SELECT t.id::text AS id, t.state FROM ${s}.tasks t WHERE t.id = ANY($1::bigint[])`

  const requeueSql = `
    WITH target AS MATERIALIZED (
      SELECT t.id FROM ${s}.tasks t WHERE t.id = ANY($1::bigint[]) AND t.state = ANY($2::text[]) FOR UPDATE OF t
    )
    UPDATE ${s}.tasks t SET state = 'ready', attempts = 0, replays = t.replays + 1, run_at = now(),
      queue = coalesce($3, t.queue), payload = coalesce($4::jsonb, t.payload), payload_size = coalesce($5, t.payload_size),
      finished_at = NULL, lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, result = NULL, progress = NULL, updated_at = now()
    FROM target WHERE t.id = target.id
    RETURNING t.id::text AS id`

  // A deleted parent takes its edges with it: its children are read in the same
  // statement (its snapshot still holds the edges) for reportCascade.
  const deleteSql = `
    WITH gone AS (
      DELETE FROM ${s}.tasks t WHERE t.id = ANY($1::bigint[]) AND t.state = ANY($2::text[])
      RETURNING t.id, t.state, ${CASCADE_COLUMNS}
    )
    SELECT gone.id::text AS id, gone.cascade_at, false AS has_children,
      CASE WHEN gone.has_children AND gone.state <> 'succeeded' THEN ARRAY(SELECT d.child::text FROM ${s}.task_deps d WHERE d.parent = gone.id) END AS orphans
    FROM gone`

  /** partitions ids into those in fromStates (in request order) and the skipped rest */
  async function classify (ids: string[], fromStates: TaskState[]): Promise<{ movable: string[], skipped: SkippedTask[] }> {
    const valid = ids.map(parseId)
    const rows = await ctx.db().query<{ id: string, state: TaskState }>(statesSql, [valid.filter((v): v is string => v !== null)])
    const states = new Map(rows.map(r => [r.id, r.state]))
    const movable: string[] = []
    const skipped: SkippedTask[] = []
    for (const [i, id] of ids.entries()) {
      const state = valid[i] === null ? undefined : states.get(valid[i] as string)
      if (state === undefined) skipped.push({ id, reason: 'not_found' })
      else if (fromStates.includes(state)) movable.push(id)
      else skipped.push({ id, reason: 'wrong_state', state })
    }
    return { movable, skipped }
  }

  /** moved ids in request order; ids that changed state since classify() are skipped with their new state */
  async function settle (requested: string[], moved: Set<string>, classified: { movable: string[], skipped: SkippedTask[] }): Promise<{ done: string[], skipped: SkippedTask[] }> {
    const done = classified.movable.filter(id => moved.has(parseId(id) as string))
    const raced = classified.movable.filter(id => !moved.has(parseId(id) as string))
    const skipped = [...classified.skipped]
    if (raced.length > 0) {
      const now = await classify(raced, [])
      skipped.push(...now.skipped)
    }
    const order = new Map(requested.map((id, i) => [id, i]))
    skipped.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0))
    return { done, skipped }
  }

  async function idsForFilter (filter: TaskFilter & { limit: number }, fromStates: TaskState[]): Promise<string[]> {
    const limit = Math.min(filter.limit, MAX_BATCH_IDS)
    if (limit === 0 || fromStates.length === 0) return []
    const params: SqlParam[] = [fromStates]
    const where = ['t.state = ANY($1::text[])', ...filterSql(filter, params, createdWindow())]
    params.push(limit)
    const rows = await ctx.db().query<{ id: string }>(
      `SELECT t.id::text AS id FROM ${s}.tasks t WHERE ${where.join(' AND ')} ORDER BY t.id LIMIT $${params.length}`, params)
    return rows.map(r => r.id)
  }

  async function countMatching (filter: TaskFilter, where: string[], params: SqlParam[]): Promise<number | null> {
    if (filter.handler === undefined && (filter.query === undefined || filter.query === '') && !hasTimeWindow(filter) && filter.tenant === undefined && filter.correlationId === undefined) {
      // exact from the counters, O(queues)
      const p: SqlParam[] = []
      const cond: string[] = []
      if (filter.queue !== undefined) { p.push(String(filter.queue)); cond.push(`queue = $${p.length}`) }
      if (filter.state !== undefined) { p.push(filter.state); cond.push(`state = $${p.length}`) }
      const [row] = await ctx.db().query<{ n: number }>(
        `SELECT coalesce(sum(n), 0)::float8 AS n FROM ${s}.queue_counts ${cond.length > 0 ? 'WHERE ' + cond.join(' AND ') : ''}`, p)
      return row?.n ?? 0
    }
    // the halves as an OR: a BitmapOr of tasks_created and tasks_processing
    const conds = splitsCreatedWindow(filter, createdWindow()) ? [...where, `(${NOT_RUNNING} OR ${RUNNING})`] : where
    const [row] = await ctx.db().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${s}.tasks t ${conds.length > 0 ? 'WHERE ' + conds.join(' AND ') : ''} LIMIT ${COUNT_CAP + 1}) AS capped`, params)
    const n = row?.n ?? 0
    return n > COUNT_CAP ? null : n
  }

  return {
    async cancelTask (id): Promise<CancelOutcome> {
      const parsed = parseId(id)
      if (parsed === null) return { outcome: 'not_found' }
      const canceled = await ctx.db().query<{ id: string } & CascadeColumns>(cancelSql, [parsed])
      if (canceled.length > 0) {
        await reportCascade(ctx, canceled)
        return { outcome: 'canceled' }
      }
      // a fresh statement reads the state that beat us (the UPDATE waited for it)
      const [row] = await ctx.db().query<{ state: TaskState }>(`SELECT state FROM ${s}.tasks WHERE id = $1`, [parsed])
      return row === undefined ? { outcome: 'not_found' } : { outcome: 'conflict', state: row.state }
    },

    async requeueTasks (req): Promise<RequeueResult> {
      const { fromStates } = req
      const ids = req.ids !== undefined ? [...new Set(req.ids)] : await idsForFilter(req.filter as TaskFilter & { limit: number }, fromStates)
      const classified = await classify(ids, fromStates)
      if (req.dryRun === true || classified.movable.length === 0) return { requeued: classified.movable, skipped: classified.skipped }
      const payload = req.payload === undefined ? null : JSON.stringify(req.payload)
      if (req.queue !== undefined) await ctx.db().query(`INSERT INTO ${s}.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [req.queue])
      const rows = await ctx.db().query<{ id: string }>(requeueSql, [
        classified.movable.map(id => parseId(id) as string), fromStates, req.queue ?? null, payload, payload === null ? null : Buffer.byteLength(payload)
      ])
      const { done, skipped } = await settle(ids, new Set(rows.map(r => r.id)), classified)
      return { requeued: done, skipped }
    },

    async deleteTasks (req): Promise<DeleteResult> {
      const { fromStates } = req
      const ids = [...new Set(req.ids)]
      const classified = await classify(ids, fromStates)
      if (req.dryRun === true || classified.movable.length === 0) return { deleted: classified.movable, skipped: classified.skipped }
      const rows = await ctx.db().query<{ id: string, orphans: string[] | null } & CascadeColumns>(deleteSql, [classified.movable.map(id => parseId(id) as string), fromStates])
      await reportCascade(ctx, rows, rows.flatMap(row => row.orphans ?? []))
      const { done, skipped } = await settle(ids, new Set(rows.map(r => r.id)), classified)
      return { deleted: done, skipped }
    },

    async getTask (id) {
      const parsed = parseId(id)
      if (parsed === null) return null
      const [row] = await ctx.db().query<TaskRow>(`SELECT ${taskColumns(s)} FROM ${s}.tasks t WHERE t.id = $1`, [parsed])
      return row === undefined ? null : toTask(row)
    },

    async listTasks (req) {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      const order = taskOrder(req.state)
      const after = req.after === undefined ? null : parsePosition(order, req.after)
      const offset = after === null ? req.offset : 0
      const params: SqlParam[] = []
      const created = createdWindow()
      const where = filterSql(req, params, created)
      // a finished state always has finished_at; saying so lets the partial index
      // tasks_finished_order (state, finished_at, id) WHERE finished_at IS NOT NULL serve the
      // newest-first order instead of a sort over every task in that state
      const pageWhere = order === 'finished' && req.state !== undefined ? [...where, 't.finished_at IS NOT NULL'] : where
      const pageParams = [...params]
      const positioned = after === null ? [[]] : afterSql(after, pageParams)
      // the halves as ranges of their own, merged like the ranges after a position
      const ranges = splitsCreatedWindow(req, created) ? positioned.flatMap(range => [[...range, NOT_RUNNING], [...range, RUNNING]]) : positioned
      // one row past the page tells whether another page follows
      pageParams.push(limit + 1, offset)
      const [lim, off] = [`$${pageParams.length - 1}`, `$${pageParams.length}`]
      // A waiting state: each (queue, handler) range of tasks_lease_handler gives its
      // first tasks in run order and the page is cut from their merge, so a page of a
      // million scheduled tasks reads O(queues x handlers x page), not all of them.
      const split = waitingSplit(req, pageParams)
      const rows = limit === 0 ? [] : await ctx.db().query<TaskRow & PositionRow>(pageSql(order, pageWhere, ranges, split, lim, off), pageParams)
      const last = rows.length > limit ? rows[limit - 1] : undefined
      const total = await countMatching(req, where, params)
      const page: TaskPage = { tasks: rows.slice(0, limit).map(toTask), total }
      if (last !== undefined) page.next = positionOf(order, last)
      return page
    },

    async dlqStats () {
      // handler_counts (kept by the count triggers, migrations 017 and 021) holds the dead
      // tasks per (queue, handler) and connection shard, so this reads O(queues x handlers
      // x 16) rows and never a dead task; the oldest and newest failure are the two ends
      // of tasks_finished_order (state, finished_at, id), read once (init plans). Plan at
      // 400k dead tasks of a million (dlq-stats.test.ts checks it; 1 ms): an aggregate over
      // the dead rows of handler_counts, and two Index Only Scans of tasks_finished_order.
      const rows = await ctx.db().query<{ queue: string, handler: string, n: number, oldest: number | null, newest: number | null }>(dlqStatsSql(s))
      const stats = { total: 0, byQueue: {} as Record<string, number>, byHandler: {} as Record<string, number>, oldestFailedAt: rows[0]?.oldest ?? null, newestFailedAt: rows[0]?.newest ?? null }
      for (const r of rows) {
        stats.total += r.n
        stats.byQueue[r.queue] = (stats.byQueue[r.queue] ?? 0) + r.n
        stats.byHandler[r.handler] = (stats.byHandler[r.handler] ?? 0) + r.n
      }
      return stats
    },

    async pruneFinished (req) {
      const state = req.state
      const olderThan = req.finishedOlderThanMs
      const limit = Math.min(req.limit, 100_000)
      if (limit === 0) return 0
      // tasks_finished_order (state, finished_at, id) serves the oldest-first range; the count
      // triggers keep queue_counts exact, and the idempotency key goes with the row
      const [row] = await ctx.db().query<{ n: number }>(`
        WITH doomed AS MATERIALIZED (
          SELECT id FROM ${s}.tasks
          WHERE state = $1 AND finished_at < now() - $2 * interval '1 millisecond'
          ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED
        ), gone AS (
          DELETE FROM ${s}.tasks t USING doomed WHERE t.id = doomed.id RETURNING 1
        )
        SELECT count(*)::int AS n FROM gone`, [state, olderThan, limit])
      return row?.n ?? 0
    }
  }
}
