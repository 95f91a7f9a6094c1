// The hot-path choices of this backend: asynchronous commit of lease/ack/extend/release
// stays inside those statements, event pages read back exactly (cursor inside a page,
// trimming across pages), the event-pages migration keeps an existing log, and a
// lease with a handler set never visits tasks of other handlers.
import t, { type Test } from 'tap'
import type { Backend } from '@switchyard/core'
import { waitFor } from '@switchyard/core/testing'
import type { SqlClient } from './index.ts'
import { createPgClient, createPostgresBackend, createPostgresBackendFromClient } from './index.ts'
import { loadMigrations, renderMigration } from './migrate.ts'
import { dropSchema, memoryBackend, schemaBackend, task, TEST_POSTGRES_URL, testSchema, withRawClient } from './test-support.ts'

async function settingAfterWork (t: Test, client: SqlClient, backend: Backend, queue: string): Promise<string> {
  await backend.enqueue([task(queue), task(queue), task(queue)])
  const [a, b, c] = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 3, leaseMs: 60_000 })
  if (a === undefined || b === undefined || c === undefined) throw new Error('expected three leased tasks')
  await backend.extendLeases([a], 60_000)
  t.same(await backend.completeTasks([a]), ['ok'])
  t.same(await backend.releaseTasks([b]), ['ok'])
  t.same(await backend.failTasks([{ ...c, error: { message: 'x' }, retryDelayMs: null }]), ['dead'])
  const [row] = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')
  return row?.synchronous_commit ?? ''
}

/**
 * A backend on a fresh schema over a one-connection client, so what the test reads on
 * `client` (a session setting, flushed statistics) comes from the connection the backend used.
 */
async function singleConnectionBackend (t: Test): Promise<{ client: SqlClient, backend: Backend, schema: string }> {
  const { raw, backend, schema } = await schemaBackend(t, { poolSize: 1 })
  return { client: raw, backend, schema }
}

t.test('postgres: the asynchronous commit of work statements does not leak into the session', async t => {
  // one connection, so the SHOW runs on the connection the work statements used
  const { client, backend } = await singleConnectionBackend(t)
  t.equal(await settingAfterWork(t, client, backend, 'q'), 'on', 'the session keeps synchronous_commit on')
  const [stats] = await backend.queueStats(['q'])
  t.match(stats, { ready: 1, processing: 0, succeeded: 1, dead: 1 }, 'every transition applied, counters exact')
})

t.test('pglite: the asynchronous commit of work statements does not leak into the session', async t => {
  const { raw: client, backend } = await memoryBackend(t, { schema: 'hot' })
  t.equal(await settingAfterWork(t, client, backend, 'q'), 'on')
})

t.test('asyncCommit: false leaves the work statements on the server setting', async t => {
  const schema = testSchema()
  const client = createPgClient({ connectionString: TEST_POSTGRES_URL, poolSize: 1, statementTimeoutMs: 10_000, settings: {} })
  const backend = createPostgresBackendFromClient(client, { schema, asyncCommit: false })
  t.teardown(async () => {
    await backend.close()
    await client.close()
    await dropSchema(schema)
  })
  await backend.init()
  t.equal(await settingAfterWork(t, client, backend, 'q'), 'on')
  t.throws(() => createPostgresBackend({ connectionString: TEST_POSTGRES_URL, asyncCommit: 'no' as unknown as boolean }), { code: 'VALIDATION_FAILED', message: /options\.asyncCommit/ })
})

/**
 * Waits until reads reach `lastId`. A page is held back while any older transaction in the
 * cluster runs (the event horizon), and the test files running beside this one migrate
 * schemas of their own in long transactions, so a read right after an append can
 * answer nothing yet.
 */
async function readsReach (backend: Backend, lastId: string): Promise<void> {
  await waitFor(async () => (await backend.readEvents({ afterId: null, limit: 100 })).at(-1)?.id === lastId, { timeoutMs: 30_000, intervalMs: 20, what: `reads to reach ${lastId}` })
}

t.test('event pages: a cursor inside a page, limits across pages, trimming whole pages', async t => {
  const schema = testSchema()
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1, maxEvents: 7 })
  t.teardown(async () => {
    await backend.close()
    await dropSchema(schema)
  })
  await backend.init()
  const first = await backend.appendEvents([{ type: 'a', data: 1 }, { type: 'b', data: { x: [1, 2] } }, { type: 'c', data: null }])
  const second = await backend.appendEvents([{ type: 'd', data: 'text' }, { type: 'e', data: undefined }])
  const ids = [...first, ...second].map(e => e.id)
  t.match(ids, [/^\d+-3-0$/, /^\d+-3-1$/, /^\d+-3-2$/, /^\d+-5-0$/, /^\d+-5-1$/], '<xid>-<page position>-<index>; a page takes one position per event')
  t.same(second.map(e => e.data), ['text', null], 'undefined data is stored as null')
  await readsReach(backend, second[1]!.id)
  t.same(await backend.readEvents({ afterId: first[0]?.id as string, limit: 3 }), [...first.slice(1), second[0]], 'from inside a page, across pages, limit kept')
  t.same(await backend.readEvents({ afterId: second[1]?.id as string, limit: 10 }), [], 'nothing after the newest')
  // positions 1-9, keep 7: no page lies wholly at or below position 2, so all stay
  const third = await backend.appendEvents(['f', 'g', 'h', 'i'].map(type => ({ type, data: type })))
  await readsReach(backend, third.at(-1)!.id)
  t.equal((await backend.readEvents({ afterId: null, limit: 100 })).length, 9, 'a page stays while any of its events is among the newest maxEvents')
  // position 10: the first page (positions 1-3) is now wholly older than the newest 7
  const fourth = await backend.appendEvents([{ type: 'j', data: 'j' }])
  await readsReach(backend, fourth[0]!.id)
  const kept = await backend.readEvents({ afterId: null, limit: 100 })
  t.same(kept, [...second, ...third, ...fourth], 'whole pages go, oldest first; reads answer what the appends answered')
  const pages = await withRawClient(async c => (await c.query(`SELECT pos::int AS pos FROM "${schema}".event_pages ORDER BY xid, pos`)).rows)
  t.same(pages, [{ pos: 5 }, { pos: 9 }, { pos: 10 }], 'one page per append')
})

t.test('migrations 003 and 007 keep an existing event log, in order, as pages of transaction 0', async t => {
  const schema = testSchema()
  t.teardown(async () => { await dropSchema(schema) })
  const before = loadMigrations().filter(m => m.version < 3)
  await withRawClient(async c => {
    await c.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    for (const m of before) {
      await c.query(renderMigration(m.sql, schema))
      await c.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
    }
    await c.query(`INSERT INTO "${schema}".events (id, type, data) VALUES (11, 'old.a', '{"n": 1}'), (12, 'old.b', '"s"')`)
    await c.query(`UPDATE "${schema}".event_counter SET last_id = 12`)
  })
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1 })
  t.teardown(async () => { await backend.close() })
  await backend.init()
  const [next] = await backend.appendEvents([{ type: 'new', data: true }])
  const read = await backend.readEvents({ afterId: null, limit: 10 })
  t.same(read.map(e => [e.type, e.data]), [['old.a', { n: 1 }], ['old.b', 's'], ['new', true]], 'the old events first, in their order')
  t.same(read.slice(0, 2).map(e => e.id), ['0-11-0', '0-12-0'], 'migrated pages belong to transaction 0')
  t.match(next?.id, /^[1-9][0-9]*-13-0$/, 'positions continue after the migrated ids')
  t.same(await backend.readEvents({ afterId: '0-11-0', limit: 10 }), read.slice(1), 'a migrated id resumes exactly')
})

t.test('a lease with a handler set reads only its handlers\' index ranges, however many other tasks wait ahead', async t => {
  // one connection, so the statistics flushed below are the ones the lease statements counted
  const { client, backend, schema } = await singleConnectionBackend(t)
  const ahead = 5_000
  for (let i = 0; i < ahead; i += 1_000) await backend.enqueue(Array.from({ length: 1_000 }, () => task('q', { handler: 'nobody', priority: 5 })))
  await backend.enqueue([task('q', { handler: 'mine' }), task('q', { handler: 'mine' })])
  const indexReads = async (): Promise<Record<string, number>> => {
    await client.query('SELECT pg_stat_force_next_flush()')
    const rows = await client.query<{ name: string, n: number }>(
      `SELECT indexrelname AS name, idx_tup_read::float8 AS n FROM pg_stat_user_indexes WHERE schemaname = $1 AND indexrelname LIKE 'tasks_lease%'`, [schema])
    return Object.fromEntries(rows.map(r => [r.name, r.n]))
  }
  const before = await indexReads()
  for (const handlers of [['mine'], ['mine', 'absent']]) {
    const leased = await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 1, leaseMs: 60_000, handlers })
    t.equal(leased[0]?.handler, 'mine', `handlers ${handlers.join(',')}: its task, from behind ${ahead} others`)
  }
  t.same(await backend.pendingHandlers({ queues: ['q'], limit: 10 }), [{ queue: 'q', handler: 'nobody' }])
  const after = await indexReads()
  const read = (after.tasks_lease_handler ?? 0) - (before.tasks_lease_handler ?? 0)
  t.ok(read <= 10, `two leases and pendingHandlers read ${read} index entries (not the ${ahead} tasks of other handlers)`)
  t.same(Object.keys(after), ['tasks_lease_handler'], 'the only lease index is per (queue, handler) (migration 024)')
})

t.test('the lease functions plan under their own settings, which end with the call', async t => {
  const { client, backend } = await singleConnectionBackend(t)
  const names = ['plan_cache_mode', 'enable_seqscan', 'enable_hashjoin', 'enable_mergejoin', 'jit', 'synchronous_commit']
  const settings = async (): Promise<string[]> => {
    const [row] = await client.query<{ v: string[] }>(`SELECT array[${names.map(n => `current_setting('${n}')`).join(', ')}] AS v`)
    return row?.v ?? []
  }
  const before = await settings()
  await backend.enqueue([task('q'), task('q'), task('q')])
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 1, leaseMs: 60_000, handlers: ['test.handler'] })
  const next = await backend.completeAndLease!(leased, { workerId: 'w', queues: ['q'], limit: 1, leaseMs: 60_000 })
  t.same(next.acks, ['ok'])
  t.equal(next.leased.length, 1)
  t.same(await settings(), before, `${names.join(', ')} are as before`)
})

t.test('lease plans made on a small table stay on the indexes when it grows and after ANALYZE', { timeout: 120_000 }, async t => {
  const { client, backend, schema } = await singleConnectionBackend(t)
  const work = { workerId: 'w', queues: ['q'], limit: 50, leaseMs: 60_000 }
  const cycle = async (handlers?: string[]): Promise<number> => {
    const req = handlers === undefined ? work : { ...work, handlers }
    const leased = await backend.leaseTasks(req)
    const next = await backend.completeAndLease!(leased, req)
    t.ok(next.acks.every(a => a === 'ok'), 'acks applied')
    await backend.completeTasks(next.leased)
    return leased.length + next.leased.length
  }
  // plans are made now, on a table of a few rows
  await backend.enqueue(Array.from({ length: 200 }, () => task('q')))
  t.equal(await cycle(), 100)
  t.equal(await cycle(['test.handler']), 100)
  // 100k finished tasks with ids below 100k pending ones: a walk of the primary key (a
  // merge join, which a plan costed for thousands of picked rows prefers) or a
  // sequential scan would read them all
  const insert = (state: string, finished: string): string => `INSERT INTO "${schema}".tasks
    (queue, handler, payload, max_attempts, priority, timeout_ms, run_at, payload_size, state, finished_at)
    SELECT 'q', 'test.handler', '{}', 3, 0, 60000, now(), 2, '${state}', ${finished} FROM generate_series(1, 100000)`
  await client.query(insert('succeeded', 'now()'))
  await client.query(insert('ready', 'NULL'))
  const reads = async (): Promise<{ seq: number, pkey: number }> => {
    await client.query('SELECT pg_stat_force_next_flush()')
    const [row] = await client.query<{ seq: number, pkey: number }>(`
      SELECT (SELECT seq_tup_read::float8 FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'tasks') AS seq,
        (SELECT idx_tup_read::float8 FROM pg_stat_user_indexes WHERE schemaname = $1 AND indexrelname = 'tasks_pkey') AS pkey`, [schema])
    return row ?? { seq: 0, pkey: 0 }
  }
  for (const analyzed of [false, true]) {
    if (analyzed) await client.query(`ANALYZE "${schema}".tasks`)
    const before = await reads()
    t.equal(await cycle(), 100)
    t.equal(await cycle(['test.handler']), 100)
    const after = await reads()
    const label = analyzed ? 'after ANALYZE' : 'grown, before ANALYZE'
    t.equal(after.seq - before.seq, 0, `${label}: no sequential scan of tasks`)
    t.ok(after.pkey - before.pkey <= 1000, `${label}: 400 leases and acks read ${after.pkey - before.pkey} primary-key entries`)
  }
})

t.test('a flow limit stored by another process applies to the next lease and ack, and so does its removal', { timeout: 60_000 }, async t => {
  const { backend, schema } = await singleConnectionBackend(t)
  const other = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1 })
  t.teardown(async () => { await other.close() })
  await other.init()
  await backend.enqueue(Array.from({ length: 20 }, () => task('q')))
  const req = { workerId: 'w', queues: ['q'], limit: 10, leaseMs: 60_000 }
  const first = await backend.leaseTasks({ ...req, limit: 2 })
  t.equal(first.length, 2)
  await other.setFlowLimit({ kind: 'queue', name: 'q' }, { concurrency: 3, rate: null })
  const limited = await backend.leaseTasks(req)
  t.equal(limited.length, 1, 'three running at most: one more')
  const next = await backend.completeAndLease!(first, req)
  t.same(next.acks, ['ok', 'ok'], 'the acks apply')
  t.equal(next.leased.length, 2, 'and free two places, leased at once')
  t.same(await backend.leaseTasks(req), [], 'the limit is used up')
  await other.clearFlowLimit({ kind: 'queue', name: 'q' })
  const rest = await backend.completeAndLease!([...limited, ...next.leased], req)
  t.same(rest.acks, ['ok', 'ok', 'ok'])
  t.equal(rest.leased.length, 10, 'without the limit the ack leases a whole batch again')
})
