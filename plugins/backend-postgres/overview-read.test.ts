// The admin overview's statement (readOverview, overview-read.ts) on a Postgres server
// and on PGlite: after many transitions of every kind the per-handler counters
// (handler_counts, migration 021) equal a full scan of tasks, readOverview's pending
// pairs and queue counts equal a full scan, and the statement's plan reads counters
// and small tables only, never tasks. Also: migration 021 counts the tasks stored
// before it. SWITCHYARD_OVERVIEW_PLAN_TASKS sets the server fill (default 50,000).
import t, { type Test } from 'tap'
import type { Backend, NewTask } from '@switchyard/core'
import { fillTasks } from '../../bench/lib/fill-tasks.ts'
import { createPgliteClient, createPostgresBackend, createPostgresBackendFromClient } from './index.ts'
import { loadMigrations, renderMigration } from './migrate.ts'
import { overviewSql } from './overview-read.ts'
import type { SqlParam } from './sql-client.ts'
import { dropSchema, task, TEST_POSTGRES_URL, testSchema, withRawClient } from './test-support.ts'

const PLAN_TASKS = Number(process.env.SWITCHYARD_OVERVIEW_PLAN_TASKS ?? 50_000)
const QUEUES = ['ov-a', 'ov-b', 'ov-c']
const HANDLERS = ['h.one', 'h.two', 'h.three']

type Query = <R>(sql: string, params?: SqlParam[]) => Promise<R[]>

function newTask (i: number, extra: Partial<NewTask> = {}): NewTask {
  return task(QUEUES[i % QUEUES.length]!, { handler: HANDLERS[Math.floor(i / 3) % HANDLERS.length]!, maxAttempts: 2, payload: { i }, ...extra })
}

/**
 * Moves tasks through every transition the counters follow: enqueue (ready, delayed,
 * blocked), lease (one handler, all), ack, retry, dead-letter, release, lease expiry,
 * parent release, requeue into another queue, cancel, delete, prune. Operations of a
 * round run concurrently, so on a server they come from different connections (shards).
 */
async function churn (backend: Backend): Promise<void> {
  await backend.enqueue(Array.from({ length: 240 }, (_, i) => newTask(i)))
  await backend.enqueue(Array.from({ length: 30 }, (_, i) => newTask(i, { delayMs: 3_600_000 })))
  const [parent] = await backend.enqueue([newTask(1, { queue: 'ov-parents' })])
  await backend.enqueue(Array.from({ length: 6 }, (_, i) => newTask(i, { dependsOn: [parent!.id] })))
  for (let round = 0; round < 12; round++) {
    const handlers = round % 3 === 0 ? [HANDLERS[round % HANDLERS.length]!] : undefined
    const leased = await backend.leaseTasks({ workerId: `w${round}`, queues: round % 2 === 0 ? QUEUES : [...QUEUES].reverse(), limit: 24, leaseMs: 60_000, handlers })
    const refs = leased.map(l => ({ id: l.id, leaseToken: l.leaseToken }))
    await Promise.all([
      backend.completeTasks(refs.slice(0, 6)),
      backend.failTasks(refs.slice(6, 12).map(r => ({ ...r, error: { message: 'again' }, retryDelayMs: Number(r.id) % 2 === 0 ? 0 : 3_600_000 }))),
      backend.failTasks(refs.slice(12, 16).map(r => ({ ...r, error: { message: 'fatal' }, retryDelayMs: null }))),
      backend.releaseTasks(refs.slice(16, 18)),
      backend.extendLeases(refs.slice(18, 20), 1)
    ])
  }
  await new Promise(resolve => setTimeout(resolve, 20))
  await backend.recoverExpiredLeases(100)
  // the parent succeeds: its children leave blocked for ready
  const [leasedParent] = await backend.leaseTasks({ workerId: 'wp', queues: ['ov-parents'], limit: 1, leaseMs: 60_000 })
  await backend.completeTasks([{ id: leasedParent!.id, leaseToken: leasedParent!.leaseToken }])

  const dead = (await backend.listTasks({ state: 'dead', limit: 100, offset: 0 })).tasks.map(x => x.id)
  const scheduled = (await backend.listTasks({ state: 'scheduled', limit: 100, offset: 0 })).tasks.map(x => x.id)
  const succeeded = (await backend.listTasks({ state: 'succeeded', limit: 100, offset: 0 })).tasks.map(x => x.id)
  const ready = (await backend.listTasks({ state: 'ready', limit: 100, offset: 0 })).tasks.map(x => x.id)
  await Promise.all([
    backend.requeueTasks({ ids: dead.slice(0, 5), fromStates: ['dead'], queue: 'ov-moved' }),
    backend.requeueTasks({ ids: succeeded.slice(0, 5), fromStates: ['succeeded'] }),
    backend.deleteTasks({ ids: [...dead.slice(5, 8), ...ready.slice(0, 4)], fromStates: ['dead', 'ready'] }),
    ...scheduled.slice(0, 4).map(async id => await backend.cancelTask(id))
  ])
  await backend.pruneFinished({ state: 'dead', finishedOlderThanMs: 0, limit: 2 })
}

interface Counted { kind: string, queue: string, handler: string, n: number }

/** handler_counts summed, and what a full scan of tasks counts, in the same order */
async function countsAndScan (query: Query, s: string): Promise<{ counted: Counted[], scanned: Counted[] }> {
  const counted = await query<Counted>(`
    SELECT kind, queue, handler, sum(n)::int AS n FROM ${s}.handler_counts
    GROUP BY kind, queue, handler HAVING sum(n) <> 0 ORDER BY kind, queue, handler`)
  const scanned = await query<Counted>(`
    SELECT kind, queue, handler, count(*)::int AS n FROM (
      SELECT CASE WHEN state IN ('ready', 'scheduled', 'retrying') THEN 'pending' WHEN state = 'dead' THEN 'dead' END AS kind, queue, handler
      FROM ${s}.tasks) AS t
    WHERE kind IS NOT NULL GROUP BY kind, queue, handler ORDER BY kind, queue, handler`)
  return { counted, scanned }
}

async function checkAgainstScan (t: Test, backend: Backend, query: Query, s: string): Promise<void> {
  const { counted, scanned } = await countsAndScan(query, s)
  t.ok(scanned.some(r => r.kind === 'pending') && scanned.some(r => r.kind === 'dead'), 'the churn left pending and dead tasks')
  t.same(counted, scanned, 'handler_counts: what a full scan counts, per kind, queue and handler')

  const read = await backend.readOverview!({ pendingLimit: 1000, events: null })
  const key = (p: { queue: string, handler: string }): string => `${p.queue}/${p.handler}`
  t.same(read.pending.map(key).sort(), scanned.filter(r => r.kind === 'pending').map(key).sort(), 'pending pairs: the pairs with pending tasks')
  const states = await query<{ queue: string, state: string, n: number }>(`SELECT queue, state, count(*)::int AS n FROM ${s}.tasks GROUP BY queue, state`)
  for (const stats of read.queues) {
    const scan = Object.fromEntries(states.filter(r => r.queue === stats.name).map(r => [r.state, r.n]))
    const got = Object.fromEntries(Object.entries(stats).filter(([k, v]) => typeof v === 'number' && k !== 'weight' && k !== 'throttled' && v !== 0))
    t.same(got, scan, `${stats.name}: counts as a full scan`)
  }
  const first = await backend.readOverview!({ pendingLimit: 2, events: null })
  t.equal(first.pending.length, 2, 'pendingLimit bounds the pairs')
  t.not(first.pending[0]!.queue, first.pending[1]!.queue, 'breadth-first: the first pairs come from different queues')
}

/** EXPLAIN (ANALYZE) of the overview statement, as text */
async function overviewPlan (query: Query, s: string): Promise<string> {
  const rows = await query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${overviewSql(s)}`, [1000, '0', '0', 1001])
  return rows.map(r => r['QUERY PLAN']).join('\n')
}

function checkPlan (t: Test, plan: string): void {
  t.comment(plan)
  t.notMatch(plan, /on tasks\b|using tasks_/, 'the statement never reads tasks (no scan of the table or its indexes)')
  t.match(plan, /on handler_counts/, 'pending pairs come from handler_counts')
  t.match(plan, /on queue_counts/, 'queue counts come from queue_counts')
  const rowsRead = [...plan.matchAll(/actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/g)].map(m => Number(m[1]))
  t.ok(Math.max(...rowsRead) <= 1000, `no plan node handles more than O(queues x states x shards) rows (max ${Math.max(...rowsRead)})`)
}

t.test('postgres: counters exact after churn; the overview statement reads no task', { timeout: 300_000 }, async t => {
  const schema = testSchema()
  const s = `"${schema}"`
  t.teardown(async () => { await dropSchema(schema) })
  const filled = await fillTasks({ connectionString: TEST_POSTGRES_URL, schema }, PLAN_TASKS, () => {}, ['ov-fill-1', 'ov-fill-2'])
  t.equal(filled.tasks, PLAN_TASKS)
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 4 })
  t.teardown(async () => { await backend.close() })
  await backend.init()
  const query: Query = async (sql, params) => await withRawClient(async c => (await c.query(sql, params as unknown[])).rows)
  await churn(backend)
  await checkAgainstScan(t, backend, query, s)
  await query(`ANALYZE ${s}.handler_counts`)
  await query(`ANALYZE ${s}.queue_counts`)
  checkPlan(t, await overviewPlan(query, s))
})

t.test('pglite: counters exact after churn; the overview statement reads no task', { timeout: 300_000 }, async t => {
  const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 60_000, settings: {} })
  t.teardown(async () => { await client.close() })
  const backend = createPostgresBackendFromClient(client, { schema: 'switchyard' })
  await backend.init()
  t.teardown(async () => { await backend.close() })
  const query: Query = async (sql, params) => await client.query(sql, params)
  await churn(backend)
  await checkAgainstScan(t, backend, query, '"switchyard"')
  checkPlan(t, await overviewPlan(query, '"switchyard"'))
})

t.test('migration 021 counts the pending and dead tasks stored before it', async t => {
  const schema = testSchema()
  const s = `"${schema}"`
  t.teardown(async () => { await dropSchema(schema) })
  await withRawClient(async c => {
    await c.query(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    for (const m of loadMigrations().filter(m => m.version < 21)) {
      await c.query(renderMigration(m.sql, schema))
      await c.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
    }
    // through the triggers of 017: dead tasks land in dead_counts, pending ones in no per-handler counter
    await c.query(`
      INSERT INTO ${s}.tasks (queue, handler, payload, payload_size, priority, max_attempts, timeout_ms, run_at, state, finished_at)
      SELECT 'm-' || (g % 2), 'h-' || (g % 5), '{}', 2, 0, 3, 60000, now(), st, CASE WHEN st IN ('dead', 'succeeded') THEN now() END
      FROM generate_series(1, 60) AS g, LATERAL (SELECT (ARRAY['ready', 'scheduled', 'retrying', 'dead', 'succeeded', 'processing'])[1 + g % 6] AS st) AS pick`)
  })
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 2 })
  t.teardown(async () => { await backend.close() })
  await backend.init()
  const query: Query = async (sql, params) => await withRawClient(async c => (await c.query(sql, params as unknown[])).rows)
  const { counted, scanned } = await countsAndScan(query, s)
  t.equal(scanned.reduce((sum, r) => sum + r.n, 0), 40, 'pending and dead tasks: 4 of every 6')
  t.same(counted, scanned, 'handler_counts after the migration: what a full scan counts')
  t.same((await backend.dlqStats()).total, 10, 'dlqStats: the dead tasks counted before')
  const pending = await backend.pendingHandlers({ queues: ['m-0', 'm-1'], limit: 100 })
  const key = (p: { queue: string, handler: string }): string => `${p.queue}/${p.handler}`
  t.same(pending.map(key).sort(), scanned.filter(r => r.kind === 'pending').map(key).sort(), 'pendingHandlers: every (queue, handler) pair with pending tasks')
})
