// PGlite on its own thread: Postgres errors keep their SQLSTATE fields across the
// thread, transactions commit and roll back, notifications come back, a statement
// running past its deadline keeps the connection until the thread answers, the
// main thread's timers run while a statement runs, and a thread that ends fails
// calls with BACKEND_UNAVAILABLE instead of leaving them waiting.
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import t from 'tap'
import { createPgliteClient } from './pglite-client.ts'
import { openWorkerEngine } from './pglite-thread.ts'
import { LOCK_FILE_NAME } from './datadir-lock.ts'

/** a statement that keeps PGlite busy for about `ms` (pg_sleep inside the engine) */
const busy = (ms: number): string => `SELECT pg_sleep(${ms / 1000})`

for (const thread of ['worker', 'main'] as const) {
  t.test(`${thread}: errors keep their code, transactions commit and roll back, notifications arrive`, { timeout: 120_000 }, async t => {
    const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, thread })
    t.teardown(() => client.close())
    await client.exec('CREATE TABLE t (id int PRIMARY KEY, note text)')
    await client.query('INSERT INTO t VALUES ($1, $2)', [1, 'one'])
    await t.rejects(client.query('INSERT INTO t VALUES ($1, $2)', [1, 'again']), { code: '23505', constraint: 't_pkey', message: /duplicate key/ }, 'a unique violation keeps its SQLSTATE and constraint')

    const rows = await client.transaction(async tx => {
      await tx.query('INSERT INTO t VALUES ($1, $2)', [2, 'two'])
      return await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM t')
    })
    t.same(rows, [{ n: 2 }], 'statements inside the transaction see its writes')
    await t.rejects(client.transaction(async tx => {
      await tx.query('INSERT INTO t VALUES ($1, $2)', [3, 'three'])
      throw new Error('changed my mind')
    }), { message: 'changed my mind' })
    await t.rejects(client.transaction(async tx => { await tx.query('INSERT INTO t VALUES ($1, $2)', [1, 'dup']) }), { code: '23505' })
    t.same(await client.query('SELECT id FROM t ORDER BY id'), [{ id: 1 }, { id: 2 }], 'the thrown and the failed transaction rolled back')

    const [typed] = await client.query<Record<string, unknown>>(`SELECT 5::int8 AS big, now() AS at, '{"a":[1]}'::jsonb AS doc, '\\x0102'::bytea AS bytes, ARRAY['x','y'] AS list`)
    t.type(typed?.at, Date, 'timestamps arrive as Dates')
    t.same(typed?.doc, { a: [1] })
    t.same([...(typed?.bytes as Uint8Array)], [1, 2])
    t.same(typed?.list, ['x', 'y'])
    const [docs] = await client.query<Record<string, unknown>>(`SELECT '[2, {"b": null}]'::json AS plain, ARRAY['{"a":1}'::jsonb, '[true]'::jsonb] AS docs, ARRAY['{"c":"d"}'::json] AS plains`)
    t.same(docs, { plain: [2, { b: null }], docs: [{ a: 1 }, [true]], plains: [{ c: 'd' }] }, 'json, and arrays of json, arrive parsed')

    const payloads: string[] = []
    const unlisten = await client.listen('sy_test', payload => payloads.push(payload))
    await client.query(`SELECT pg_notify('sy_test', 'hello')`)
    for (let i = 0; i < 50 && payloads.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
    t.same(payloads, ['hello'], 'the notification came back')
    await unlisten()
    await client.query(`SELECT pg_notify('sy_test', 'after')`)
    await new Promise(resolve => setTimeout(resolve, 50))
    t.same(payloads, ['hello'], 'none after unlisten')
  })
}

t.test('worker: the main thread keeps running while a statement runs; an overrun holds the connection until the thread answers', { timeout: 120_000 }, async t => {
  const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 200, settings: {}, thread: 'worker' })
  t.teardown(() => client.close())
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 10)
  const started = performance.now()
  await t.rejects(client.query(busy(1_000)), { code: 'BACKEND_TIMEOUT', message: /did not finish within 200 ms/ })
  t.ok(performance.now() - started < 900, 'the caller stopped waiting at its deadline')
  const next = client.query<{ n: number }>('SELECT 1 AS n')
  const nextStarted = performance.now()
  await t.rejects(next, { code: 'BACKEND_TIMEOUT', message: /never ran/ }, 'the next call waited behind the overrunning one and its own deadline passed')
  t.ok(performance.now() - nextStarted >= 150)
  clearInterval(timer)
  t.ok(ticks >= 20, `timers fired on the main thread meanwhile (${ticks} ticks of 10 ms)`)
  await new Promise(resolve => setTimeout(resolve, 800))
  t.same(await client.query('SELECT 1 AS n'), [{ n: 1 }], 'once the thread answered, calls run again')
})

t.test('worker: a thread that ends fails waiting and later calls with BACKEND_UNAVAILABLE', { timeout: 120_000 }, async t => {
  let thread: Worker | undefined
  const engine = await openWorkerEngine({ dir: null, settings: {}, optimizeWasm: false, lockFileName: LOCK_FILE_NAME }, worker => { thread = worker })
  const waiting = engine.query(busy(2_000))
  await new Promise(resolve => setTimeout(resolve, 100))
  await thread?.terminate()
  await t.rejects(waiting, { code: 'BACKEND_UNAVAILABLE', message: /thread ended unexpectedly/ })
  await t.rejects(engine.query('SELECT 1'), { code: 'BACKEND_UNAVAILABLE' })
  await t.rejects(engine.transaction(async tx => await tx.query('SELECT 1')), { code: 'BACKEND_UNAVAILABLE' })
  await engine.close()
  t.pass('close after the thread ended returns')
})

t.test('worker: close ends the thread and releases the data directory; later calls are refused', { timeout: 120_000 }, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-pglite-thread-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const client = await createPgliteClient({ dataDir: dir, statementTimeoutMs: 30_000, settings: {}, thread: 'worker' })
  await client.exec('CREATE TABLE kept (n int)')
  await client.query('INSERT INTO kept VALUES (7)')
  t.ok(existsSync(join(dir, LOCK_FILE_NAME)))
  await client.close()
  t.notOk(existsSync(join(dir, LOCK_FILE_NAME)), 'the lock is released')
  await t.rejects(client.query('SELECT 1'), { code: 'BACKEND_UNAVAILABLE', message: /closed/ })
  const again = await createPgliteClient({ dataDir: dir, statementTimeoutMs: 30_000, settings: {}, thread: 'worker' })
  t.teardown(() => again.close())
  t.same(await again.query('SELECT n FROM kept'), [{ n: 7 }], 'the data was written to the directory')
})
