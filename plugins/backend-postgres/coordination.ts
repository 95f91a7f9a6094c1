import { WORKER_RETENTION_MS, type Backend, type CoordinationState, type LeaderLock, type WorkerInfo } from '@switchyard/core'
import type { BackendContext } from './context.ts'

// Cluster-wide coordination kept in small tables: the global pause and the rate
// limiter (one settings row), leader locks with fencing tokens, the worker registry.

type CoordinationMethods = Pick<Backend, 'setGlobalPause' | 'getCoordinationState' | 'acquireLeader' | 'releaseLeader' |
'setRateLimit' | 'takeRatePermits' | 'heartbeatWorker' | 'listWorkers' | 'removeWorker'>

export const MAX_LEADERS = 1000
export const MAX_WORKERS = 10_000

export interface LeaderRow { name: string, holder: string, token: number, expires_at: number }
export interface WorkerRow {
  id: string
  host: string
  pid: number
  version: string
  queues: string[]
  handlers: string[]
  concurrency: number
  in_flight: number
  started_at: number
  last_heartbeat_at: number
  cordoned: boolean
  stale: boolean
}

/** the columns a WorkerRow reads (table alias w) */
export function workerColumns (s: string): string {
  return `w.id, w.host, w.pid, w.version, w.queues, w.handlers, w.concurrency, w.in_flight, ${s}.ms(w.started_at) AS started_at,
    ${s}.ms(w.last_heartbeat_at) AS last_heartbeat_at, w.cordoned, w.expires_at <= now() AS stale`
}

export function toWorkerInfo (r: WorkerRow): WorkerInfo {
  return {
    id: r.id,
    host: r.host,
    pid: r.pid,
    version: r.version,
    queues: r.queues,
    handlers: r.handlers,
    concurrency: r.concurrency,
    inFlight: r.in_flight,
    startedAt: r.started_at,
    lastHeartbeatAt: r.last_heartbeat_at,
    cordoned: r.cordoned,
    stale: r.stale
  }
}

export const toLock = (r: LeaderRow): LeaderLock => ({ name: r.name, holder: r.holder, token: r.token, expiresAt: r.expires_at })

/** the columns a LeaderRow reads */
export function leaderColumns (s: string): string {
  return `name, holder, token::float8 AS token, ${s}.ms(expires_at) AS expires_at`
}

/** the leader locks held now, by name */
export function heldLeadersSql (s: string): string {
  return `SELECT ${leaderColumns(s)} FROM ${s}.leaders WHERE holder <> '' AND expires_at > now() ORDER BY name LIMIT ${MAX_LEADERS}`
}

/** the live workers (includeStale: also those gone within WORKER_RETENTION_MS), by id */
export function workersSql (s: string, includeStale: boolean): string {
  const live = includeStale ? `expires_at > now() - ${WORKER_RETENTION_MS} * interval '1 millisecond'` : 'expires_at > now()'
  return `SELECT ${workerColumns(s)} FROM ${s}.workers w WHERE ${live} ORDER BY id LIMIT ${MAX_WORKERS}`
}

export interface SettingsRow { global_paused: boolean, rate_limit: number | null, rate_window_ms: number | null }

export function coordinationOf (settings: SettingsRow | undefined, leaders: LeaderRow[]): CoordinationState {
  return {
    globalPaused: settings?.global_paused ?? false,
    rateLimit: settings?.rate_limit == null || settings.rate_window_ms == null ? null : { limit: settings.rate_limit, windowMs: settings.rate_window_ms },
    leaders: leaders.map(toLock)
  }
}


export function coordinationMethods (ctx: BackendContext): CoordinationMethods {
  const { s } = ctx
  const leaderCols = leaderColumns(s)

  // The holder keeps its token on renewal; any change of holder (including after a
  // release, which blanks the holder) increments it, so tokens only ever grow.
  const acquireSql = `
    INSERT INTO ${s}.leaders AS l (name, holder, token, expires_at) VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
    ON CONFLICT (name) DO UPDATE SET
      holder = excluded.holder,
      token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END,
      expires_at = excluded.expires_at
    WHERE l.holder = excluded.holder OR l.holder = '' OR l.expires_at <= now()
    RETURNING ${leaderCols}`

  // The window is never moved backwards: a caller whose clock read is older than the
  // stored window (it waited for the row lock) counts against the stored one.
  const permitsSql = `
    WITH cur AS MATERIALIZED (
      SELECT rate_limit, rate_window_no, rate_used,
        greatest(rate_window_no, floor(extract(epoch FROM clock_timestamp()) * 1000 / rate_window_ms)::bigint) AS win
      FROM ${s}.settings WHERE id = 1 AND rate_limit IS NOT NULL FOR UPDATE
    ), calc AS (
      SELECT win, rate_limit, CASE WHEN rate_window_no = win THEN rate_used ELSE 0 END AS used FROM cur
    )
    UPDATE ${s}.settings st SET rate_window_no = calc.win, rate_used = calc.used + greatest(0, least($1, calc.rate_limit - calc.used))
    FROM calc WHERE st.id = 1
    RETURNING greatest(0, least($1, calc.rate_limit - calc.used))::int AS granted`

  const heartbeatSql = `
    WITH forgotten AS (
      DELETE FROM ${s}.workers WHERE expires_at < now() - ${WORKER_RETENTION_MS} * interval '1 millisecond' AND id <> $1
    )
    INSERT INTO ${s}.workers (id, host, pid, version, queues, concurrency, in_flight, started_at, last_heartbeat_at, expires_at, handlers)
    VALUES ($1, $2, $3, $4, $5::text[], $6, $7, 'epoch'::timestamptz + $8 * interval '1 millisecond', now(), now() + $9 * interval '1 millisecond', $10::text[])
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version, queues = excluded.queues,
      handlers = excluded.handlers,
      concurrency = excluded.concurrency, in_flight = excluded.in_flight, started_at = excluded.started_at,
      last_heartbeat_at = excluded.last_heartbeat_at, expires_at = excluded.expires_at
    RETURNING cordoned`

  return {
    async setGlobalPause (paused) {
      await ctx.db().query(`UPDATE ${s}.settings SET global_paused = $1 WHERE id = 1`, [paused])
    },

    async getCoordinationState () {
      const [settings] = await ctx.db().query<SettingsRow>(`SELECT global_paused, rate_limit, rate_window_ms FROM ${s}.settings WHERE id = 1`)
      const leaders = await ctx.db().query<LeaderRow>(heldLeadersSql(s))
      return coordinationOf(settings, leaders)
    },

    async acquireLeader (name, holder, ttlMs) {
      const [won] = await ctx.db().query<LeaderRow>(acquireSql, [name, holder, ttlMs])
      if (won !== undefined) return { acquired: true, lock: toLock(won) }
      const [current] = await ctx.db().query<LeaderRow>(
        `SELECT ${leaderCols} FROM ${s}.leaders WHERE name = $1 AND holder <> '' AND expires_at > now()`, [name])
      return { acquired: false, lock: current === undefined ? null : toLock(current) }
    },

    async releaseLeader (name, holder, token) {
      const rows = await ctx.db().query(
        `UPDATE ${s}.leaders SET holder = '', expires_at = now() WHERE name = $1 AND holder = $2 AND token = $3 RETURNING name`, [name, holder, token])
      return rows.length > 0
    },

    async setRateLimit (limit) {
      if (limit === null) {
        await ctx.db().query(`UPDATE ${s}.settings SET rate_limit = NULL, rate_window_ms = NULL, rate_window_no = 0, rate_used = 0 WHERE id = 1`)
        return
      }
      await ctx.db().query(`UPDATE ${s}.settings SET rate_limit = $1, rate_window_ms = $2, rate_window_no = 0, rate_used = 0 WHERE id = 1`, [limit.limit, limit.windowMs])
    },

    async takeRatePermits (n) {
      if (n === 0) return 0
      const [row] = await ctx.db().query<{ granted: number }>(permitsSql, [Math.min(n, 2_000_000_000)])
      return row === undefined ? n : row.granted
    },

    async heartbeatWorker (info: WorkerInfo, ttlMs) {
      const [row] = await ctx.db().query<{ cordoned: boolean }>(heartbeatSql, [
        info.id, String(info.host), Math.trunc(Number(info.pid)), String(info.version), info.queues.map(String),
        Math.trunc(Number(info.concurrency)), Math.trunc(Number(info.inFlight)), Math.trunc(Number(info.startedAt)), ttlMs,
        info.handlers.map(String)
      ])
      return { cordoned: row?.cordoned === true }
    },

    async listWorkers (options) {
      const rows = await ctx.db().query<WorkerRow>(workersSql(s, options?.includeStale === true))
      return rows.map(toWorkerInfo)
    },

    async removeWorker (id) {
      await ctx.db().query(`DELETE FROM ${s}.workers WHERE id = $1`, [String(id)])
    }
  }
}
