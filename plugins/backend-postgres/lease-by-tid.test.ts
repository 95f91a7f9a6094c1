// The lease updates the rows it locked by their tuple id (migration 028): no second
// primary-key probe per leased row, with and without a handler set, alone and after the
// acks of completeAndLease. The leased rows, their order and the counters are as before.
import t from 'tap'
import { schemaBackend, task } from './test-support.ts'

t.test('a lease reads no tasks_pkey entry to update the rows it picked, and leases them in run order', { timeout: 60_000 }, async t => {
  // one connection, so the statistics flushed below are the ones these statements counted
  const { raw: client, backend, schema } = await schemaBackend(t, { poolSize: 1 })
  // two handlers in one queue; priorities so that run order is not insertion order
  await backend.enqueue(Array.from({ length: 300 }, (_, i) => task('q', { handler: i % 2 === 0 ? 'h.a' : 'h.b', priority: i % 3, payload: { i } })))
  await client.query(`ANALYZE "${schema}".tasks`)

  const pkeyReads = async (): Promise<number> => {
    await client.query('SELECT pg_stat_force_next_flush()')
    const [row] = await client.query<{ n: number }>(`SELECT coalesce(sum(idx_tup_read), 0)::float8 AS n FROM pg_stat_user_indexes
      WHERE schemaname = $1 AND indexrelname = 'tasks_pkey'`, [schema])
    return row?.n ?? 0
  }
  const work = { workerId: 'w', queues: ['q'], leaseMs: 60_000 }
  const inRunOrder = async (ids: string[]): Promise<boolean> => {
    const rows = await client.query<{ ok: boolean }>(`SELECT coalesce(bool_and(ok), true) AS ok FROM (
      SELECT (priority, -extract(epoch FROM run_at), -id) <= lag((priority, -extract(epoch FROM run_at), -id)) OVER (ORDER BY o) OR lag(id) OVER (ORDER BY o) IS NULL AS ok
      FROM unnest($1::bigint[]) WITH ORDINALITY AS u(id, o) JOIN "${schema}".tasks USING (id)) AS x`, [ids])
    return rows[0]?.ok === true
  }

  let before = await pkeyReads()
  const withHandlers = await backend.leaseTasks({ ...work, limit: 40, handlers: ['h.a', 'h.b'] })
  t.equal(withHandlers.length, 40, 'a lease with a handler set leases its limit')
  t.equal(await pkeyReads() - before, 0, 'and reads no tasks_pkey entry')
  t.ok(await inRunOrder(withHandlers.map(l => l.id)), 'in run order across both handlers')

  before = await pkeyReads()
  const withoutHandlers = await backend.leaseTasks({ ...work, limit: 40 })
  t.equal(withoutHandlers.length, 40, 'a lease without a handler set leases its limit')
  t.equal(await pkeyReads() - before, 0, 'and reads no tasks_pkey entry')
  t.ok(await inRunOrder(withoutHandlers.map(l => l.id)), 'in run order across both handlers')

  // completeAndLease: each ack is one probe of tasks_pkey, the lease after it none
  before = await pkeyReads()
  const next = await backend.completeAndLease!(withHandlers.slice(0, 10), { ...work, limit: 30, handlers: ['h.a', 'h.b'] })
  t.same(next.acks, Array(10).fill('ok'), 'the acks')
  t.equal(next.leased.length, 30, 'and the lease after them')
  const read = await pkeyReads() - before
  t.ok(read >= 10 && read <= 30, `tasks_pkey entries read: ${read} (the 10 acks' probes, not one more per leased row)`)

  const leasedIds = [...withHandlers, ...withoutHandlers, ...next.leased].map(l => l.id)
  t.equal(new Set(leasedIds).size, 110, 'no task leased twice')
  const rows = await client.query<{ state: string, n: number }>(`SELECT state, count(*)::int AS n FROM "${schema}".tasks GROUP BY state ORDER BY state`)
  t.same(rows, [{ state: 'processing', n: 100 }, { state: 'ready', n: 190 }, { state: 'succeeded', n: 10 }], 'the rows')
  const [stats] = await backend.queueStats(['q'])
  t.match(stats, { processing: 100, ready: 190, succeeded: 10 }, 'counters exact')
  const leased = await client.query<{ ok: boolean }>(`SELECT bool_and(worker_id = 'w' AND lease_token IS NOT NULL AND attempts = 1 AND started_at IS NOT NULL)
    AS ok FROM "${schema}".tasks WHERE state = 'processing'`)
  t.equal(leased[0]?.ok, true, 'each leased row carries its lease')
})
