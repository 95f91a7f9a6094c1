// Fills a Postgres backend (embedded PGlite data directory or a schema on the server)
// with many finished and waiting tasks, in one queue or spread over several (each
// block of 100 consecutive tasks goes to the next queue, so every queue holds every state), before `switchyard start` opens it, so the
// console's list pages can be measured against a backend that holds a million tasks.
// The rows go through the backend's own schema (its migrations run first) with one
// INSERT ... SELECT generate_series per batch: the statement triggers keep the per-queue
// counters exact, exactly as they do for enqueues. The tasks name a handler no worker
// runs and none is ready, so nothing leases them while the pages are measured.
import { createPgClient, createPgliteClient, createPostgresBackendFromClient, type SqlClient } from '../../plugins/backend-postgres/index.ts'

export const FILL_QUEUE = 'bench-fill'
export const FILL_HANDLER = 'bench.unserved'
const BATCH = 50_000

/**
 * The share of each state among the filled tasks (dead: the DLQ page's entries). No
 * ready tasks: tens of thousands of ready tasks of a handler no worker runs make each
 * lease poll of the workers' own handlers read past all of them (the lease statement's
 * plan took tasks_lease, not tasks_lease_handler, until migration 024 dropped tasks_lease;
 * bench/README.md), which would measure that instead of the console; the mix stays so
 * that admin-reads runs compare. Scheduled tasks wait 30 days ahead, past every poll.
 */
export const FILL_MIX = { succeeded: 0.4, dead: 0.4, scheduled: 0.15, canceled: 0.05 } as const

export interface FillTarget {
  /** embedded: the PGlite data directory; server: a connection string and schema */
  pgliteDir?: string
  connectionString?: string
  schema?: string
}

export interface FillResult { tasks: number, dead: number, ms: number }

async function open (target: FillTarget): Promise<SqlClient> {
  const settings = { 'switchyard.notify': 'off' }
  if (target.connectionString !== undefined) return await createPgClient({ connectionString: target.connectionString, poolSize: 1, statementTimeoutMs: 600_000, settings })
  if (target.pgliteDir === undefined) throw new Error('fill: give pgliteDir or connectionString')
  return await createPgliteClient({ dataDir: target.pgliteDir, statementTimeoutMs: 600_000, settings })
}

/**
 * Inserts `count` tasks in batches (progress after each), then ANALYZE, as a database
 * that grew to this size would have statistics. Finished tasks finish 10 ms apart,
 * newest last, as a steady stream of work would leave them.
 */
export async function fillTasks (target: FillTarget, count: number, onProgress: (done: number) => void, queues: string[] = [FILL_QUEUE]): Promise<FillResult> {
  if (queues.length === 0) throw new Error('fill: give at least one queue')
  const client = await open(target)
  const schema = target.schema ?? 'switchyard'
  const backend = createPostgresBackendFromClient(client, { schema })
  const started = Date.now()
  try {
    await backend.init() // the migrations
    const s = `"${schema}"`
    await client.query(`INSERT INTO ${s}.queues (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING`, [queues])
    const { succeeded, dead, scheduled } = FILL_MIX
    // g's position in [0, 1) picks the state, so the states interleave over time as they would
    const stateOf = `CASE
      WHEN (g % 100) < ${Math.round(succeeded * 100)} THEN 'succeeded'
      WHEN (g % 100) < ${Math.round((succeeded + dead) * 100)} THEN 'dead'
      WHEN (g % 100) < ${Math.round((succeeded + dead + scheduled) * 100)} THEN 'scheduled'
      ELSE 'canceled' END`
    for (let from = 1; from <= count; from += BATCH) {
      const to = Math.min(count, from + BATCH - 1)
      await client.query(`
        INSERT INTO ${s}.tasks (run_at, created_at, updated_at, started_at, finished_at, priority, attempts, max_attempts, timeout_ms,
                                payload_size, queue, state, handler, last_error, payload)
        SELECT CASE WHEN st = 'scheduled' THEN now() + interval '30 days' ELSE fin - interval '2 seconds' END,
               fin - interval '2 seconds', fin,
               CASE WHEN st IN ('succeeded', 'dead') THEN fin - interval '1 second' END,
               CASE WHEN st IN ('succeeded', 'dead', 'canceled') THEN fin END,
               0, CASE WHEN st = 'dead' THEN 3 WHEN st = 'succeeded' THEN 1 ELSE 0 END, 3, 60000,
               25, ($1::text[])[1 + (g / 100) % cardinality($1::text[])], st, $2,
               CASE WHEN st = 'dead' THEN 'bench: failed on purpose (task ' || g || ')' END,
               jsonb_build_object('n', g, 'bench', true)
        FROM (SELECT g, ${stateOf} AS st, now() - ($4::bigint - g) * interval '10 milliseconds' AS fin
              FROM generate_series($3::bigint, $5::bigint) AS g) AS rows`, [queues, FILL_HANDLER, from, count, to])
      onProgress(to)
    }
    await client.exec(`ANALYZE ${s}.tasks`)
    const [row] = await client.query<{ n: number }>(`SELECT coalesce(sum(n), 0)::float8 AS n FROM ${s}.queue_counts WHERE queue = ANY($1::text[]) AND state = 'dead'`, [queues])
    return { tasks: count, dead: row?.n ?? 0, ms: Date.now() - started }
  } finally {
    await backend.close()
    await client.close()
  }
}
