import t from 'tap'
import { enqueueMany, openTestBackend, waitFor, withPg, type TestBackend } from './support.ts'
import { spawnWorker, stopWorker, type WorkerProcess } from './processes.ts'

// Task dependencies across two real worker processes on one Postgres schema. Each
// process runs its own handler set ('left' only in p1, 'right' only in p2), so the
// parents of one fan-in are run by both processes, and the child by whichever leases
// it once the last parent's ack made it ready.

const QUEUE = 'deps-mp'
let tb: TestBackend
const procs: WorkerProcess[] = []

t.before(async () => {
  tb = await openTestBackend('postgres')
  await withPg(client => client.query(`CREATE TABLE "${tb.schema}".executions (task_id text NOT NULL, worker text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`))
  procs.push(spawnWorker({ schema: tb.schema, queues: [QUEUE], name: 'p1', concurrency: 4, leaseMs: 5_000, handlers: ['left', 'record', 'explode'] }))
  procs.push(spawnWorker({ schema: tb.schema, queues: [QUEUE], name: 'p2', concurrency: 4, leaseMs: 5_000, handlers: ['right', 'record'] }))
  await waitFor(() => procs.every(p => p.messages.some(m => m.event === 'ready')), 'two worker processes ready', 60_000)
})

t.teardown(async () => {
  await Promise.all(procs.map(stopWorker))
  await tb.destroy()
})

async function runs (ids: string[]): Promise<Array<{ task_id: string, worker: string, at: Date }>> {
  return await withPg(async client => (await client.query(
    `SELECT task_id, worker, at FROM "${tb.schema}".executions WHERE task_id = ANY($1) ORDER BY at`, [ids])).rows)
}

async function settled (id: string, state: string): Promise<void> {
  await waitFor(async () => (await tb.backend.getTask(id))?.state === state, `task ${id} to be ${state}`, 30_000)
}

t.test('fan-in of three parents run by two processes: the child runs once, after all three', async t => {
  // parents enqueued first, the child right after; the workers may already be running the parents
  const parents = await enqueueMany(tb.backend, 3, i => ({ queue: QUEUE, handler: i === 1 ? 'right' : 'left', payload: { i } }))
  const [child] = await enqueueMany(tb.backend, 1, () => ({ queue: QUEUE, handler: 'record', dependsOn: parents }))
  await settled(child!, 'succeeded')
  const all = await runs([...parents, child!])
  const parentRuns = all.filter(r => parents.includes(r.task_id))
  t.equal(parentRuns.length, 3, 'each parent ran once')
  t.same([...new Set(parentRuns.map(r => r.worker))].sort(), ['p1', 'p2'], 'the parents ran in both processes')
  const childRuns = all.filter(r => r.task_id === child)
  t.equal(childRuns.length, 1, 'the child ran exactly once')
  const lastParent = Math.max(...parentRuns.map(r => r.at.getTime()))
  t.ok(childRuns[0]!.at.getTime() >= lastParent, 'the child started after every parent had run')
  for (const id of parents) t.equal((await tb.backend.getTask(id))?.state, 'succeeded')
})

t.test('a parent that dies: its children are canceled or dead-lettered by policy and never run', async t => {
  const [healthy, doomed] = await enqueueMany(tb.backend, 2, i => i === 0
    ? { queue: QUEUE, handler: 'right', delayMs: 1_000 }
    : { queue: QUEUE, handler: 'explode', maxAttempts: 1 })
  const [canceled, dead] = await enqueueMany(tb.backend, 2, i => ({ queue: QUEUE, handler: 'record', dependsOn: [healthy!, doomed!], onParentFailure: i === 0 ? 'cancel' : 'dead' }))
  await settled(doomed!, 'dead')
  await settled(canceled!, 'canceled')
  await settled(dead!, 'dead')
  t.match((await tb.backend.getTask(canceled!))?.lastError, new RegExp(`parent task ${doomed!} was dead`))
  t.match((await tb.backend.getTask(dead!))?.lastError, new RegExp(`parent task ${doomed!} was dead`))
  await settled(healthy!, 'succeeded')
  t.equal((await runs([canceled!, dead!])).length, 0, 'neither child ran')
  t.equal((await tb.backend.getTask(canceled!))?.state, 'canceled', 'the other parent\'s success changes nothing')
})
