import t from 'tap'
import { enqueueMany, openTestBackend, waitFor, withPg, type TestBackend } from './support.ts'
import { spawnWorker, stopWorker, type WorkerProcess } from './processes.ts'

// The deployment the README describes: worker processes that do not run a task's
// handler (one with no handlers at all, one with another handler) next to the
// process that does. Leases carry each worker's handler set, so the others never
// take the tasks: every task runs once, in the process with its handler, on its
// first attempt. Real processes on the Postgres server.

const QUEUE = 'hs-mail'
const LEASE_MS = 5_000

let tb: TestBackend
const procs: WorkerProcess[] = []

t.before(async () => {
  tb = await openTestBackend('postgres')
  await withPg(client => client.query(`CREATE TABLE "${tb.schema}".executions (task_id text NOT NULL, worker text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`))
})

t.teardown(async () => {
  await Promise.all(procs.map(stopWorker))
  await tb.destroy()
})

function start (name: string, handlers: string[]): WorkerProcess {
  const proc = spawnWorker({ schema: tb.schema, queues: [QUEUE], name, concurrency: 20, leaseMs: LEASE_MS, handlers })
  procs.push(proc)
  return proc
}

t.test('1,000 tasks next to workers without their handler: all succeed in the process with it, one attempt each', async t => {
  const total = 1_000
  const bystanders = [start('none', []), start('other', ['block'])]
  await waitFor(() => bystanders.every(p => p.messages.some(m => m.event === 'ready')), 'the workers without the handler to be ready', 60_000)
  const ids = await enqueueMany(tb.backend, total, i => ({ queue: QUEUE, handler: 'record', payload: { i }, maxAttempts: 1 }))

  // Both bystanders are woken by the enqueue and lease on; with maxAttempts 1 a single
  // wrong lease would dead-letter a task. They heartbeat every second, so two beats
  // each prove they were running meanwhile.
  const beats = async (): Promise<number> => await withPg(async client => Number((await client.query(
    `SELECT count(*) AS n FROM "${tb.schema}".workers WHERE last_heartbeat_at > now() - interval '10 seconds'`)).rows[0].n))
  await waitFor(async () => await beats() === 2, 'both bystanders to be registered', 30_000)
  const registered = await tb.backend.listWorkers()
  t.same(registered.map(w => w.handlers).sort(), [[], ['block']], 'the registry shows what each runs')
  const firstBeat = Math.max(...registered.map(w => w.lastHeartbeatAt))
  await waitFor(async () => (await tb.backend.listWorkers()).every(w => w.lastHeartbeatAt > firstBeat + 1_000), 'a later heartbeat from each', 30_000)
  const [waiting] = await tb.backend.queueStats([QUEUE])
  t.match(waiting, { ready: total, processing: 0, dead: 0 }, 'untouched while only the bystanders run')
  t.same(await tb.backend.pendingHandlers({ queues: [QUEUE], limit: 10 }), [{ queue: QUEUE, handler: 'record' }])

  const runner = start('runner', ['record'])
  const stats = await waitFor(async () => {
    const [q] = await tb.backend.queueStats([QUEUE])
    return q !== undefined && q.succeeded + q.dead === total ? q : null
  }, `${total} tasks to finish`, 90_000)
  t.match(stats, { succeeded: total, dead: 0, ready: 0, processing: 0, retrying: 0 }, 'every task succeeded')

  const runs = await withPg(async client => (await client.query(
    `SELECT worker, attempt, count(*)::int AS n FROM "${tb.schema}".executions WHERE task_id = ANY($1) GROUP BY worker, attempt`, [ids])).rows)
  t.same(runs, [{ worker: 'runner', attempt: 1, n: total }], 'each ran once, in the process with the handler, on attempt 1')
  const attempts = await withPg(async client => (await client.query(
    `SELECT attempts, count(*)::int AS n FROM "${tb.schema}".tasks WHERE id = ANY($1::bigint[]) GROUP BY attempts`, [ids])).rows)
  t.same(attempts, [{ attempts: 1, n: total }], 'one attempt each')

  await Promise.all(procs.map(stopWorker))
  for (const p of [...bystanders, runner]) t.equal(await p.exited, 0, `${String(p.messages[0]?.name)} stopped cleanly`)
  const counters = bystanders.map(p => p.messages.find(m => m.event === 'stopped')?.counters as { leased: number, released: number })
  t.same(counters.map(c => c.leased), [0, 0], 'the bystanders leased nothing')
})
