import type { Backend, FlowLimitState, FlowScopeKind, QueueStats } from '@switchyard/core'
import type { BackendContext } from './context.ts'

// Flow control: per-queue, per-handler and per-tenant limits in flow_limits
// (migrations 012, 014, 020), enforced by lease_flow(). The plain lease (lease_tasks(),
// migration 015) refuses to lease while settings.flow_limited is set and, having taken
// nothing, reads the flag again and leases through lease_flow(): with no limit stored
// leasing costs nothing extra, and a limit stored by any process applies at once.

type FlowMethods = Pick<Backend, 'setFlowLimit' | 'clearFlowLimit' | 'listFlowLimits'>

/** throttled counts stop at this many tasks per limit (and per queue) */
export const THROTTLED_COUNT_CAP = 10_000
const MAX_LIMITS = 1000

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

export function flowMethods (ctx: BackendContext): FlowMethods & { throttledByQueue: (stats: QueueStats[], flowLimited?: boolean) => Promise<void> } {
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
    },

    async clearFlowLimit (scope) {
      return await ctx.db().transaction(async tx => {
        await tx.query(lockSettings)
        const rows = await tx.query(`DELETE FROM ${s}.flow_limits WHERE kind = $1 AND name = $2 RETURNING 1`, [scope.kind, scope.name])
        await tx.query(syncFlag)
        return rows.length > 0
      })
    },

    listFlowLimits: list,

    /**
     * fills QueueStats.throttled from the saturated limits (nothing to do without limits);
     * flowLimited: settings.flow_limited when the caller read it along the stats
     */
    async throttledByQueue (stats, flowLimited) {
      for (const q of stats) q.throttled = 0
      if (stats.length === 0 || flowLimited === false) return
      const limited = flowLimited ?? (await ctx.db().query<{ flow_limited: boolean }>(`SELECT flow_limited FROM ${s}.settings WHERE id = 1`))[0]?.flow_limited
      if (limited !== true) return
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
