// A queue in run order (priority DESC, run_at, id) across its handlers, now that the only
// lease index is per (queue, handler) (migration 024): the lease without a handler set,
// the flow-limited lease one row at a time and the waiting-state task lists merge one
// range per handler and keep the exact order; on a large table they read neither every
// task (no sequential scan) nor a whole queue (a bounded number of index entries).
import t, { type Test } from 'tap'
import type { Backend, LeasedTask, TaskFilter } from '@switchyard/core'
import type { SqlClient } from './index.ts'
import { memoryBackend, schemaBackend, task } from './test-support.ts'

const HANDLERS = ['h.a', 'h.b', 'h.c']

interface Setup { client: SqlClient, backend: Backend, s: string }

const onPostgres = async (t: Test): Promise<Setup> => {
  const { raw, backend, schema } = await schemaBackend(t)
  return { client: raw, backend, s: `"${schema}"` }
}
const onPglite = async (t: Test): Promise<Setup> => {
  const { raw, backend } = await memoryBackend(t, { schema: 'merge' })
  return { client: raw, backend, s: 'merge' }
}

/** 24 ready tasks of queue q over three handlers, priorities and run times mixed (ties broken by id), and 6 of queue r */
async function fill (backend: Backend): Promise<void> {
  const now = Date.now()
  await backend.enqueue(Array.from({ length: 24 }, (_, i) => task('q', {
    handler: HANDLERS[i % 3] as string,
    priority: [0, 5, 5, 1][i % 4] as number,
    // two tasks per instant, so some ties of priority and run_at are broken by the id
    runAt: now - 60_000 + Math.floor(((i * 7) % 24) / 2) * 1000
  })))
  await backend.enqueue(Array.from({ length: 6 }, (_, i) => task('r', { handler: HANDLERS[(i + 1) % 3] as string, priority: i % 2 })))
}

/** the ready tasks of `queues` (one queue after the other) in run order, sorted by the database, not read from an index order */
async function expected (client: SqlClient, s: string, queues: string[]): Promise<Array<{ id: string, handler: string }>> {
  return await client.query<{ id: string, handler: string }>(`
    SELECT t.id::text AS id, t.handler FROM ${s}.tasks t JOIN unnest($1::text[]) WITH ORDINALITY AS q(name, ord) ON q.name = t.queue
    WHERE t.state = 'ready' ORDER BY q.ord, t.priority DESC, t.run_at, t.id`, [queues])
}

/** every page of a list, 5 at a time, each from the previous page's position */
async function allPages (backend: Backend, filter: TaskFilter): Promise<string[]> {
  const ids: string[] = []
  let after: string | undefined
  for (let pages = 0; pages < 50; pages++) {
    const page = await backend.listTasks({ ...filter, limit: 5, offset: 0, ...(after === undefined ? {} : { after }) })
    ids.push(...page.tasks.map(task => task.id))
    if (page.next === undefined) return ids
    after = page.next
  }
  throw new Error('more pages than tasks')
}

async function listsAndLeases (t: Test, { client, backend, s }: Setup): Promise<void> {
  await fill(backend)
  const inQ = await expected(client, s, ['q'])
  const inQR = await expected(client, s, ['q', 'r'])
  t.equal(new Set(inQ.slice(0, 6).map(r => r.handler)).size, 3, 'the head of q mixes the three handlers')
  t.same(await allPages(backend, { state: 'ready', queue: 'q' }), inQ.map(r => r.id), 'the ready list of one queue, page by page, in run order across its handlers')
  t.same(await allPages(backend, { state: 'ready', queue: 'q', handler: 'h.b' }), inQ.filter(r => r.handler === 'h.b').map(r => r.id), 'the list of one handler of the queue')
  const everyQueue = await client.query<{ id: string }>(`SELECT t.id::text AS id FROM ${s}.tasks t WHERE t.state = 'ready' ORDER BY t.priority DESC, t.run_at, t.id`)
  t.same(await allPages(backend, { state: 'ready' }), everyQueue.map(r => r.id), 'the ready list of every queue, in run order')

  // leases without a handler set, 7 at a time: q's head first, then r's
  const req = { workerId: 'w', queues: ['q', 'r'], limit: 7, leaseMs: 60_000 }
  const order: string[] = []
  let batch: LeasedTask[] = await backend.leaseTasks(req)
  for (let calls = 0; batch.length > 0 && calls < 10; calls++) {
    order.push(...batch.map(l => l.id))
    const next = await backend.completeAndLease!(batch, req)
    t.ok(next.acks.every(a => a === 'ok'))
    batch = next.leased
  }
  t.same(order, inQR.map(r => r.id), 'leaseTasks and completeAndLease without handlers lease in run order across handlers, queue by queue')
}

/** the first `n` of `rows` taking at most `cap` of handler `capped` (the row-at-a-time lease under a handler limit) */
function capped (rows: Array<{ id: string, handler: string }>, n: number, handler: string, cap: number): string[] {
  const out: string[] = []
  let used = 0
  for (const r of rows) {
    if (out.length === n) break
    if (r.handler === handler) { if (used === cap) continue; used++ }
    out.push(r.id)
  }
  return out
}

async function limitedLeases (t: Test, { client, backend, s }: Setup): Promise<void> {
  await fill(backend)
  const inQ = await expected(client, s, ['q'])
  const inR = await expected(client, s, ['r'])
  // a queue limit with less room than the batch: the lease takes rows one at a time
  await backend.setFlowLimit({ kind: 'queue', name: 'q' }, { concurrency: 5, rate: null })
  const first = await backend.leaseTasks({ workerId: 'w', queues: ['q', 'r'], limit: 7, leaseMs: 60_000 })
  t.same(first.map(l => l.id), [...inQ.slice(0, 5), ...inR.slice(0, 2)].map(r => r.id), 'q\'s first five in run order across its handlers, then r\'s first two')
  await backend.completeTasks(first)
  await backend.clearFlowLimit({ kind: 'queue', name: 'q' })

  // a handler limit: h.a at most twice among the first of q's h.a and h.c tasks
  const rest = inQ.slice(5).filter(r => r.handler !== 'h.b')
  await backend.setFlowLimit({ kind: 'handler', name: 'h.a' }, { concurrency: 2, rate: null })
  const second = await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 6, leaseMs: 60_000, handlers: ['h.c', 'h.a'] })
  t.same(second.map(l => l.id), capped(rest, 6, 'h.a', 2), 'a handler set under a handler limit: run order, the limited handler capped')
}

t.test('postgres: lists and leases keep run order across the handlers of a queue', async t => { await listsAndLeases(t, await onPostgres(t)) })
t.test('pglite: lists and leases keep run order across the handlers of a queue', async t => { await listsAndLeases(t, await onPglite(t)) })
t.test('postgres: the flow-limited lease, one row at a time, keeps run order across handlers', async t => { await limitedLeases(t, await onPostgres(t)) })
t.test('pglite: the flow-limited lease, one row at a time, keeps run order across handlers', async t => { await limitedLeases(t, await onPglite(t)) })

t.test('postgres: on 40,000 tasks the merged reads scan no task sequentially and read a bounded number of index entries', async t => {
  // one connection, so the statistics flushed below are those its statements counted
  const { raw: client, backend, schema } = await schemaBackend(t, { poolSize: 1 })
  const s = `"${schema}"`
  // two queues x four handlers; 30 % ready, 20 % scheduled a day ahead, the rest succeeded
  await client.query(`INSERT INTO ${s}.tasks (queue, handler, payload, max_attempts, priority, timeout_ms, run_at, payload_size, state, finished_at)
    SELECT 'q' || (g % 2), 'h' || ((g / 2) % 4), '{}', 3, g % 3, 60000,
      CASE WHEN g % 10 BETWEEN 3 AND 4 THEN now() + interval '1 day' ELSE now() - (g % 977) * interval '1 second' END, 2,
      CASE WHEN g % 10 < 3 THEN 'ready' WHEN g % 10 < 5 THEN 'scheduled' ELSE 'succeeded' END,
      CASE WHEN g % 10 >= 5 THEN now() END
    FROM generate_series(1, 40000) g`)
  await client.query(`ANALYZE ${s}.tasks`)
  const counters = async (): Promise<{ seq: number, entries: number }> => {
    await client.query('SELECT pg_stat_force_next_flush()')
    const [row] = await client.query<{ seq: number, entries: number }>(`
      SELECT coalesce(t.seq_scan, 0)::float8 AS seq,
        (SELECT coalesce(sum(i.idx_tup_read), 0) FROM pg_stat_user_indexes i WHERE i.schemaname = $1 AND i.relname = 'tasks')::float8 AS entries
      FROM pg_stat_user_tables t WHERE t.schemaname = $1 AND t.relname = 'tasks'`, [schema])
    return row ?? { seq: 0, entries: 0 }
  }
  // a queue holds 10,000 pending tasks: reading or sorting one whole would read them all
  const reads = async (what: string, read: () => Promise<unknown>, bound = 1500): Promise<void> => {
    const before = await counters()
    await read()
    const after = await counters()
    t.equal(after.seq - before.seq, 0, `${what}: no sequential scan of tasks`)
    t.ok(after.entries - before.entries < bound, `${what}: ${after.entries - before.entries} index entries read (fewer than ${bound})`)
  }
  // Within a priority the ready tasks (due) come before the scheduled ones (a day ahead)
  // in every range, so a scheduled list walks past the ready entries of the first
  // priority of each (queue, handler): about 4,500 here, as the per-queue index did.
  const lists = [
    ['ready tasks of one queue', { state: 'ready', queue: 'q1' }, 1500],
    ['ready tasks of every queue', { state: 'ready' }, 1500],
    ['scheduled tasks of every queue', { state: 'scheduled' }, 6000]
  ] as const
  for (const [what, filter, bound] of lists) {
    let next: string | undefined
    await reads(`${what}, first page`, async () => { next = (await backend.listTasks({ ...filter, limit: 50, offset: 0 })).next }, bound)
    await reads(`${what}, next page`, async () => await backend.listTasks({ ...filter, limit: 50, offset: 0, after: next }), bound)
  }
  await reads('a lease without a handler set', async () => t.equal((await backend.leaseTasks({ workerId: 'w', queues: ['q0'], limit: 50, leaseMs: 60_000 })).length, 50))
  await backend.setFlowLimit({ kind: 'queue', name: 'q0' }, { concurrency: 60, rate: null })
  await reads('a flow-limited lease one row at a time', async () => t.equal((await backend.leaseTasks({ workerId: 'w', queues: ['q0'], limit: 50, leaseMs: 60_000 })).length, 10))
})
