// The embedded database's own vacuuming (pglite-vacuum.ts) on real PGlite: churned
// tasks are reclaimed and the table stops growing, nothing runs when nothing changed,
// close() stops it, and leases and acks running beside it are not disturbed.
import t, { type Test } from 'tap'
import type { Backend } from '@switchyard/core'
import { createPostgresBackendFromClient } from './backend.ts'
import { createPgliteClient } from './pglite-client.ts'
import type { VacuumPass } from './pglite-vacuum.ts'
import type { SqlClient } from './sql-client.ts'
import { task, waitUntil } from './test-support.ts'

const SCHEMA = 'vac'
const req = { workerId: 'w', queues: ['q'], limit: 50, leaseMs: 60_000 }

/** a pass as the tests see it: when it started */
type SeenPass = VacuumPass & { startedAt: number }

async function open (t: Test, vacuum: { checkEveryMs: number } | false): Promise<{ raw: SqlClient, backend: Backend, passes: SeenPass[] }> {
  const passes: SeenPass[] = []
  const raw = await createPgliteClient({
    dataDir: undefined,
    statementTimeoutMs: 30_000,
    settings: {},
    vacuum: vacuum === false ? false : { ...vacuum, onPass: pass => passes.push({ ...pass, startedAt: performance.now() - pass.ms }) }
  })
  const backend = createPostgresBackendFromClient(raw, { schema: SCHEMA })
  t.teardown(async () => {
    await backend.close()
    await raw.close()
  })
  await backend.init()
  return { raw, backend, passes }
}

/** n tasks enqueued, leased and acked by one worker, then pruned: every row churned and deleted */
async function churn (backend: Backend, n: number, worker = 'w'): Promise<number> {
  for (let done = 0; done < n; done += 250) await backend.enqueue(Array.from({ length: Math.min(250, n - done) }, () => task('q')))
  let acked = 0
  let leased = await backend.leaseTasks({ ...req, workerId: worker })
  while (leased.length > 0) {
    const next = await backend.completeAndLease!(leased, { ...req, workerId: worker })
    acked += next.acks.filter(a => a === 'ok').length
    leased = next.leased
  }
  await backend.pruneFinished({ state: 'succeeded', finishedOlderThanMs: 0, limit: 10_000 })
  return acked
}

interface TasksTable { dead: number, heapBytes: number, vacuums: number }

async function tasksTable (raw: SqlClient): Promise<TasksTable> {
  const [row] = await raw.query<{ dead: string, heap: string, vacuums: string }>(
    `SELECT n_dead_tup AS dead, pg_relation_size(relid) AS heap, vacuum_count AS vacuums FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'tasks'`, [SCHEMA])
  if (row === undefined) throw new Error('no tasks table')
  return { dead: Number(row.dead), heapBytes: Number(row.heap), vacuums: Number(row.vacuums) }
}

function vacuumedTasks (passes: SeenPass[], since = 0): number {
  return passes.filter(p => p.startedAt >= since).filter(p => p.statements.includes(`VACUUM "${SCHEMA}"."tasks"`)).length
}

const ROUNDS = 5
const PER_ROUND = 1000

async function heapAfterRounds (raw: SqlClient, backend: Backend, passes: SeenPass[] | null): Promise<number[]> {
  // a standing backlog, never leased: the table keeps live rows among the churned ones
  await backend.enqueue(Array.from({ length: 500 }, () => task('backlog')))
  const sizes: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    await churn(backend, PER_ROUND)
    if (passes !== null) {
      // a pass that started after this round's churn (others ran during it) and vacuumed the table
      const churned = performance.now()
      await waitUntil(async () => vacuumedTasks(passes, churned) > 0, 'a VACUUM of tasks after the round')
    }
    sizes.push((await tasksTable(raw)).heapBytes)
  }
  return sizes
}

t.test('churned tasks are vacuumed: dead tuples reclaimed, the table stops growing (and grows without it)', async t => {
  const on = await open(t, { checkEveryMs: 100 })
  const withVacuum = await heapAfterRounds(on.raw, on.backend, on.passes)
  const after = await tasksTable(on.raw)
  t.ok(after.dead < PER_ROUND / 10, `dead tuples reclaimed (${after.dead} left of ${PER_ROUND * 3} row versions a round)`)
  t.ok(after.vacuums >= ROUNDS, 'vacuum_count counts the passes')
  t.ok(on.passes.every(p => p.error === undefined), 'no pass failed')
  t.ok(on.passes.flatMap(p => p.statements).every(s => /^(VACUUM|ANALYZE) "/.test(s)), 'plain VACUUM and ANALYZE only, never FULL')
  t.ok((withVacuum.at(-1) as number) <= (withVacuum[1] as number), `heap stops growing across rounds of the same churn: ${withVacuum.join(', ')} bytes`)

  const off = await open(t, false)
  const without = await heapAfterRounds(off.raw, off.backend, null)
  t.ok((without.at(-1) as number) > (without[1] as number) * 1.5, `without it the heap keeps growing: ${without.join(', ')} bytes`)
  t.ok((await tasksTable(off.raw)).dead > PER_ROUND * ROUNDS, 'and keeps every dead tuple')
})

t.test('nothing changed: no vacuum runs', async t => {
  const { raw, backend, passes } = await open(t, { checkEveryMs: 50 })
  await churn(backend, 500)
  await waitUntil(async () => vacuumedTasks(passes) > 0, 'the churn vacuumed')
  // settled: checks with nothing due for longer than Postgres holds back its counters
  // (a backend reports them at most once a second, so the churn's last ones come late)
  let quietSince = passes.length
  await waitUntil(async () => {
    await new Promise(resolve => setTimeout(resolve, 1500))
    if (passes.length === quietSince) return true
    quietSince = passes.length
    return false
  }, 'the counters settled', 20_000)
  const vacuumsBefore = (await tasksTable(raw)).vacuums
  await new Promise(resolve => setTimeout(resolve, 1500))
  t.equal(passes.length, quietSince, 'thirty checks found nothing to do')
  t.equal((await tasksTable(raw)).vacuums, vacuumsBefore, 'and the tasks table was not vacuumed again')
})

t.test('close() stops it: a running pass ends, no later one starts', async t => {
  const passes: VacuumPass[] = []
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, vacuum: { checkEveryMs: 20, onPass: pass => passes.push(pass) } })
  const backend = createPostgresBackendFromClient(raw, { schema: SCHEMA })
  await backend.init()
  await churn(backend, 1000)
  await waitUntil(async () => passes.length > 0, 'a pass')
  // more churn, so that a pass is due or running when the client closes
  await churn(backend, 500)
  await backend.close()
  await raw.close()
  const atClose = passes.length
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(passes.length, atClose, 'no pass after close (ten intervals)')
  t.ok(passes.every(p => p.error === undefined), 'and none failed on a closing database')
})

t.test('leases and acks running beside the vacuums are not disturbed', async t => {
  const { backend, passes } = await open(t, { checkEveryMs: 30 })
  // three workers churn rounds of tasks until the tasks table has been vacuumed a few times
  // under them. Their loops only await PGlite, which answers on this thread, so no timer
  // runs until they stop: the checks come from the calls themselves (nudge)
  let enqueued = 0
  async function worker (id: string): Promise<number> {
    let acked = 0
    for (let round = 0; round < 40 && vacuumedTasks(passes) < 3; round++) {
      enqueued += 200
      acked += await churn(backend, 200, id)
    }
    return acked
  }
  const acked = await Promise.all([worker('w1'), worker('w2'), worker('w3')])
  t.ok(vacuumedTasks(passes) >= 3, `the tasks table was vacuumed during the churn (${vacuumedTasks(passes)} times)`)
  t.equal(acked.reduce((a, b) => a + b, 0), enqueued, `every one of ${enqueued} tasks leased and acked once, every ack ok`)
  t.ok(passes.every(p => p.error === undefined), 'no pass failed')
  const [stats] = await backend.queueStats(['q'])
  t.match(stats, { ready: 0, processing: 0 }, 'nothing left behind')
})

t.test('PGlite on its own thread is vacuumed the same way', async t => {
  const passes: VacuumPass[] = []
  const raw = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, thread: 'worker', vacuum: { checkEveryMs: 50, onPass: pass => passes.push(pass) } })
  const backend = createPostgresBackendFromClient(raw, { schema: SCHEMA })
  t.teardown(async () => {
    await backend.close()
    await raw.close()
  })
  await backend.init()
  await churn(backend, 1000)
  await waitUntil(async () => (await tasksTable(raw)).vacuums > 0, 'a VACUUM of tasks on the thread')
  t.ok(passes.every(p => p.error === undefined), 'no pass failed')
  t.ok((await tasksTable(raw)).dead < 100, 'dead tuples reclaimed')
})
