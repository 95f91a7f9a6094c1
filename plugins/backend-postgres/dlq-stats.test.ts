// GetDLQStats on a Postgres server holding many tasks: the statement reads the
// per-(queue, handler) dead counters of migrations 017 and 021 and the ends of tasks_finished_order,
// never the dead tasks themselves, and answers what a full scan would.
// SWITCHYARD_DLQ_PLAN_TASKS sets the size (default 1,000,000 tasks, 40 % dead, filled by
// bench/lib/fill-tasks.ts as the console benchmark does).
import t from 'tap'
import { fillTasks, FILL_HANDLER, FILL_MIX, FILL_QUEUE } from '../../bench/lib/fill-tasks.ts'
import { createPostgresBackend } from './index.ts'
import { dlqStatsSql } from './task-admin.ts'
import { dropSchema, testSchema, TEST_POSTGRES_URL, withRawClient } from './test-support.ts'

// 200,000 keeps the suite quick and already shows the plan a scan would take (80,000 dead
// tasks); SWITCHYARD_DLQ_PLAN_TASKS=1000000 checks it at the console benchmark's size.
const TASKS = Number(process.env.SWITCHYARD_DLQ_PLAN_TASKS ?? 200_000)

t.test(`dlqStats at ${TASKS} tasks reads counters, not the DLQ`, { timeout: 600_000 }, async t => {
  const schema = testSchema()
  t.teardown(async () => { await dropSchema(schema) })
  const filled = await fillTasks({ connectionString: TEST_POSTGRES_URL, schema }, TASKS, () => {})
  t.equal(filled.dead, Math.round(TASKS * FILL_MIX.dead), 'the fill dead-lettered its share')

  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 2 })
  await backend.init()
  t.teardown(async () => { await backend.close() })
  // a few dead tasks of another handler, through the backend's own paths (fail, then a replay and a delete)
  await backend.enqueue(Array.from({ length: 3 }, () => ({ queue: 'plan-q', handler: 'plan.other', payload: {}, maxAttempts: 1, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null })))
  const leased = await backend.leaseTasks({ workerId: 'plan-worker', queues: ['plan-q'], limit: 3, leaseMs: 60_000 })
  t.equal(leased.length, 3)
  await backend.failTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken, error: { message: 'fatal' }, retryDelayMs: null })))
  await backend.requeueTasks({ ids: [leased[0]!.id], fromStates: ['dead'] })
  await backend.deleteTasks({ ids: [leased[1]!.id], fromStates: ['dead'] })

  const s = `"${schema}"`
  const stats = await backend.dlqStats()
  const scanStarted = performance.now()
  const scanned = await withRawClient(async c => (await c.query<{ handler: string, n: number }>(
    `SELECT handler, count(*)::float8 AS n FROM ${s}.tasks WHERE state = 'dead' GROUP BY handler ORDER BY handler`)).rows)
  t.comment(`the full scan the statement used to be: ${Math.round(performance.now() - scanStarted)} ms`)
  t.same(stats.byHandler, Object.fromEntries(scanned.map(r => [r.handler, r.n])), 'per handler: what a full scan counts')
  t.same(stats.byQueue, { [FILL_QUEUE]: filled.dead, 'plan-q': 1 }, 'per queue')
  t.equal(stats.total, filled.dead + 1)
  t.ok(stats.byHandler[FILL_HANDLER] === filled.dead && stats.byHandler['plan.other'] === 1, 'the replayed and the deleted task left the counts')

  const plan = await withRawClient(async c => {
    await c.query(`ANALYZE ${s}.handler_counts`)
    const rows = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${dlqStatsSql(s)}`)).rows
    return rows.map(r => r['QUERY PLAN']).join('\n')
  })
  t.comment(plan)
  t.match(plan, /Scan (using \w+ )?on handler_counts/, 'the counts come from handler_counts')
  t.notMatch(plan, /Seq Scan on tasks|Bitmap Heap Scan on tasks/, 'no scan of the tasks table')
  t.match(plan, /Index Only Scan (Backward )?using tasks_finished_order/, 'oldest and newest: the ends of tasks_finished_order')
  const rowsRead = [...plan.matchAll(/actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/g)].map(m => Number(m[1]))
  t.ok(Math.max(...rowsRead) <= 100, `no plan node handles more than a few rows (max ${Math.max(...rowsRead)})`)
})
