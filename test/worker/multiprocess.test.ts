import t from 'tap'
import { enqueueMany, openTestBackend, waitFor, withPg, type TestBackend } from './support.ts'
import { spawnWorker, stopWorker, type WorkerProcess } from './processes.ts'

// Several real worker processes on one Postgres schema.

const SHARE_QUEUE = 'mp-share'
const KILL_QUEUE = 'mp-kill'
// Short enough that the crash case recovers quickly, long enough (renewed every
// second) that a loaded machine does not lose leases in the sharing case.
const LEASE_MS = 3_000

// One schema and three processes serve both cases: starting a process (tsx
// compiling the sources) is the expensive part of this file.
let tb: TestBackend
const procs: WorkerProcess[] = []

t.before(async () => {
  tb = await openTestBackend('postgres')
  await withPg(client => client.query(`CREATE TABLE "${tb.schema}".executions (task_id text NOT NULL, worker text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`))
  for (const name of ['p1', 'p2', 'p3']) {
    procs.push(spawnWorker({ schema: tb.schema, queues: [SHARE_QUEUE, KILL_QUEUE], name, concurrency: 20, leaseMs: LEASE_MS }))
  }
  await waitFor(() => procs.every(p => p.messages.some(m => m.event === 'ready')), 'three worker processes ready', 60_000)
})

t.teardown(async () => {
  await Promise.all(procs.map(stopWorker))
  await tb.destroy()
})

async function executions (queueTaskIds: string[]): Promise<Array<{ task_id: string, worker: string, attempt: number }>> {
  return await withPg(async client => (await client.query(
    `SELECT task_id, worker, attempt FROM "${tb.schema}".executions WHERE task_id = ANY($1) ORDER BY at`, [queueTaskIds])).rows)
}

t.test('three worker processes share 5,000 tasks: all complete, none runs twice', async t => {
  const total = 5_000
  const startedAt = Date.now()
  const ids = await enqueueMany(tb.backend, total, i => ({ queue: SHARE_QUEUE, handler: 'record', payload: { i } }))
  const stats = await waitFor(async () => {
    const [q] = await tb.backend.queueStats([SHARE_QUEUE])
    return q !== undefined && q.succeeded === total ? q : null
  }, `${total} tasks to succeed`, 45_000)
  const elapsedMs = Date.now() - startedAt
  t.equal(stats.dead + stats.retrying + stats.ready + stats.processing, 0, 'nothing left over')
  const runs = await executions(ids)
  t.equal(new Set(runs.map(r => r.task_id)).size, total, 'every task ran')
  t.equal(runs.length, total, 'no task ran twice')
  const perWorker = new Map<string, number>()
  for (const r of runs) perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1)
  t.equal(perWorker.size, 3, `all three processes took work: ${[...perWorker].map(([w, n]) => `${w}=${n}`).join(' ')}`)
  t.comment(`${total} tasks through 3 processes in ${elapsedMs} ms (${Math.round(total / (elapsedMs / 1000))} tasks/s, one INSERT each)`)
})

t.test('a worker killed with SIGKILL mid-task: its task is recovered and completed by another process', async t => {
  // every process blocks on a task's first attempt; whichever starts it is killed,
  // and another must recover the expired lease and finish the task
  const [id] = await enqueueMany(tb.backend, 1, () => ({ queue: KILL_QUEUE, handler: 'block', maxAttempts: 3 }))
  const victim = await waitFor(() => procs.find(p => p.messages.some(m => m.event === 'started' && m.taskId === id)), 'a process to start the task', 15_000)
  victim.child.kill('SIGKILL')
  await victim.exited
  const killedAt = Date.now()
  const done = await waitFor(async () => {
    const stored = await tb.backend.getTask(id!)
    return stored?.state === 'succeeded' ? stored : null
  }, 'another process to complete the task', 30_000)
  t.equal(done.attempts, 2, 'the crashed attempt counted')
  t.comment(`recovered and completed ${Date.now() - killedAt} ms after the kill (lease ${LEASE_MS} ms)`)
  const runs = await executions([id!])
  const victimName = victim.messages[0]?.name
  t.equal(runs.length, 2)
  t.match(runs[0], { worker: victimName, attempt: 1 }, 'first run: the killed process')
  t.match(runs[1], { attempt: 2 }, 'second run: a survivor')
  t.not(runs[1]?.worker, victimName)

  const survivors = procs.filter(p => p !== victim)
  await Promise.all(survivors.map(stopWorker))
  for (const p of survivors) t.equal(await p.exited, 0, `${String(p.messages[0]?.name)} stopped cleanly on SIGTERM`)
})
