import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import type { Backend, NewTask } from '@switchyard/core'
import { createPgClient } from './pg-client.ts'
import { createPgliteClient } from './pglite-client.ts'
import { createPostgresBackendFromClient } from './backend.ts'
import type { SqlClient } from './sql-client.ts'

// Shared by this package's tests: a private schema per run on the real server.

export const TEST_POSTGRES_URL = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export function testSchema (): string {
  return `sy_test_${randomBytes(6).toString('hex')}`
}

export async function withRawClient<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000, statement_timeout: 30_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export async function dropSchema (schema: string): Promise<void> {
  await withRawClient(async c => { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) })
}

/**
 * A backend on a fresh schema of the test server over a client of its own, all of it
 * closed and dropped at teardown. `poolSize` 1 when the test reads the backend's session
 * state through `raw`; `wrap` hands the backend another client over the raw one (one
 * that counts statements).
 */
export async function schemaBackend (t: Test, options: { poolSize?: number, wrap?: (raw: SqlClient) => SqlClient } = {}): Promise<{ raw: SqlClient, backend: Backend, schema: string }> {
  const schema = testSchema()
  const raw = createPgClient({ connectionString: TEST_POSTGRES_URL, poolSize: options.poolSize ?? 2, statementTimeoutMs: 10_000, settings: {} })
  const backend = createPostgresBackendFromClient(options.wrap === undefined ? raw : options.wrap(raw), { schema })
  t.teardown(async () => {
    await backend.close()
    await raw.close()
    await dropSchema(schema)
  })
  await backend.init()
  return { raw, backend, schema }
}

/** the same on an in-memory PGlite database of its own (`schema` inside it), closed at teardown */
export async function memoryBackend (t: Test, options: { schema?: string, wrap?: (raw: SqlClient) => SqlClient } = {}): Promise<{ raw: SqlClient, backend: Backend }> {
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
  const backend = createPostgresBackendFromClient(options.wrap === undefined ? raw : options.wrap(raw), { schema: options.schema ?? 'sy' })
  t.teardown(async () => {
    await backend.close()
    await raw.close()
  })
  await backend.init()
  return { raw, backend }
}

/**
 * A client that forwards every call to `raw`, with `overrides` in place of some of them
 * (a test's view of the statements sent, or a different `kind`).
 */
export function forwardingClient (raw: SqlClient, overrides: Partial<Pick<SqlClient, 'kind' | 'query' | 'close'>> = {}): SqlClient {
  return {
    kind: overrides.kind ?? raw.kind,
    query: overrides.query ?? (async (text, params) => await raw.query(text, params)),
    exec: async text => { await raw.exec(text) },
    transaction: async fn => await raw.transaction(fn),
    listen: async (channel, onNotify) => await raw.listen(channel, onNotify),
    close: overrides.close ?? (async () => { await raw.close() })
  }
}

export function task (queue: string, overrides: Partial<NewTask> = {}): NewTask {
  return { queue, handler: 'test.handler', payload: {}, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null, ...overrides }
}

/** polls until check returns a truthy value or the deadline passes */
export async function waitUntil<T> (check: () => Promise<T | false | null | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== false && value !== null && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/**
 * 20,000 tasks in `s` (a quoted schema) created a second apart from 2026-01-01T00:00:00Z
 * (ids 1..20,000 on a fresh schema): one in a thousand running, one in ten ready, the rest
 * succeeded; analyzed, so the planner sees them (the creation-time window tests)
 */
export async function fillTasksSecondApart (client: SqlClient, s: string): Promise<void> {
  await client.query(`INSERT INTO ${s}.tasks (queue, handler, payload, max_attempts, priority, timeout_ms, run_at, payload_size, state, created_at, finished_at)
    SELECT 'q', 'h', '{}', 3, 0, 60000, now(), 2, CASE WHEN g % 1000 = 0 THEN 'processing' WHEN g % 10 = 0 THEN 'ready' ELSE 'succeeded' END,
      timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', CASE WHEN g % 10 <> 0 THEN now() END FROM generate_series(1, 20000) g`)
  await client.query(`ANALYZE ${s}.tasks`)
}

/** the sequential scans of `schema`'s tasks table so far (the statistics flushed first) */
export async function taskSeqScans (client: SqlClient, schema: string): Promise<number> {
  await client.query('SELECT pg_stat_force_next_flush()')
  const [row] = await client.query<{ n: number }>("SELECT coalesce(seq_scan, 0)::float8 AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'tasks'", [schema])
  return row?.n ?? 0
}
