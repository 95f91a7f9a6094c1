import { MAX_LIST_LIMIT, type Backend, type RecoveredLeases } from '@switchyard/core'
import type { BackendContext } from './context.ts'
import { CASCADE_COLUMNS, reportCascade, type CascadeColumns } from './dependencies.ts'
import { toWorkerInfo, workerColumns, type WorkerRow } from './coordination.ts'
import { errorEntry } from './work.ts'

// Operators' actions on workers: the cordon flag on a registry entry (which the lease
// statements check: a cordoned worker id leases nothing), recovering the leases one
// worker holds now (instead of at their expiry), removing stale entries.

type WorkerOpsMethods = Pick<Backend, 'setWorkerCordoned' | 'releaseWorkerLeases' | 'sweepWorkers'>

const RELEASED_MESSAGE = 'lease released by an operator on the last attempt (worker lost)'

export function workerOpsMethods (ctx: BackendContext): WorkerOpsMethods {
  const { s } = ctx

  // Same transition as recoverExpiredLeases, chosen by worker instead of expiry. The
  // lease token is cleared, so the worker's late ack or extension matches no row.
  const releaseSql = `
    WITH held AS MATERIALIZED (
      SELECT id FROM ${s}.tasks WHERE state = 'processing' AND worker_id = $1
      ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
    )
    UPDATE ${s}.tasks t SET
      state = CASE WHEN t.attempts >= t.max_attempts THEN 'dead' ELSE 'ready' END,
      finished_at = CASE WHEN t.attempts >= t.max_attempts THEN now() END,
      last_error = CASE WHEN t.attempts >= t.max_attempts THEN '${RELEASED_MESSAGE}' ELSE t.last_error END,
      errors = CASE WHEN t.attempts >= t.max_attempts
        THEN ${errorEntry(s, 't.attempts', `'${RELEASED_MESSAGE}'`, 'NULL::text')}
        ELSE t.errors END,
      lease_token = NULL, lease_expires_at = NULL, worker_id = NULL, updated_at = now()
    FROM held WHERE t.id = held.id
    RETURNING t.id::text AS id, t.state, ${CASCADE_COLUMNS}`

  const previewSql = `
    SELECT id::text AS id, CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END AS state
    FROM ${s}.tasks WHERE state = 'processing' AND worker_id = $1 ORDER BY id LIMIT $2`

  const staleWhere = `w.expires_at <= now() AND w.last_heartbeat_at <= now() - $1 * interval '1 millisecond'`

  return {
    async setWorkerCordoned (id, cordoned) {
      const rows = await ctx.db().query(`UPDATE ${s}.workers SET cordoned = $2 WHERE id = $1 RETURNING id`, [id, cordoned])
      return rows.length > 0
    },

    async releaseWorkerLeases (req): Promise<RecoveredLeases> {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      if (limit === 0) return { requeued: [], dead: [] }
      const rows = await ctx.db().query<{ id: string, state: string } & Partial<CascadeColumns>>(req.dryRun === true ? previewSql : releaseSql, [req.workerId, limit])
      if (req.dryRun !== true) await reportCascade(ctx, rows.filter((row): row is typeof row & CascadeColumns => row.state === 'dead' && row.cascade_at !== undefined))
      return {
        requeued: rows.filter(r => r.state === 'ready').map(r => r.id),
        dead: rows.filter(r => r.state === 'dead').map(r => r.id)
      }
    },

    async sweepWorkers (req) {
      const limit = Math.min(req.limit, MAX_LIST_LIMIT)
      if (limit === 0) return []
      const rows = req.dryRun === true
        ? await ctx.db().query<WorkerRow>(`
            SELECT ${workerColumns(s)} FROM ${s}.workers w WHERE ${staleWhere}
            ORDER BY w.last_heartbeat_at, w.id LIMIT $2`, [req.olderThanMs, limit])
        : await ctx.db().query<WorkerRow>(`
            WITH swept AS (
              DELETE FROM ${s}.workers w WHERE w.id IN (
                SELECT w.id FROM ${s}.workers w WHERE ${staleWhere} ORDER BY w.last_heartbeat_at, w.id LIMIT $2 FOR UPDATE SKIP LOCKED)
              AND ${staleWhere}
              RETURNING w.*
            )
            SELECT ${workerColumns(s)} FROM swept w ORDER BY w.last_heartbeat_at, w.id`, [req.olderThanMs, limit])
      return rows.map(toWorkerInfo)
    }
  }
}
