// The counters equal the tasks after every path of the hot path (a lease from ready and
// from scheduled, an ack that readies a child inside its trigger, ack, retry, release),
// and creation-time windows still find running tasks now that tasks_created leaves
// them out (migration 022), reading the two indexes and never every task.
import t, { type Test } from 'tap'
import type { Backend, QueueStats } from '@switchyard/core'
import type { SqlClient } from './index.ts'
import { fillTasksSecondApart, schemaBackend, task, taskSeqScans, waitUntil } from './test-support.ts'

const STATES = ['ready', 'scheduled', 'processing', 'retrying', 'dead', 'succeeded', 'canceled', 'blocked'] as const

async function setUp (t: Test): Promise<{ client: SqlClient, backend: Backend, s: string }> {
  const { raw, backend, schema } = await schemaBackend(t)
  return { client: raw, backend, s: `"${schema}"` }
}

/** the counters of a queue against a count of its tasks */
async function countsMatch (t: Test, client: SqlClient, backend: Backend, s: string, queue: string, what: string): Promise<void> {
  const [stats] = await backend.queueStats([queue]) as [QueueStats]
  const rows = await client.query<{ state: string, n: number }>(`SELECT state, count(*)::int AS n FROM ${s}.tasks WHERE queue = $1 GROUP BY state`, [queue])
  const actual = Object.fromEntries(rows.map(r => [r.state, r.n]))
  t.same(Object.fromEntries(STATES.map(st => [st, stats[st]])), Object.fromEntries(STATES.map(st => [st, actual[st] ?? 0])), what)
}

t.test('the counters equal the tasks after leases, acks, a child readied by an ack, a retry and a release', async t => {
  const { client, backend, s } = await setUp(t)
  // a scheduled task whose time has come is leased straight from 'scheduled'
  await backend.enqueue([task('q', { delayMs: 50 }), task('q'), task('q')])
  await waitUntil(async () => (await client.query<{ due: boolean }>(`SELECT bool_and(run_at <= now()) AS due FROM ${s}.tasks`))[0]?.due, 'the delayed task to fall due')
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 3, leaseMs: 60_000, handlers: ['test.handler'] })
  t.equal(leased.length, 3)
  await countsMatch(t, client, backend, s, 'q', 'a lease from ready and from scheduled')

  // a parent acked by complete_and_lease readies its child inside the ack's trigger
  const [parent] = await backend.enqueue([task('p')])
  await backend.enqueue([task('p', { dependsOn: [parent?.id as string] })])
  const [p] = await backend.leaseTasks({ workerId: 'w', queues: ['p'], limit: 1, leaseMs: 60_000 })
  const next = await backend.completeAndLease!([p!], { workerId: 'w', queues: ['p'], limit: 5, leaseMs: 60_000 })
  t.same(next.acks, ['ok'])
  t.equal(next.leased.length, 1, 'the readied child is leased in the same call')
  await countsMatch(t, client, backend, s, 'p', 'the child readied by the ack is counted')

  // an ack, a fail to retry, a release
  t.same(await backend.completeTasks([leased[0]!]), ['ok'])
  t.same(await backend.failTasks([{ ...leased[1]!, error: { message: 'x' }, retryDelayMs: 60_000 }]), ['retrying'])
  t.same(await backend.releaseTasks([leased[2]!]), ['ok'])
  await countsMatch(t, client, backend, s, 'q', 'ack, retry and release')
})

t.test('a creation-time window without a state still lists running tasks', async t => {
  const { backend } = await setUp(t)
  const since = Date.now() - 1
  await backend.enqueue([task('q'), task('q'), task('q')])
  const [running] = await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 1, leaseMs: 60_000 })
  const page = await backend.listTasks({ since, until: Date.now() + 1000, limit: 10, offset: 0 })
  t.equal(page.tasks.length, 3, 'the two waiting tasks and the running one')
  t.ok(page.tasks.some(task => task.id === running?.id && task.state === 'processing'), 'the running task is in the window')
  const processing = await backend.listTasks({ state: 'processing', since, limit: 10, offset: 0 })
  t.same(processing.tasks.map(task => task.id), [running?.id])
})

t.test('a creation-time window without a state reads the two indexes, not every task', async t => {
  const { client, backend, s } = await setUp(t)
  const schema = s.slice(1, -1)
  // 20,000 tasks created a second apart, one in a thousand running; the window holds
  // 1,000 of them, the newest of which is running
  await fillTasksSecondApart(client, s)
  const base = Date.parse('2026-01-01T00:00:00Z')
  const window = { since: base + 5_001_000, until: base + 6_000_000 }
  const scans = async (): Promise<number> => await taskSeqScans(client, schema)
  const before = await scans()
  const page = await backend.listTasks({ ...window, limit: 50, offset: 0 })
  const next = await backend.listTasks({ ...window, limit: 50, offset: 0, after: page.next })
  const after = await scans()
  t.equal(page.total, 1000, 'the total counts the window exactly')
  t.equal(page.tasks.length, 50)
  t.equal(page.tasks[0]?.state, 'processing', 'the running task, newest in the window, comes first')
  t.ok(BigInt(next.tasks[0]?.id ?? 0) < BigInt(page.tasks[49]?.id ?? 0), 'the next page continues newest first')
  t.equal(after - before, 0, 'no sequential scan of tasks')
})
