// PGlite has no tasks_created (migration 029): a creation-time window is read as the id
// range created_id_bound() maps it to. The windows list and count what they did, read
// no task outside the range, and an enqueue after a clock stepped back keeps created_at
// in id order (the order the bounds rely on).
import t from 'tap'
import { loadMigrations, migrate, renderMigration } from './migrate.ts'
import { createPostgresBackendFromClient } from './backend.ts'
import { createPgliteClient } from './pglite-client.ts'
import { fillTasksSecondApart, memoryBackend, schemaBackend, task, taskSeqScans } from './test-support.ts'

const BASE = Date.parse('2026-01-01T00:00:00Z')

t.test('PGlite drops tasks_created; a server keeps it', async t => {
  const indexes = async (query: (sql: string) => Promise<Array<{ name: string }>>): Promise<string[]> =>
    (await query("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'tasks'")).map(r => r.name)
  const embedded = await memoryBackend(t)
  t.notOk((await indexes(async sql => await embedded.raw.query(sql))).includes('tasks_created'), 'PGlite')
  const server = await schemaBackend(t)
  const [row] = await server.raw.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND indexname = 'tasks_created'", [server.schema])
  t.equal(row?.n, 1, 'a Postgres server')
})

t.test('created_id_bound: the first id created at or after a time, at the ends and between', async t => {
  const { raw } = await memoryBackend(t)
  const bound = async (ms: number): Promise<number> =>
    Number((await raw.query<{ b: string }>('SELECT sy.created_id_bound(to_timestamp($1::float8 / 1000))::text AS b', [ms]))[0]?.b)
  t.equal(await bound(BASE), 0, 'no tasks')
  // ids 1..1000 created a second apart, with gaps: every third task deleted
  await raw.query(`INSERT INTO sy.tasks (id, queue, handler, payload, max_attempts, priority, timeout_ms, run_at, payload_size, state, created_at)
    SELECT g, 'q', 'h', '{}', 3, 0, 60000, now(), 2, 'ready', timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, 1000) g`)
  await raw.query('DELETE FROM sy.tasks WHERE id % 3 = 0')
  t.equal(await bound(BASE), 1, 'before every task: the first id')
  t.equal(await bound(BASE + 1000), 1)
  t.equal(await bound(BASE + 1500), 2, 'between two tasks: the later one')
  t.equal(await bound(BASE + 600_000), 600, 'a deleted task: from its id on (the next task is 601)')
  t.equal(await bound(BASE + 1_000_000), 999, 'the newest task: from 999 on (deleted, so the range starts at 1000)')
  t.equal(await bound(BASE + 998_000), 998, 'a task right after a deleted one')
  t.equal(await bound(BASE + 1_000_001), 1001, 'after every task: one past the newest id')
})

t.test('creation-time windows on PGlite list, page and count exactly, from the primary key', async t => {
  const { raw, backend } = await memoryBackend(t)
  // 20,000 tasks created a second apart, one in a thousand running, one in ten ready,
  // the rest succeeded; the window holds 1,000 of them, the newest of which is running
  await fillTasksSecondApart(raw, 'sy')
  const window = { since: BASE + 5_001_000, until: BASE + 6_000_000 }
  const scans = async (): Promise<number> => await taskSeqScans(raw, 'sy')
  const before = await scans()
  const page = await backend.listTasks({ ...window, limit: 50, offset: 0 })
  const next = await backend.listTasks({ ...window, limit: 50, offset: 0, after: page.next })
  const after = await scans()
  t.equal(page.total, 1000, 'the total counts the window exactly')
  t.same(page.tasks.map(task => task.id), Array.from({ length: 50 }, (_, k) => String(6000 - k)), 'newest first, from the window\'s newest')
  t.equal(page.tasks[0]?.state, 'processing', 'the running task, newest in the window, comes first')
  t.same(next.tasks.map(task => task.id), Array.from({ length: 50 }, (_, k) => String(5950 - k)), 'the next page continues')
  t.equal(after - before, 0, 'no sequential scan of tasks')

  // open-ended windows, a state, and a window with no task in it
  t.equal((await backend.listTasks({ since: BASE + 19_999_000, limit: 10, offset: 0 })).total, 2)
  t.equal((await backend.listTasks({ until: BASE + 2_000, limit: 10, offset: 0 })).total, 2)
  const ready = await backend.listTasks({ state: 'ready', ...window, limit: 200, offset: 0 })
  t.equal(ready.total, 99, 'the ready tasks of the window (one in ten, less the running one)')
  t.ok(ready.tasks.every(task => task.createdAt >= window.since && task.createdAt <= window.until))
  t.equal((await backend.listTasks({ since: BASE + 30_000_000, limit: 10, offset: 0 })).tasks.length, 0, 'after every task')
  t.equal((await backend.listTasks({ since: BASE + 3_000, until: BASE + 2_000, limit: 10, offset: 0 })).tasks.length, 0, 'an empty window')
})

t.test('an enqueue after the clock stepped back keeps created_at in id order, and windows find the task', async t => {
  const { raw, backend } = await memoryBackend(t)
  const [first] = await backend.enqueue([task('q')])
  // the newest task as if created an hour ahead of this clock
  await raw.query("UPDATE sy.tasks SET created_at = now() + interval '1 hour' WHERE id = $1", [first?.id])
  const ahead = (await backend.getTask(first?.id as string))?.createdAt as number
  const later = await backend.enqueue([task('q'), task('q', { payload: { n: 2 } })])
  for (const r of later) {
    const created = (await backend.getTask(r.id))?.createdAt as number
    t.ok(created >= ahead, 'never before the newest task')
  }
  const page = await backend.listTasks({ since: ahead, limit: 10, offset: 0 })
  t.same(page.tasks.map(task => task.id).sort(), [first?.id, ...later.map(r => r.id)].sort(), 'the window from that time holds all three')
})

t.test('the migration puts tasks stored before it in id order (a clock stepped back), so their windows find them', async t => {
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
  t.teardown(async () => { await raw.close() })
  // the schema as it was before migration 029, recorded as migrate() records it
  await raw.exec(`CREATE SCHEMA "sy"; CREATE TABLE "sy".migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
  for (const migration of loadMigrations().filter(m => m.version < 29)) {
    await raw.exec(renderMigration(migration.sql, 'sy'))
    await raw.query('INSERT INTO "sy".migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name])
  }
  // ids 1..6: 4 and 5 were stamped after the clock stepped back an hour
  await raw.query(`INSERT INTO sy.tasks (id, queue, handler, payload, max_attempts, priority, timeout_ms, run_at, payload_size, state, created_at)
    SELECT g, 'q', 'h', '{}', 3, 0, 60000, now(), 2, 'ready',
      timestamptz '2026-01-01 10:00:00+00' + g * interval '1 minute' - CASE WHEN g IN (4, 5) THEN interval '1 hour' ELSE interval '0' END
    FROM generate_series(1, 6) g`)
  t.same(await migrate(raw, 'sy'), loadMigrations().filter(m => m.version >= 29).map(m => m.version), 'the pending migrations applied')
  const rows = await raw.query<{ id: string, at: number }>('SELECT id::text AS id, extract(epoch FROM created_at)::float8 * 1000 AS at FROM sy.tasks ORDER BY id')
  const at = (minute: number): number => Date.parse('2026-01-01T10:00:00Z') + minute * 60_000
  t.same(rows.map(r => r.at), [at(1), at(2), at(3), at(3), at(3), at(6)], 'the two stepped-back tasks take the newest created_at before them; the others are unchanged')
  const backend = createPostgresBackendFromClient(raw, { schema: 'sy' })
  t.teardown(async () => { await backend.close() })
  await backend.init()
  const page = await backend.listTasks({ since: at(3), until: at(3), limit: 10, offset: 0 })
  t.same(page.tasks.map(task => task.id).sort(), ['3', '4', '5'], 'a window at that time finds them')
  t.equal((await backend.listTasks({ since: at(1), limit: 10, offset: 0 })).total, 6, 'and every task is in the open window')
})
