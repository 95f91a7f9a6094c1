import type { Backend, QueueStats } from 'switchyard'
import type { BackendContext } from './context.ts'

// Queue registry and counts. Counts come from queue_counts (kept by triggers), so
// this costs O(queues x states x shards) whatever the number of tasks.

type QueueMethods = Pick<Backend, 'queueStats' | 'ensureQueues' | 'setQueueWeight' | 'setQueuePaused'>

const MAX_QUEUES = 10_000

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
}

export function queueMethods (ctx: BackendContext): QueueMethods {
  const { s } = ctx
  const statsSql = `
    SELECT q.name, q.weight, q.paused,
      coalesce(c.ready, 0) AS ready, coalesce(c.scheduled, 0) AS scheduled, coalesce(c.processing, 0) AS processing,
      coalesce(c.retrying, 0) AS retrying, coalesce(c.dead, 0) AS dead, coalesce(c.succeeded, 0) AS succeeded,
      coalesce(c.canceled, 0) AS canceled
    FROM ${s}.queues q
    LEFT JOIN (
      SELECT queue,
        (sum(n) FILTER (WHERE state = 'ready'))::float8 AS ready,
        (sum(n) FILTER (WHERE state = 'scheduled'))::float8 AS scheduled,
        (sum(n) FILTER (WHERE state = 'processing'))::float8 AS processing,
        (sum(n) FILTER (WHERE state = 'retrying'))::float8 AS retrying,
        (sum(n) FILTER (WHERE state = 'dead'))::float8 AS dead,
        (sum(n) FILTER (WHERE state = 'succeeded'))::float8 AS succeeded,
        (sum(n) FILTER (WHERE state = 'canceled'))::float8 AS canceled
      FROM ${s}.queue_counts
      WHERE $1::text[] IS NULL OR queue = ANY($1::text[])
      GROUP BY queue
    ) AS c ON c.queue = q.name
    WHERE $1::text[] IS NULL OR q.name = ANY($1::text[])
    ORDER BY q.name
    LIMIT ${MAX_QUEUES}`

  return {
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
