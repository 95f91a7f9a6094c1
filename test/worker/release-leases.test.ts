// A worker process killed mid-task holds a one-minute lease. Through the admin service
// (another process's view of the same Postgres schema) its lease is released at once:
// refused while its heartbeat still counts it alive, accepted with force or once it
// dropped out, and the task then runs again elsewhere long before the lease expires.
import t from 'tap'
import { makeService } from '../../core/admin/test-support.ts'
import { createWorker } from '../../core/worker/worker.ts'
import { enqueueMany, openTestBackend, quietLog, waitFor, withPg } from './support.ts'
import { spawnWorker, stopWorker } from './processes.ts'

const QUEUE = 'release-kill'
const LEASE_MS = 60_000

t.test('the leases of a killed worker process are released now, and its task completes on another worker', async t => {
  const tb = await openTestBackend('postgres')
  t.teardown(async () => { await tb.destroy() })
  await withPg(client => client.query(`CREATE TABLE "${tb.schema}".executions (task_id text NOT NULL, worker text NOT NULL, attempt integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`))
  const victim = spawnWorker({ schema: tb.schema, queues: [QUEUE], name: 'victim', concurrency: 1, leaseMs: LEASE_MS, handlers: ['block'] })
  t.teardown(async () => { await stopWorker(victim) })
  await waitFor(() => victim.messages.some(m => m.event === 'ready'), 'the victim process ready', 60_000)
  const [id] = await enqueueMany(tb.backend, 1, () => ({ queue: QUEUE, handler: 'block', payload: {} }))
  await waitFor(() => victim.messages.some(m => m.event === 'started' && m.taskId === id), 'the victim to start the task')
  const workerId = `victim:${victim.child.pid}`
  victim.child.kill('SIGKILL')
  await victim.exited

  const { service } = makeService(t, tb.backend)
  const call = { actor: 'CN=ops', requestId: 'release-1' }
  await t.rejects(service.ReleaseWorkerLeases({ id: workerId }, call), { code: 'WORKER_ALIVE' }, 'its heartbeat has not expired yet: refused')
  const preview = await service.ReleaseWorkerLeases({ id: workerId, force: true, dryRun: true }, call)
  t.match(preview, { alive: true, dryRun: true, count: 1, requeued: [id], dead: [] }, 'a forced dry run names the task')
  t.equal((await tb.backend.getTask(id as string))?.state, 'processing', 'still held by the dead process')

  await waitFor(async () => !(await tb.backend.listWorkers()).some(w => w.id === workerId), 'the dead process to drop out of the live registry', 20_000)
  const released = await service.ReleaseWorkerLeases({ id: workerId }, call)
  t.match(released, { alive: false, dryRun: false, count: 1, requeued: [id] }, 'no longer alive: released without force')
  const task = await tb.backend.getTask(id as string)
  t.equal(task?.state, 'ready', 'ready again at once')
  t.ok((task?.updatedAt ?? Infinity) < (task?.startedAt ?? 0) + LEASE_MS, 'long before its lease would have expired')

  const attempts: number[] = []
  const rescuer = createWorker({
    backend: tb.backend,
    handlers: { block: async (_payload: unknown, ctx: { attempt: number }) => { attempts.push(ctx.attempt) } },
    options: { queues: [QUEUE], pollMs: 50, heartbeatMs: 200, leaseMs: 5_000 },
    log: quietLog
  })
  t.teardown(() => rescuer.stop())
  await rescuer.start()
  await waitFor(async () => (await tb.backend.getTask(id as string))?.state === 'succeeded', 'the task to succeed on the rescuer')
  t.same(attempts, [2], 'run once more, as its second attempt')
})
