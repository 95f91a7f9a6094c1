import t from 'tap'
import { isSwitchyardError } from '../../core/errors.ts'
import type { TaskContext } from '../../core/worker/handlers.ts'
import { createWorker } from '../../core/worker/worker.ts'
import { enqueueMany, gate, openTestBackend, quietLog, waitFor, withPg } from './support.ts'

// A real fault: the server drops every connection of this backend (as a Postgres
// restart or a failover would) while tasks are in flight. The worker must log,
// retry and carry on; nothing may be lost.

t.test('connections killed mid-flight: the worker recovers and every task completes', async t => {
  const tb = await openTestBackend('postgres')
  t.teardown(() => tb.destroy())
  const queue = 'blip'
  const release = gate()
  let started = 0
  const worker = createWorker({
    backend: tb.backend,
    handlers: {
      wait: async (_p: unknown, ctx: TaskContext) => {
        started++
        if (ctx.attempt === 1) await release.promise
      }
    },
    options: { queues: [queue], concurrency: 5, pollMs: 50, leaseMs: 10_000, recoveryMs: 200 },
    log: quietLog
  })
  t.teardown(() => worker.stop())
  await worker.start()
  const ids = await enqueueMany(tb.backend, 20, () => ({ queue, handler: 'wait' }))
  await waitFor(() => started >= 5, 'five tasks in flight')

  const killed = await withPg(async client => (await client.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE application_name = 'switchyard' AND pid <> pg_backend_pid() AND query LIKE $1`, [`%${tb.schema}%`])).rowCount)
  t.ok((killed ?? 0) > 0, `terminated ${killed} connections of this backend`)
  release.open()

  // The test reads through the same pool: a read that meets a terminated idle
  // connection is answered BACKEND_UNAVAILABLE (the pool drops it), so it reads again.
  await waitFor(async () => {
    try {
      const states = await Promise.all(ids.map(async id => (await tb.backend.getTask(id))?.state))
      return states.every(s => s === 'succeeded')
    } catch (err) {
      if (isSwitchyardError(err) && err.code === 'BACKEND_UNAVAILABLE') return false
      throw err
    }
  }, 'every task to succeed after the blip', 30_000)
  t.ok(worker.isRunning, 'the worker is still running')
  // the backend can show an ack committed a moment before its answer reaches the worker
  await waitFor(() => worker.counters.processed >= 20, 'the worker to count every ack', 10_000)
  t.equal(worker.counters.processed, 20)
})
