import { Errors, type Backend, type PendingHandler, type QueueStats } from '@switchyard/core'
import type { BackendContext } from './context.ts'

// Queue registry and counts. Counts come from queue_counts and handler_counts (kept by
// triggers), so this costs O(queues x states x shards) whatever the number of tasks.

type QueueMethods = Pick<Backend, 'queueStats' | 'ensureQueues' | 'setQueueWeight' | 'setQueuePaused' | 'pendingHandlers'>

export const MAX_QUEUES = 10_000
export const MAX_PENDING_HANDLERS = 10_000

export interface StatsRow {
  name: string
  weight: number | null
  paused: boolean
  ready: number
  scheduled: number
  processing: number
  retrying: number
  dead: number
  succeeded: number
  canceled: number
  blocked: number
}

/** the stats of the queues named by `names` (SQL text array; NULL: every queue), by name (one row per queue) */
export function queueStatsSql (s: string, names: string): string {
  return `
    SELECT q.name, q.weight, q.paused,
      coalesce(c.ready, 0) AS ready, coalesce(c.scheduled, 0) AS scheduled, coalesce(c.processing, 0) AS processing,
      coalesce(c.retrying, 0) AS retrying, coalesce(c.dead, 0) AS dead, coalesce(c.succeeded, 0) AS succeeded,
      coalesce(c.canceled, 0) AS canceled, coalesce(c.blocked, 0) AS blocked
    FROM ${s}.queues q
    LEFT JOIN (
      SELECT queue,
        (sum(n) FILTER (WHERE state = 'ready'))::float8 AS ready,
        (sum(n) FILTER (WHERE state = 'scheduled'))::float8 AS scheduled,
        (sum(n) FILTER (WHERE state = 'processing'))::float8 AS processing,
        (sum(n) FILTER (WHERE state = 'retrying'))::float8 AS retrying,
        (sum(n) FILTER (WHERE state = 'dead'))::float8 AS dead,
        (sum(n) FILTER (WHERE state = 'succeeded'))::float8 AS succeeded,
        (sum(n) FILTER (WHERE state = 'canceled'))::float8 AS canceled,
        (sum(n) FILTER (WHERE state = 'blocked'))::float8 AS blocked
      FROM ${s}.queue_counts
      WHERE ${names}::text[] IS NULL OR queue = ANY(${names}::text[])
      GROUP BY queue
    ) AS c ON c.queue = q.name
    WHERE ${names}::text[] IS NULL OR q.name = ANY(${names}::text[])
    ORDER BY q.name
    LIMIT ${MAX_QUEUES}`
}

/**
 * The (queue, handler) pairs with pending tasks (ready, scheduled, retrying) among the
 * queues `queues` (SQL text array), at most `limit`: from handler_counts (kept by the
 * count triggers, migration 021), O(queues x handlers x shards) rows whatever the number
 * of tasks. Breadth-first (every queue's first handler, then every queue's second...),
 * so a small limit still samples every queue.
 */
export function pendingHandlersSql (s: string, queues: string, limit: string): string {
  return `
    SELECT queue, handler FROM (
      SELECT queue, handler, row_number() OVER (PARTITION BY queue ORDER BY handler) AS rank
      FROM ${s}.handler_counts
      WHERE kind = 'pending' AND queue = ANY(${queues})
      GROUP BY queue, handler HAVING sum(n) > 0
    ) AS pending
    ORDER BY rank, queue
    LIMIT least(${limit}, ${MAX_PENDING_HANDLERS})`
}

export function toQueueStats (r: StatsRow): QueueStats {
  return {
    name: r.name,
    ready: r.ready,
    scheduled: r.scheduled,
    processing: r.processing,
    retrying: r.retrying,
    dead: r.dead,
    succeeded: r.succeeded,
    canceled: r.canceled,
    blocked: r.blocked,
    weight: r.weight,
    paused: r.paused
  }
}

export function queueMethods (ctx: BackendContext): QueueMethods {
  const { s } = ctx
  const statsSql = queueStatsSql(s, '$1')
  const pendingSql = pendingHandlersSql(s, '$1::text[]', '$2::int')

  return {
    async pendingHandlers (req): Promise<PendingHandler[]> {
      // core checked the request (core/backend/arguments.ts)
      const queues = [...new Set(req.queues)]
      const limit = req.limit
      if (queues.length === 0 || limit === 0) return []
      if (queues.length > MAX_QUEUES) throw Errors.validation(`queues: at most ${MAX_QUEUES} queue names`, { details: { field: 'queues' } })
      return await ctx.db().query<PendingHandler>(pendingSql, [queues, Math.min(limit, MAX_PENDING_HANDLERS)])
    },

    async queueStats (names): Promise<QueueStats[]> {
      if (names !== undefined && names.length === 0) return []
      const rows = await ctx.db().query<StatsRow>(statsSql, [names ?? null])
      return rows.map(toQueueStats)
    },

    async ensureQueues (names) {
      if (names.length === 0) return
      // sorted inserts: two callers registering the same queues never wait on each other in opposite orders
      await ctx.db().query(`INSERT INTO ${s}.queues (name) SELECT DISTINCT unnest($1::text[]) ORDER BY 1 ON CONFLICT (name) DO NOTHING`, [names])
    },

    async setQueueWeight (name, weight) {
      await ctx.db().query(`INSERT INTO ${s}.queues (name, weight) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET weight = excluded.weight`, [name, weight])
    },

    async setQueuePaused (name, paused) {
      await ctx.db().query(`INSERT INTO ${s}.queues (name, paused) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`, [name, paused])
    }
  }
}
