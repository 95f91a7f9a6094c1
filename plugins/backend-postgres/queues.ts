import { Errors, type Backend, type PendingHandler, type QueueStats } from '@switchyard/core'
import type { BackendContext } from './context.ts'

// Queue registry and counts. Counts come from queue_counts (kept by triggers), so
// this costs O(queues x states x shards) whatever the number of tasks.

type QueueMethods = Pick<Backend, 'queueStats' | 'ensureQueues' | 'setQueueWeight' | 'setQueuePaused' | 'pendingHandlers'>

const MAX_QUEUES = 10_000
const MAX_PENDING_HANDLERS = 10_000

interface StatsRow {
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

export function queueMethods (ctx: BackendContext): QueueMethods {
  const { s } = ctx
  const statsSql = `
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
      WHERE $1::text[] IS NULL OR queue = ANY($1::text[])
      GROUP BY queue
    ) AS c ON c.queue = q.name
    WHERE $1::text[] IS NULL OR q.name = ANY($1::text[])
    ORDER BY q.name
    LIMIT ${MAX_QUEUES}`

  // Distinct handlers of each queue's pending tasks by a skip scan over
  // tasks_lease_handler: one index descent per (queue, handler) found, whatever the
  // number of tasks. Breadth-first, so a small limit still samples every queue.
  const pendingHandlersSql = `
    WITH RECURSIVE found AS (
      SELECT q.name AS queue, (
        SELECT min(t.handler) FROM ${s}.tasks t WHERE t.queue = q.name AND t.state IN ('ready', 'scheduled', 'retrying')
      ) AS handler
      FROM unnest($1::text[]) AS q(name)
      UNION ALL
      SELECT f.queue, (
        SELECT min(t.handler) FROM ${s}.tasks t
        WHERE t.queue = f.queue AND t.state IN ('ready', 'scheduled', 'retrying') AND t.handler > f.handler
      )
      FROM found f WHERE f.handler IS NOT NULL
    )
    SELECT queue, handler FROM found WHERE handler IS NOT NULL LIMIT $2`

  return {
    async pendingHandlers (req): Promise<PendingHandler[]> {
      // core checked the request (core/backend/arguments.ts)
      const queues = [...new Set(req.queues)]
      const limit = req.limit
      if (queues.length === 0 || limit === 0) return []
      if (queues.length > MAX_QUEUES) throw Errors.validation(`queues: at most ${MAX_QUEUES} queue names`, { details: { field: 'queues' } })
      return await ctx.db().query<PendingHandler>(pendingHandlersSql, [queues, Math.min(limit, MAX_PENDING_HANDLERS)])
    },

    async queueStats (names): Promise<QueueStats[]> {
      if (names !== undefined && names.length === 0) return []
      const rows = await ctx.db().query<StatsRow>(statsSql, [names ?? null])
      return rows.map(r => ({
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
      }))
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
