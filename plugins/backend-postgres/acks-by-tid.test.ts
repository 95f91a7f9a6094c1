// Acks find the acked rows by the tuple id their lease token carries (migration 029): no
// tasks_pkey probe while the row is where the lease wrote it, and the same outcome as an
// ack by id when it is not (the row updated since, a tuple id naming another row's version,
// a token without a tuple id), on a server and on PGlite.
import t, { type Test } from 'tap'
import type { Backend, LeasedTask } from '@switchyard/core'
import type { SqlClient } from './sql-client.ts'
import { memoryBackend, schemaBackend, task } from './test-support.ts'

const work = { workerId: 'w', queues: ['q'], leaseMs: 60_000 }

/** the tuple id part of a token lease_plain() wrote, '(block,offset)' */
function tidOf (token: string): string {
  const at = token.indexOf('(')
  if (at < 0) throw new Error(`token without a tuple id: ${token}`)
  return token.slice(at)
}

/** each ack's outcome and the rows after them, through the public calls only */
async function ackCases (t: Test, backend: Backend, client: SqlClient, schema: string): Promise<void> {
  await backend.enqueue(Array.from({ length: 20 }, (_, i) => task('q', { payload: { i } })))
  const leased = await backend.leaseTasks({ ...work, limit: 12 })
  t.equal(leased.length, 12, 'twelve leased')
  t.ok(leased.every(l => /^[0-9]+\([0-9]+,[0-9]+\)$/.test(l.leaseToken)), 'each token carries the tuple id the lease wrote')
  const [moved, progressed, plain, foreign, wrongToken, badTid, dup, stale, ...rest] = leased as [LeasedTask, ...LeasedTask[]]
  if (moved === undefined || progressed === undefined || plain === undefined || foreign === undefined || wrongToken === undefined ||
    badTid === undefined || dup === undefined || stale === undefined || rest.length !== 4) throw new Error('expected twelve leases')

  // the row moves after the lease: an extended lease and a progress report are updates
  t.equal((await backend.extendLeases([moved], 60_000)).filter(x => x !== null).length, 1, 'lease extended')
  t.same(await backend.setTaskProgress!([{ ...progressed, progress: { half: true } }]), ['ok'], 'progress reported')
  const number = (l: LeasedTask): string => l.leaseToken.slice(0, l.leaseToken.indexOf('('))

  const acks = await backend.completeTasks([
    moved, // found by id after the tuple id missed
    { ...progressed, result: { n: 1 } },
    { id: plain.id, leaseToken: number(plain) }, // a token without a tuple id
    { id: foreign.id, leaseToken: number(foreign) + tidOf(rest[0]!.leaseToken) }, // the tuple id of another leased row
    { id: wrongToken.id, leaseToken: '1' + tidOf(wrongToken.leaseToken) }, // the right tuple id, a wrong token
    { id: badTid.id, leaseToken: number(badTid) + '(4294967296,1)' }, // not a tuple id
    dup, dup
  ])
  t.same(acks, ['ok', 'ok', 'ok', 'ok', 'lease_lost', 'lease_lost', 'ok', 'lease_lost'], 'each ack as an ack by id would answer')

  const rows = await client.query<{ id: string, state: string, result: unknown }>(`SELECT id::text, state, result FROM "${schema}".tasks
    WHERE id = ANY($1::bigint[]) ORDER BY id`, [[moved, progressed, plain, foreign, wrongToken, badTid, dup, rest[0]!].map(l => l.id)])
  const state = new Map(rows.map(r => [r.id, r.state]))
  t.same([moved, progressed, plain, foreign, dup].map(l => state.get(l.id)), Array(5).fill('succeeded'), 'the acked rows succeeded')
  t.same([wrongToken, badTid, rest[0]!].map(l => state.get(l.id)), Array(3).fill('processing'),
    'the refused ones and the row whose tuple id another ack named still run')
  t.same(rows.find(r => r.id === progressed.id)?.result, { n: 1 }, 'the result stored')

  // a lease that expired and was leased again: the old token (and its tuple id) is refused
  await client.query(`UPDATE "${schema}".tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [stale.id])
  await backend.recoverExpiredLeases(100)
  const again = await backend.leaseTasks({ ...work, limit: 20 })
  const releasedStale = again.find(l => l.id === stale.id)
  t.ok(releasedStale !== undefined, 'the expired task leased again')
  t.same(await backend.completeTasks([stale]), ['lease_lost'], 'the old lease refused')
  const next = await backend.completeAndLease!([releasedStale!, ...rest], { ...work, limit: 0 })
  t.same(next.acks, ['ok', 'ok', 'ok', 'ok', 'ok'], 'completeAndLease: the new lease and the rest acked')

  const [stats] = await backend.queueStats(['q'])
  const counted = await client.query<{ state: string, n: number }>(`SELECT state, count(*)::int AS n FROM "${schema}".tasks
    WHERE queue = 'q' GROUP BY state`)
  const byState = Object.fromEntries(counted.map(r => [r.state, r.n]))
  t.match(stats, { succeeded: byState.succeeded, processing: byState.processing, ready: byState.ready ?? 0 }, 'counters equal the rows')
  t.equal(byState.succeeded, 10, 'ten acked in all')
}

t.test('postgres: acks by tuple id read no tasks_pkey entry, and answer as acks by id', { timeout: 60_000 }, async t => {
  // one connection, so the statistics flushed below are the ones these statements counted
  const { raw: client, backend, schema } = await schemaBackend(t, { poolSize: 1 })
  const pkeyReads = async (): Promise<number> => {
    await client.query('SELECT pg_stat_force_next_flush()')
    const [row] = await client.query<{ n: number }>(`SELECT coalesce(sum(idx_tup_read), 0)::float8 AS n FROM pg_stat_user_indexes
      WHERE schemaname = $1 AND indexrelname = 'tasks_pkey'`, [schema])
    return row?.n ?? 0
  }
  // enough rows that the planner would rather probe the primary key
  await backend.enqueue(Array.from({ length: 2_000 }, () => task('bulk')))
  await backend.enqueue(Array.from({ length: 100 }, () => task('p')))
  await client.query(`ANALYZE "${schema}".tasks`)
  const lease = { ...work, queues: ['p'] }
  const first = await backend.leaseTasks({ ...lease, limit: 30 })
  let before = await pkeyReads()
  t.same(await backend.completeTasks(first.slice(0, 15)), Array(15).fill('ok'), 'completeTasks acked')
  t.equal(await pkeyReads() - before, 0, 'completeTasks read no tasks_pkey entry')
  before = await pkeyReads()
  const next = await backend.completeAndLease!(first.slice(15), { ...lease, limit: 10 })
  t.same(next.acks, Array(15).fill('ok'), 'completeAndLease acked')
  t.equal(next.leased.length, 10, 'and leased')
  t.equal(await pkeyReads() - before, 0, 'completeAndLease read no tasks_pkey entry')
  // an ack whose row moved is found by id
  await backend.extendLeases(next.leased.slice(0, 2), 60_000)
  before = await pkeyReads()
  t.same(await backend.completeTasks(next.leased), Array(10).fill('ok'), 'acks of moved and unmoved rows')
  t.ok(await pkeyReads() - before > 0, 'the moved rows found through tasks_pkey')

  await ackCases(t, backend, client, schema)
})

t.test('pglite: the same acks', { timeout: 60_000 }, async t => {
  const { raw: client, backend } = await memoryBackend(t, { schema: 'sy' })
  await ackCases(t, backend, client, 'sy')
})
