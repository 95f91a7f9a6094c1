// Statements that act on leased tasks by (id, token) read the rows they name, not every
// task in flight (migration 027). The statistics of `state` are taken while no task runs,
// as autovacuum takes them on a queue with a backlog; before, the planner then read all
// of tasks_processing for each ack, extension, failure, release or progress report.
import t from 'tap'
import { schemaBackend, task } from './test-support.ts'

t.test('acks, extensions, failures, releases and progress read only the rows they name, however many tasks run', { timeout: 60_000 }, async t => {
  // one connection, so the statistics flushed below are the ones these statements counted
  const { raw: client, backend, schema } = await schemaBackend(t, { poolSize: 1 })
  const running = 1_000
  await backend.enqueue(Array.from({ length: running + 100 }, () => task('q')))
  await client.query(`ANALYZE "${schema}".tasks`)
  const work = { workerId: 'w', queues: ['q'], leaseMs: 60_000 }
  const held = await backend.leaseTasks({ ...work, workerId: 'holder', limit: running })
  t.equal(held.length, running, `${running} tasks held running by another worker`)

  const reads = async (): Promise<number> => {
    await client.query('SELECT pg_stat_force_next_flush()')
    const [row] = await client.query<{ n: number }>(`SELECT coalesce(sum(idx_tup_read), 0)::float8 AS n FROM pg_stat_user_indexes
      WHERE schemaname = $1 AND relname = 'tasks' AND indexrelname IN ('tasks_processing', 'tasks_pkey')`, [schema])
    return row?.n ?? 0
  }
  const checkReads = async (what: string, call: () => Promise<unknown>): Promise<void> => {
    const before = await reads()
    await call()
    const read = await reads() - before
    t.ok(read <= 20, `${what} read ${read} entries of tasks_processing and tasks_pkey (not the ${running} running tasks)`)
  }

  const leased = await backend.leaseTasks({ ...work, limit: 6 })
  const [a, b, c, d, e, f] = leased
  if (a === undefined || b === undefined || c === undefined || d === undefined || e === undefined || f === undefined) throw new Error('expected six leased tasks')
  await checkReads('extendLeases', async () => t.equal((await backend.extendLeases([a, b], 60_000)).filter(x => x !== null).length, 2))
  await checkReads('setTaskProgress', async () => t.same(await backend.setTaskProgress!([{ ...a, progress: { done: 1 } }]), ['ok']))
  await checkReads('completeTasks', async () => t.same(await backend.completeTasks([a]), ['ok']))
  await checkReads('releaseTasks', async () => t.same(await backend.releaseTasks([b]), ['ok']))
  await checkReads('failTasks', async () => t.same(await backend.failTasks([{ ...c, error: { message: 'x' }, retryDelayMs: null }]), ['dead']))
  await checkReads('completeAndLease', async () => {
    const next = await backend.completeAndLease!([d, e], { ...work, limit: 0 })
    t.same(next.acks, ['ok', 'ok'])
  })
  // a stale token still loses its lease, and the acked tasks are where they should be
  t.same(await backend.completeTasks([{ ...f, leaseToken: '1' }]), ['lease_lost'], 'a wrong token is still refused')
  const [stats] = await backend.queueStats(['q'])
  t.match(stats, { processing: running + 1, succeeded: 3, dead: 1, ready: 95 }, 'counters exact')
})
