// completeAndLease on the server (complete_and_lease()) and on PGlite (one UPDATE,
// migration 026), the packed answers PGlite gets for leases, acks and enqueues (work.ts), and the event positions PGlite takes at once (event-store.ts).
// PGlite's enqueue (columns the batch shares as scalars, ids as one range) stores what a server's stores.
import t, { type Test } from 'tap'
import type { Backend, LeasedTask, NewTask } from '@switchyard/core'
import { createPostgresBackendFromClient } from './backend.ts'
import { createPgliteClient } from './pglite-client.ts'
import type { SqlClient } from './sql-client.ts'
import { forwardingClient, memoryBackend, schemaBackend, task } from './test-support.ts'

const req = { workerId: 'w', queues: ['q'], limit: 3, leaseMs: 60_000 }

async function ackAndLease (t: Test, backend: Backend): Promise<void> {
  await backend.enqueue([1, 2, 3, 4, 5, 6].map(n => task('q', { payload: { n, nested: { list: [n, 'x'] } }, priority: n === 6 ? 5 : 0 })))
  const first = await backend.leaseTasks(req)
  t.same(first.map(l => (l.payload as { n: number }).n), [6, 1, 2], 'priority first, then run order')
  const [a, b, c] = first as [LeasedTask, LeasedTask, LeasedTask]
  const pending = await backend.listTasks({ queue: 'q', state: 'ready', limit: 10, offset: 0 })
  const notLeased = pending.tasks.find(p => (p.payload as { n: number }).n === 3)
  if (notLeased === undefined) throw new Error('task 3 should be ready')
  // acks: a twice, b with a wrong token, and a pending task the same call leases
  const next = await backend.completeAndLease!([a, a, { ...b, leaseToken: '999999' }, c, { id: notLeased.id, leaseToken: '1' }], req)
  t.same(next.acks, ['ok', 'lease_lost', 'lease_lost', 'ok', 'lease_lost'], 'each lease acked once, by its own token only')
  t.same(next.leased.map(l => (l.payload as { n: number }).n), [3, 4, 5], 'the next three in order, the one named by a bad ack among them')
  const leased = next.leased[0] as LeasedTask
  t.match(leased, {
    id: notLeased.id, queue: 'q', handler: 'test.handler', payload: { n: 3, nested: { list: [3, 'x'] } }, attempts: 1, maxAttempts: 3,
    priority: 0, timeoutMs: 60_000, createdAt: Number, runAt: Number, leaseToken: /^[0-9]+$/, leaseExpiresAt: Number
  }, 'a leased task has every field, typed')
  t.ok(leased.leaseExpiresAt > Date.now() + 50_000, 'lease deadline from leaseMs')
  const [stats] = await backend.queueStats(['q'])
  t.match(stats, { ready: 0, processing: 4, succeeded: 2 }, 'counters moved once per task by the one statement')
  const again = await backend.completeAndLease!([b, ...next.leased], req)
  t.same(again.acks, ['ok', 'ok', 'ok', 'ok'])
  t.same(again.leased, [], 'nothing left to lease')
  const [done] = await backend.queueStats(['q'])
  t.match(done, { ready: 0, processing: 0, succeeded: 6 })
}

/** the client with every statement's text recorded in `into` */
function recording (into: string[]): (raw: SqlClient) => SqlClient {
  return raw => forwardingClient(raw, { query: async (text, params) => { into.push(text); return await raw.query(text, params) } })
}

/**
 * One in-memory PGlite database under `schema` through two backends: `packed` as the
 * embedded database, `rows` through a client that calls itself a server (so the backend
 * takes a server's statements and reads rows).
 */
async function twinBackends (t: Test, schema: string): Promise<{ raw: SqlClient, packed: Backend, rows: Backend }> {
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
  const packed = createPostgresBackendFromClient(raw, { schema })
  const rows = createPostgresBackendFromClient(forwardingClient(raw, { kind: 'postgres', close: async () => {} }), { schema })
  t.teardown(async () => {
    await packed.close()
    await rows.close()
    await raw.close()
  })
  await packed.init()
  await rows.init()
  return { raw, packed, rows }
}

t.test('postgres: acks and the next lease in one call, through complete_and_lease() only', async t => {
  const statements: string[] = []
  const { backend } = await schemaBackend(t, { wrap: recording(statements) })
  await ackAndLease(t, backend)
  t.ok(statements.some(s => s.includes('.complete_and_lease(')), 'the server\'s function')
  // the one-UPDATE function can drop an ack whose row another connection just updated
  t.notOk(statements.some(s => s.includes('complete_and_lease_one_update')), 'never the PGlite-only one')
})

t.test('pglite: acks and the next lease in one call, one UPDATE, answered packed', async t => {
  const statements: string[] = []
  const { backend } = await memoryBackend(t, { schema: 'al', wrap: recording(statements) })
  await ackAndLease(t, backend)
  t.ok(statements.some(s => s.includes('.complete_and_lease_one_update(')), 'the one-UPDATE function')
})

t.test('pglite: packed answers hold what the rows of a server hold', async t => {
  const { packed, rows } = await twinBackends(t, 'pk')
  // four equal tasks (one batch: one created_at), two leased each way
  const payload = { s: 'é\u2028"\\', big: 12345678901234, f: 0.1, list: [null, true, { deep: [] }] }
  await packed.enqueue([1, 2, 3, 4].map(() => task('q', { payload, runAt: 1_700_000_000_123 })))
  const one = await packed.leaseTasks({ ...req, limit: 2 })
  const two = await rows.leaseTasks({ ...req, limit: 2 })
  const apart = (l: LeasedTask): unknown => ({ ...l, id: typeof l.id, leaseToken: typeof l.leaseToken, leaseExpiresAt: typeof l.leaseExpiresAt })
  t.same(one.map(apart), two.map(apart), 'the same fields and values (ids, tokens and deadlines aside)')
  t.same(one[0]?.payload, payload)
  t.same(new Set([...one, ...two].map(l => l.id)).size, 4, 'four tasks')
  // enqueue answers: ids in input order, a collided key answering its owner, uncreated
  const keyed = [task('k', { idempotencyKey: 'a' }), task('k'), task('k', { idempotencyKey: 'a' }), task('k', { idempotencyKey: 'b' })]
  const viaRowsEnqueue = await rows.enqueue(keyed)
  t.same(viaRowsEnqueue.map(r => r.created), [true, true, false, true])
  const again = await packed.enqueue([task('k', { idempotencyKey: 'b' }), task('k'), task('k', { idempotencyKey: 'a' })])
  t.same(again.map(r => r.created), [false, true, false], 'packed: collisions answered as not created')
  t.same([again[0]?.id, again[2]?.id], [viaRowsEnqueue[3]?.id, viaRowsEnqueue[0]?.id], 'packed: a collided key answers its owner')
  t.ok(Number(again[1]?.id) > Number(viaRowsEnqueue[3]?.id), 'packed: a new id')
  const viaPacked = await packed.completeAndLease!(two, req)
  const viaRows = await rows.completeAndLease!(one, req)
  t.same([viaPacked.acks, viaRows.acks], [['ok', 'ok'], ['ok', 'ok']])
  t.same([viaPacked.leased, viaRows.leased], [[], []])
})

t.test('pglite: an append takes one position per event, as on a server', async t => {
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
  const backend = createPostgresBackendFromClient(raw, { schema: 'ev', maxEvents: 7 })
  t.teardown(async () => {
    await backend.close()
    await raw.close()
  })
  await backend.init()
  const first = await backend.appendEvents([{ type: 'a', data: 1 }, { type: 'b', data: { x: [1, 2] } }, { type: 'c', data: null }])
  const second = await backend.appendEvents([{ type: 'd', data: 'text' }, { type: 'e', data: undefined }])
  t.match([...first, ...second].map(e => e.id), [/^\d+-3-0$/, /^\d+-3-1$/, /^\d+-3-2$/, /^\d+-5-0$/, /^\d+-5-1$/], '<xid>-<page position>-<index>')
  const third = await backend.appendEvents(['f', 'g', 'h', 'i'].map(type => ({ type, data: type })))
  const fourth = await backend.appendEvents([{ type: 'j', data: 'j' }])
  t.same(await backend.readEvents({ afterId: null, limit: 100 }), [...second, ...third, ...fourth], 'the first page trimmed at position 10, as on a server')
  const pages = await raw.query<{ pos: number }>('SELECT pos::int AS pos FROM ev.event_pages ORDER BY xid, pos')
  t.same(pages, [{ pos: 5 }, { pos: 9 }, { pos: 10 }])
  const [next] = await backend.appendEvents([{ type: 'k', data: 'k' }])
  t.match(next?.id, /^\d+-11-0$/, 'the sequence continues after the last page')
})

t.test('pglite: an enqueue stores what a server\'s enqueue stores, whichever columns its tasks share', async t => {
  const { raw, packed, rows } = await twinBackends(t, 'sh')
  const future = Date.now() + 3_600_000
  // every column different from one task to the next, keys included
  const varied = (k: string): NewTask[] => [
    task(`${k}1`, { payload: { a: 1 }, handler: 'h1', maxAttempts: 1, priority: 3, timeoutMs: 1000, runAt: future, idempotencyKey: `${k}-x`, tenant: 't1', correlationId: 'c1' }),
    task(`${k}2`, { payload: 'é\u2028"\\', handler: 'h2', maxAttempts: 5, priority: -1, timeoutMs: 2000, delayMs: 60_000 }),
    task(`${k}1`, { payload: [null, { deep: [] }], handler: 'h1', maxAttempts: 2, priority: 0, timeoutMs: 3000, idempotencyKey: `${k}-y`, tenant: 't2' })
  ]
  // only the payload differs (the common batch), once with a tenant and a delay on all of them
  const shared = (k: string, extra: Partial<NewTask> = {}): NewTask[] => [1, 2, 3, 4].map(n => task(`${k}s`, { payload: { n }, ...extra }))
  const batches: Array<[string, (k: string) => NewTask[]]> = [
    ['every column varies', varied],
    ['only the payload varies', k => shared(k)],
    ['a shared tenant, delay and correlation id', k => shared(k, { tenant: 'tt', delayMs: 5000, correlationId: 'cc', priority: 7 })],
    ['one task', k => [task(`${k}o`, { payload: { one: true }, runAt: future })]],
    ['equal payloads', k => [task(`${k}e`), task(`${k}e`), task(`${k}e`)]],
    ['some tenants', k => [task(`${k}t`, { tenant: 'x' }), task(`${k}t`), task(`${k}t`, { tenant: 'x' })]]
  ]
  const stored = async (ids: string[]): Promise<unknown[]> => {
    const found = await raw.query<Record<string, unknown>>(`SELECT id::text AS id, queue, handler, payload, max_attempts, priority, timeout_ms, idempotency_key, payload_size,
      tenant, correlation_id, state, attempts, sh.ms(created_at) AS created, sh.ms(run_at) AS run FROM sh.tasks WHERE id = ANY($1::bigint[]) ORDER BY array_position($1::bigint[], id)`, [ids])
    // a run time set by delay counts from the statement's now(), which differs from one enqueue to the other
    return found.map(({ id, created, run, queue, idempotency_key: key, ...r }) => ({ ...r, queue: String(queue).slice(1), key: key === null ? null : String(key).slice(1), run: Number(run) - (Number(run) > future - 1000 ? 0 : Number(created)) }))
  }
  for (const [what, make] of batches) {
    const viaRows = await rows.enqueue(make('r'), { type: 'task.enqueued', data: make('r').map((x, i) => ({ i, queue: x.queue })) })
    const viaPacked = await packed.enqueue(make('p'), { type: 'task.enqueued', data: make('p').map((x, i) => ({ i, queue: x.queue })) })
    t.same(viaPacked.map(r => r.created), viaRows.map(r => r.created), `${what}: created alike`)
    const ids = viaPacked.map(r => Number(r.id))
    t.ok(ids.every((id, i) => i === 0 || id === (ids[i - 1] as number) + 1), `${what}: ids in batch order, one range`)
    // as stored in batch order, each answered id the row of its own task
    t.same(await stored(viaPacked.map(r => r.id)), await stored(viaRows.map(r => r.id)), `${what}: the same rows`)
  }
  // the events each enqueue appended: the same data, each with its task's id first
  const events = await packed.readEvents({ afterId: null, limit: 1000 })
  const byQueue = (p: string): unknown[] => events.filter(e => String((e.data as { queue: string }).queue).startsWith(p))
    .map(e => ({ ...(e.data as Record<string, unknown>), id: typeof (e.data as { id: unknown }).id, queue: String((e.data as { queue: string }).queue).slice(1) }))
  t.same(byQueue('p'), byQueue('r'), 'the same events')
  t.equal(byQueue('p').length, 3 + 4 + 4 + 1 + 3 + 3)
  const keyed = await packed.enqueue(varied('p'))
  t.same(keyed.map(r => r.created), [false, true, false], 'a keyed batch again: its keys collide, the one without a key is created')
})
