// completeAndLease on the server (complete_and_lease()) and on PGlite (one UPDATE,
// migration 026), the packed answers PGlite gets for leases, acks and enqueues (work.ts), and the event positions PGlite takes at once (event-store.ts).
import t, { type Test } from 'tap'
import type { Backend, LeasedTask } from '@switchyard/core'
import { createPostgresBackendFromClient } from './backend.ts'
import { createPgliteClient } from './pglite-client.ts'
import type { SqlClient } from './sql-client.ts'
import { memoryBackend, schemaBackend, task } from './test-support.ts'

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
  return raw => ({
    kind: raw.kind,
    query: async (text, params) => { into.push(text); return await raw.query(text, params) },
    exec: async text => { await raw.exec(text) },
    transaction: async fn => await raw.transaction(fn),
    listen: async (channel, onNotify) => await raw.listen(channel, onNotify),
    close: async () => { await raw.close() }
  })
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
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
  // the same database through a client that calls itself a server: the backend reads rows
  const asServer: SqlClient = {
    kind: 'postgres',
    query: async (text, params) => await raw.query(text, params),
    exec: async text => { await raw.exec(text) },
    transaction: async fn => await raw.transaction(fn),
    listen: async (channel, onNotify) => await raw.listen(channel, onNotify),
    close: async () => {}
  }
  const packed = createPostgresBackendFromClient(raw, { schema: 'pk' })
  const rows = createPostgresBackendFromClient(asServer, { schema: 'pk' })
  t.teardown(async () => {
    await packed.close()
    await rows.close()
    await raw.close()
  })
  await packed.init()
  await rows.init()
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
