import type { Backend, FlowLimitState, FlowScopeKind, LeasedTask, LeaseRequest, QueueStats } from '@switchyard/core'
import type { BackendContext } from './context.ts'

// Flow control: per-queue, per-handler and per-tenant limits in flow_limits
// (migrations 012, 014), enforced by lease_flow(). The plain lease statement stays as it was and refuses to
// lease while settings.flow_limited is set; this process caches that flag, so with no
// limit stored leasing costs nothing extra, and with one it goes through lease_flow().

type FlowMethods = Pick<Backend, 'setFlowLimit' | 'clearFlowLimit' | 'listFlowLimits'>

/** throttled counts stop at this many tasks per limit (and per queue) */
export const THROTTLED_COUNT_CAP = 10_000
const MAX_LIMITS = 1000
/** how often a process that leases re-reads whether limits exist */
const FLAG_TTL_MS = 1000
/** an empty plain lease re-reads the flag at most this often (a limit set elsewhere) */
const EMPTY_RECHECK_MS = 100

interface LimitRow {
  kind: FlowScopeKind
  name: string
  concurrency: number | null
  rate_limit: number | null
  rate_window_ms: number | null
  running: number
  started: number
  throttled: number
}

interface LeasedFlowRow {
  ord: string
  id: string
  queue: string
  handler: string
  payload: unknown
  attempts: number
  max_attempts: number
  priority: number
  timeout_ms: number
  created_at: number
  run_at: number
  lease_token: string
  lease_expires_at: number
}

export interface FlowLease {
  /** the cached flag: true when limits exist (as of the last read) */
  active: () => Promise<boolean>
  /** after a plain lease came back empty: were limits set since the last read? */
  recheck: () => Promise<boolean>
  lease: (req: LeaseRequest) => Promise<LeasedTask[]>
}

export function flowLease (ctx: BackendContext): FlowLease {
  const { s } = ctx
  let active = false
  let readAt = Number.NEGATIVE_INFINITY

  async function read (): Promise<boolean> {
    const [row] = await ctx.db().query<{ flow_limited: boolean }>(`SELECT flow_limited FROM ${s}.settings WHERE id = 1`)
    active = row?.flow_limited === true
    readAt = performance.now()
    return active
  }

  ctx.flowChanged = () => { readAt = Number.NEGATIVE_INFINITY }

  const leaseSql = `SELECT ord, id, queue, handler, payload, attempts, max_attempts, priority, timeout_ms, created_at, run_at,
      lease_token, lease_expires_at
    FROM ${s}.lease_flow($1::text[], $2::int, $3::text, $4::float8, $5::text[], $6::boolean)
    -- a cordoned worker leases nothing (worker-ops.ts): a one-time filter, so lease_flow() is not even run
    WHERE NOT EXISTS (SELECT 1 FROM ${s}.workers w WHERE w.id = $3::text AND w.cordoned)
    ORDER BY ord`

  return {
    async active () {
      if (performance.now() - readAt > FLAG_TTL_MS) return await read()
      return active
    },
    async recheck () {
      if (performance.now() - readAt < EMPTY_RECHECK_MS) return active
      return await read()
    },
    async lease (req) {
      const handlers = req.handlers === undefined ? null : [...new Set(req.handlers)]
      if (req.limit === 0 || req.queues.length === 0 || handlers?.length === 0) return []
      const rows = await ctx.db().query<LeasedFlowRow>(leaseSql,
        [req.queues, Math.min(req.limit, 10_000), req.workerId, req.leaseMs, handlers, ctx.asyncCommit])
      return rows.map(r => ({
        id: r.id,
        queue: r.queue,
        handler: r.handler,
        payload: r.payload,
        attempts: r.attempts,
        maxAttempts: r.max_attempts,
        priority: r.priority,
        timeoutMs: r.timeout_ms,
        createdAt: r.created_at,
        runAt: r.run_at,
        leaseToken: r.lease_token,
        leaseExpiresAt: r.lease_expires_at
      }))
    }
  }
}

export function flowMethods (ctx: BackendContext): FlowMethods & { throttledByQueue: (stats: QueueStats[]) => Promise<void> } {
  const { s } = ctx

  const listSql = `
    WITH now_ms AS (SELECT ${s}.ms(clock_timestamp()) AS v),
    usage AS (
      SELECT f.kind, f.name, f.concurrency, f.rate_limit, f.rate_window_ms,
        ${s}.flow_running(f.kind, f.name)::float8 AS running,
        (CASE WHEN f.rate_limit IS NULL THEN 0
          WHEN ${s}.flow_window(f.rate_window_ms, f.rate_window_no, (SELECT v FROM now_ms)) = f.rate_window_no THEN f.rate_used
          ELSE 0 END)::float8 AS started
      FROM ${s}.flow_limits f
      ORDER BY f.kind, f.name
      LIMIT ${MAX_LIMITS}
    )
    SELECT u.*, (CASE
      WHEN NOT ((u.concurrency IS NOT NULL AND u.running >= u.concurrency) OR (u.rate_limit IS NOT NULL AND u.started >= u.rate_limit)) THEN 0
      WHEN u.kind = 'queue' THEN (SELECT count(*) FROM (
        SELECT 1 FROM ${s}.tasks t WHERE t.queue = u.name AND t.state = 'ready' LIMIT ${THROTTLED_COUNT_CAP}) AS c)
      WHEN u.kind = 'tenant' THEN (SELECT count(*) FROM (
        SELECT 1 FROM ${s}.tasks t WHERE t.tenant = u.name AND t.state = 'ready' LIMIT ${THROTTLED_COUNT_CAP}) AS c)
      ELSE (SELECT count(*) FROM (
        SELECT 1 FROM ${s}.tasks t WHERE t.handler = u.name AND t.state = 'ready' LIMIT ${THROTTLED_COUNT_CAP}) AS c)
    END)::float8 AS throttled
    FROM usage u ORDER BY u.kind, u.name`

  async function list (): Promise<FlowLimitState[]> {
    const rows = await ctx.db().query<LimitRow>(listSql)
    return rows.map(r => {
      const rate = r.rate_limit === null || r.rate_window_ms === null ? null : { limit: r.rate_limit, windowMs: r.rate_window_ms }
      const saturated = (r.concurrency !== null && r.running >= r.concurrency) || (rate !== null && r.started >= rate.limit)
      return { kind: r.kind, name: r.name, concurrency: r.concurrency, rate, running: r.running, started: r.started, saturated, throttled: r.throttled }
    })
  }

  // The flag changes under the settings row lock, so a concurrent set and clear
  // cannot leave it false while a limit exists.
  const lockSettings = `SELECT 1 FROM ${s}.settings WHERE id = 1 FOR UPDATE`
  const syncFlag = `UPDATE ${s}.settings SET flow_limited = EXISTS (SELECT 1 FROM ${s}.flow_limits) WHERE id = 1`

  return {
    async setFlowLimit (scope, limit) {
      await ctx.db().transaction(async tx => {
        await tx.query(lockSettings)
        await tx.query(`
          INSERT INTO ${s}.flow_limits AS f (kind, name, concurrency, rate_limit, rate_window_ms)
          VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (kind, name) DO UPDATE SET concurrency = excluded.concurrency, rate_limit = excluded.rate_limit,
            rate_window_ms = excluded.rate_window_ms, updated_at = now(),
            rate_window_no = CASE WHEN f.rate_window_ms IS NOT DISTINCT FROM excluded.rate_window_ms THEN f.rate_window_no ELSE 0 END,
            rate_used = CASE WHEN f.rate_window_ms IS NOT DISTINCT FROM excluded.rate_window_ms THEN f.rate_used ELSE 0 END`,
        [scope.kind, scope.name, limit.concurrency, limit.rate?.limit ?? null, limit.rate?.windowMs ?? null])
        await tx.query(syncFlag)
      })
      ctx.flowChanged()
    },

    async clearFlowLimit (scope) {
      return await ctx.db().transaction(async tx => {
        await tx.query(lockSettings)
        const rows = await tx.query(`DELETE FROM ${s}.flow_limits WHERE kind = $1 AND name = $2 RETURNING 1`, [scope.kind, scope.name])
        await tx.query(syncFlag)
        return rows.length > 0
      }).finally(() => ctx.flowChanged())
    },

    listFlowLimits: list,

    /** fills QueueStats.throttled from the saturated limits (nothing to do without limits) */
    async throttledByQueue (stats) {
      for (const q of stats) q.throttled = 0
      if (stats.length === 0) return
      const [flag] = await ctx.db().query<{ flow_limited: boolean }>(`SELECT flow_limited FROM ${s}.settings WHERE id = 1`)
      if (flag?.flow_limited !== true) return
      const saturated = (await list()).filter(l => l.saturated)
      if (saturated.length === 0) return
      const queues = new Set(saturated.filter(l => l.kind === 'queue').map(l => l.name))
      const handlers = saturated.filter(l => l.kind === 'handler').map(l => l.name)
      const tenants = saturated.filter(l => l.kind === 'tenant').map(l => l.name)
      const rest = stats.filter(q => !queues.has(q.name)).map(q => q.name)
      const counts = new Map<string, number>()
      if ((handlers.length > 0 || tenants.length > 0) && rest.length > 0) {
        const rows = await ctx.db().query<{ queue: string, n: number }>(`
          SELECT q.name AS queue, (SELECT count(*) FROM (
            SELECT 1 FROM ${s}.tasks t WHERE t.queue = q.name AND t.state = 'ready'
              AND (t.handler = ANY($2::text[]) OR t.tenant = ANY($3::text[])) LIMIT ${THROTTLED_COUNT_CAP}) AS c)::float8 AS n
          FROM unnest($1::text[]) AS q(name)`, [rest, handlers, tenants])
        for (const r of rows) counts.set(r.queue, r.n)
      }
      for (const q of stats) q.throttled = queues.has(q.name) ? q.ready : counts.get(q.name) ?? 0
    }
  }
}
