// Behaviour of the Postgres backend that the shared conformance suite does not
// reach: concurrent migrations, counter exactness under concurrent workers,
// notifications across clients, and event order under concurrent appends.
import t from 'tap'
import type { Backend, StoredEvent } from '@switchyard/core'
import { createPostgresBackend } from './index.ts'
import { loadMigrations, renderMigration } from './migrate.ts'
import { dropSchema, task, TEST_POSTGRES_URL, testSchema, waitUntil, withRawClient } from './test-support.ts'

async function openBackends (schema: string, count: number, poolSize = 3): Promise<Backend[]> {
  const backends = Array.from({ length: count }, () => createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize }))
  await Promise.all(backends.map(async b => await b.init()))
  return backends
}

t.test('migration 016 counts the edges of parents succeeded before it as done, so a requeued parent does not count twice', async t => {
  const schema = testSchema()
  t.teardown(async () => { await dropSchema(schema) })
  const queue = 'deps'
  // the graph as migrations up to 015 left it: parent 1 succeeded (counted), parent 2 ready, child 3 waits for one
  await withRawClient(async c => {
    await c.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    for (const m of loadMigrations().filter(m => m.version < 16)) {
      await c.query(renderMigration(m.sql, schema))
      await c.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
    }
    const row = (id: number, state: string, extra: string): string =>
      `(${id}, '${queue}', 'h', '{}', 2, 0, 3, 300000, now(), '${state}', ${extra})`
    await c.query(`INSERT INTO "${schema}".tasks (id, queue, handler, payload, payload_size, priority, max_attempts, timeout_ms, run_at, state, finished_at, has_children, depends_on, pending_parents)
      VALUES ${row(1, 'succeeded', 'now(), true, NULL, 0')}, ${row(2, 'ready', 'NULL, true, NULL, 0')}, ${row(3, 'blocked', "NULL, false, '{1,2}', 1")}`)
    await c.query(`INSERT INTO "${schema}".task_deps (parent, child) VALUES (1, 3), (2, 3)`)
  })
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 2 })
  t.teardown(async () => { await backend.close() })
  await backend.init()
  const ids = (await backend.listTasks({ queue, limit: 10, offset: 0 })).tasks.map(x => x.id).sort((a, b) => Number(a) - Number(b))
  t.equal(ids.length, 3, 'the three tasks are read back')
  const [first, second, child] = ids as [string, string, string]
  const succeed = async (id: string): Promise<void> => {
    const leased = await waitUntil(async () => {
      const got = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 10, leaseMs: 30_000 })
      const others = got.filter(l => l.id !== id)
      if (others.length > 0) await backend.releaseTasks(others.map(l => ({ id: l.id, leaseToken: l.leaseToken })))
      return got.find(l => l.id === id)
    }, `task ${id} leased`)
    t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken }]), ['ok'])
  }
  t.same((await backend.requeueTasks({ ids: [first], fromStates: ['succeeded'] })).requeued, [first])
  await succeed(first)
  t.equal((await backend.getTask(child))?.state, 'blocked', 'the parent that had succeeded before the migration is not counted again')
  await succeed(second)
  t.equal((await backend.getTask(child))?.state, 'ready', 'the other parent releases it')
})

t.test('migrations: concurrent init of one schema applies each version once; init is idempotent', { timeout: 30_000 }, async t => {
  const schema = testSchema()
  const backends = Array.from({ length: 5 }, () => createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1 }))
  t.teardown(async () => {
    await Promise.all(backends.map(async b => await b.close()))
    await dropSchema(schema)
  })
  await Promise.all(backends.map(async b => await b.init()))
  await backends[0]?.init()
  const rows = await withRawClient(async c => (await c.query(`SELECT version FROM "${schema}".migrations ORDER BY version`)).rows)
  t.same(rows.map(r => r.version), loadMigrations().map(m => m.version), 'every migration recorded exactly once')
  const again = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1 })
  await again.init()
  await again.close()
  t.equal(await withRawClient(async c => (await c.query(`SELECT count(*)::int AS n FROM "${schema}".migrations`)).rows[0].n), rows.length, 're-init adds nothing')
})

t.test('counters stay exact under concurrent lease/ack/fail/release from several backends', { timeout: 60_000 }, async t => {
  const schema = testSchema()
  const backends = await openBackends(schema, 3)
  t.teardown(async () => {
    await Promise.all(backends.map(async b => await b.close()))
    await dropSchema(schema)
  })
  const queues = ['ca', 'cb']
  const [first] = backends as [Backend]
  for (const queue of queues) {
    await first.enqueue(Array.from({ length: 600 }, (_, i) => task(queue, { payload: { i }, maxAttempts: 2 })))
  }
  let round = 0
  await Promise.all(backends.flatMap((backend, b) => [0, 1].map(async loop => {
    for (let empty = 0; empty < 2;) {
      const leased = await backend.leaseTasks({ workerId: `w${b}.${loop}`, queues: round++ % 2 === 0 ? queues : [...queues].reverse(), limit: 25, leaseMs: 60_000 })
      if (leased.length === 0) { empty++; continue }
      const refs = leased.map(l => ({ id: l.id, leaseToken: l.leaseToken, last: l.attempts >= l.maxAttempts }))
      const split = Math.floor(refs.length / 4)
      await Promise.all([
        backend.completeTasks(refs.slice(0, split * 2)),
        // as core does: retry while attempts remain (some fatally dead at once), then dead-letter
        backend.failTasks(refs.slice(split * 2, split * 3).map(r => ({ id: r.id, leaseToken: r.leaseToken, error: { message: 'x' }, retryDelayMs: r.last || Number(r.id) % 5 === 0 ? null : 0 }))),
        // released ones go back to ready and are leased again by some loop
        backend.releaseTasks(refs.slice(split * 3, split * 3 + Math.min(split, 1))),
        backend.extendLeases(refs.slice(split * 3 + Math.min(split, 1)), 60_000).then(async () => await backend.completeTasks(refs.slice(split * 3 + Math.min(split, 1))))
      ])
    }
  })))
  const stats = await first.queueStats(queues)
  const actual = await withRawClient(async c => (await c.query(`SELECT queue, state, count(*)::int AS n FROM "${schema}".tasks GROUP BY queue, state`)).rows)
  for (const queue of queues) {
    const expected: Record<string, number> = { ready: 0, scheduled: 0, processing: 0, retrying: 0, dead: 0, succeeded: 0, canceled: 0 }
    for (const row of actual) if (row.queue === queue) expected[row.state] = row.n
    const got = stats.find(s => s.name === queue)
    t.same({ ready: got?.ready, scheduled: got?.scheduled, processing: got?.processing, retrying: got?.retrying, dead: got?.dead, succeeded: got?.succeeded, canceled: got?.canceled }, expected, `${queue}: counters equal a full count`)
    t.equal(Object.values(expected).reduce((a, b) => a + b, 0), 600, `${queue}: 600 tasks in all`)
  }
  const page = await first.listTasks({ queue: 'ca', limit: 1, offset: 0 })
  t.equal(page.total, 600, 'listTasks total comes from the same counters')
})

t.test('notifications: an enqueue on one client wakes a subscriber on another; events too', { timeout: 30_000 }, async t => {
  const schema = testSchema()
  const [producer, worker] = await openBackends(schema, 2, 2) as [Backend, Backend]
  const woken: string[] = []
  let events = 0
  const stopWork = await worker.subscribeWork!(queue => { woken.push(queue) })
  const stopEvents = await worker.subscribeEvents!(() => { events++ })
  t.teardown(async () => {
    await stopWork()
    await stopEvents()
    await producer.close()
    await worker.close()
    await dropSchema(schema)
  })
  await producer.enqueue([task('wake-a'), task('wake-a'), task('wake-b')])
  await waitUntil(async () => woken.includes('wake-a') && woken.includes('wake-b'), 'both queues to be announced')
  t.pass('each queue with new ready work is announced')
  const before = woken.length
  await producer.enqueue([task('later', { delayMs: 60_000 })])
  await producer.appendEvents([{ type: 'probe', data: {} }])
  await waitUntil(async () => events > 0, 'the event notification')
  t.equal(woken.slice(before).filter(q => q === 'later').length, 0, 'a scheduled task does not wake workers')
})

t.test('event ids: a tailing reader under concurrent appends misses none and reads each writer in order', { timeout: 60_000 }, async t => {
  const schema = testSchema()
  const writers = await openBackends(schema, 3, 3)
  const reader = writers[0] as Backend
  t.teardown(async () => {
    await Promise.all(writers.map(async b => await b.close()))
    await dropSchema(schema)
  })
  const appendsPerLoop = 40
  let writing = true
  const seen: StoredEvent[] = []
  const tail = (async () => {
    let after: string | null = null
    for (;;) {
      const stillWriting = writing
      const batch = await reader.readEvents({ afterId: after, limit: 1000 })
      seen.push(...batch)
      if (batch.length > 0) after = batch[batch.length - 1]?.id ?? after
      else if (!stillWriting) return
    }
  })()
  const appended = (await Promise.all(writers.flatMap((w, n) => [0, 1, 2].map(async loop => {
    const mine: StoredEvent[] = []
    for (let i = 0; i < appendsPerLoop; i++) mine.push(...await w.appendEvents([{ type: 'e', data: { n, loop, i } }, { type: 'e', data: { n, loop, i, second: true } }]))
    return mine
  })))).flat()
  writing = false
  await tail
  t.equal(appended.length, writers.length * 3 * appendsPerLoop * 2, 'every append answered')
  t.equal(seen.length, appended.length, 'the tailing reader saw every event exactly once')
  t.equal(new Set(seen.map(e => e.id)).size, seen.length, 'distinct ids')
  t.same(new Set(seen.map(e => e.id)), new Set(appended.map(e => e.id)), 'the ids the appends answered')
  for (let n = 0; n < writers.length; n++) {
    for (const loop of [0, 1, 2]) {
      const order = seen.map(e => e.data as { n: number, loop: number, i: number, second?: boolean })
        .filter(d => d.n === n && d.loop === loop).map(d => d.i * 2 + (d.second === true ? 1 : 0))
      t.same(order, [...order].sort((a, b) => a - b), `writer ${n}.${loop} read in its append order`)
    }
  }
})

t.test('event horizon: a page committed after an older transaction waits for it, then follows it', { timeout: 30_000 }, async t => {
  const schema = testSchema()
  const [backend] = await openBackends(schema, 1, 2) as [Backend]
  t.teardown(async () => {
    await backend.close()
    await dropSchema(schema)
  })
  const start = (await backend.appendEvents([{ type: 'start', data: null }]))[0]?.id as string
  await withRawClient(async older => {
    // a transaction that took its xid first (as an enqueue does) and appends its page last
    await older.query('BEGIN')
    await older.query('SELECT pg_current_xact_id()')
    const later = await backend.appendEvents([{ type: 'later', data: 2 }])
    const began = Date.now()
    t.same(await backend.readEvents({ afterId: start, limit: 10 }), [], 'the later page is held back while the older transaction runs')
    t.ok(Date.now() - began >= 900, 'the read waited for it first')
    await older.query(`INSERT INTO "${schema}".event_pages (xid, pos, events) VALUES (pg_current_xact_id(), nextval('"${schema}".event_positions'), '[["older", 1]]')`)
    const reading = backend.readEvents({ afterId: start, limit: 10 })
    await new Promise(resolve => setTimeout(resolve, 100))
    await older.query('COMMIT')
    const read = await reading
    t.same(read.map(e => e.type), ['older', 'later'], 'a read waits until the transaction ends, then answers both in transaction order')
    t.same(read[1], later[0], 'as the append answered it')
  })
})

t.test('event horizon: a newest-first read of the head waits for the caller\'s own held-back appends; one with a cursor does not', { timeout: 30_000 }, async t => {
  const schema = testSchema()
  const [backend] = await openBackends(schema, 1, 2) as [Backend]
  t.teardown(async () => {
    await backend.close()
    await dropSchema(schema)
  })
  const readBack = backend.readEventsNewestFirst?.bind(backend)
  if (readBack === undefined) throw new Error('the Postgres backend reads newest first')
  const first = (await backend.appendEvents([{ type: 'first', data: 1 }]))[0]?.id as string
  await withRawClient(async older => {
    await older.query('BEGIN')
    await older.query('SELECT pg_current_xact_id()')
    const mine = await backend.appendEvents([{ type: 'mine', data: 2 }])
    const reading = readBack({ beforeId: null, limit: 10 })
    // a cursor read answers at once what is below the horizon: never the held-back append,
    // and `first` once no transaction older than its page runs anywhere in the cluster
    // (another test's may, briefly: the horizon is the cluster's), so asked until it shows
    const withCursor = await waitUntil(async () => {
      const page = await readBack({ beforeId: mine[0]?.id as string, limit: 10 })
      return page.length > 0 ? page : false
    }, 'the first append below the horizon')
    t.same(withCursor.map(e => e.id), [first], 'a cursor read answers what is below the horizon, without waiting for the held-back append')
    await older.query('COMMIT')
    const read = await reading
    t.same(read.map(e => e.type), ['mine', 'first'], 'the head read waited until the older transaction ended and answers the append it follows')
    t.same(read[0], mine[0], 'as the append answered it')
  })
})

t.test('event log is trimmed to about maxEvents, whole pages, oldest first', async t => {
  const schema = testSchema()
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 1, maxEvents: 10 })
  await backend.init()
  t.teardown(async () => {
    await backend.close()
    await dropSchema(schema)
  })
  const appended: StoredEvent[] = []
  for (let i = 0; i < 5; i++) appended.push(...await backend.appendEvents(Array.from({ length: 4 }, (_, j) => ({ type: 't', data: { i, j } }))))
  const kept = await backend.readEvents({ afterId: null, limit: 100 })
  t.same(kept, appended.slice(-12), 'the newest 10 and the rest of the oldest page holding one of them')
})
