// The job runner's decisions that need no container engine, on a real Postgres: a
// worker without a runtime plugin fails runs with an error naming the plugin (no
// retries); a run canceled before it started ends canceled; deliveries of a final or
// deleted run do nothing; a run whose task ended without it is marked by the reaper.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { HookRegistry } from '../plugin/hooks.ts'
import { createWorker } from '../worker/worker.ts'
import { openTestBackend, quietLog, waitFor, type TestBackend } from '../../test/worker/support.ts'
import { JobEvents } from './events.ts'
import { createJobRunner, type JobRunner } from './runner.ts'
import { JobStore } from './store.ts'
import { JOB_TASK_HANDLER, newRunId, type JobDefinition, type JobRun } from './types.ts'

let tb: TestBackend
t.before(async () => { tb = await openTestBackend('postgres') })
t.teardown(async () => { await tb.destroy() })

function definition (name: string, queue: string, retries = 0): JobDefinition {
  return {
    name, description: '', source: 'tarball_path', tarballPath: '/nowhere', path: '.', dockerfile: 'Dockerfile',
    command: [], env: [], queue, retries, timeoutSeconds: 10, resources: {}, createdAt: 0, updatedAt: 0
  }
}

async function queueRun (store: JobStore, def: JobDefinition, change: Partial<JobRun> = {}): Promise<JobRun> {
  const run: JobRun = { id: newRunId(), job: def.name, state: 'queued', taskId: '', attempt: 1, maxAttempts: def.retries + 1, definition: def, trigger: 'test', queuedAt: Date.now(), artifacts: [], ...change }
  await store.createRun(run)
  const [enqueued] = await tb.backend.enqueue([{ queue: def.queue, handler: JOB_TASK_HANDLER, payload: { runId: run.id }, maxAttempts: def.retries + 1, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null }])
  return await store.updateRun(run.id, current => ({ ...current, taskId: enqueued!.id })) as JobRun
}

function setup (t: Test, queue: string): { runner: JobRunner, store: JobStore, start: () => Promise<void> } {
  const workerId = `runner-test-${randomBytes(4).toString('hex')}`
  const runner = createJobRunner({ backend: tb.backend, hooks: new HookRegistry(), workerId, log: quietLog, options: { workdir: `/tmp/sy-runner-test-${queue}` } })
  const worker = createWorker({ backend: tb.backend, handlers: { [JOB_TASK_HANDLER]: runner.handler }, options: { id: workerId, queues: [queue], concurrency: 2, pollMs: 50, retry: { baseDelayMs: 10, maxDelayMs: 20 } }, log: quietLog })
  t.teardown(async () => { await worker.stop(); await runner.stop() })
  return { runner, store: new JobStore(tb.backend), start: async () => { await worker.start() } }
}

t.test('without a container runtime a run fails at once, naming the plugin to add', async t => {
  const queue = `runner-noruntime-${Date.now()}`
  const { store, start } = setup(t, queue)
  const run = await queueRun(store, definition('no-runtime', queue, 2))
  await start()
  const task = await waitFor(async () => {
    const current = await tb.backend.getTask(run.taskId)
    return current?.state === 'dead' ? current : null
  }, 'the task to be dead')
  t.equal(task.attempts, 1, 'not retried: no attempt could do better')
  const failed = await store.getRun(run.id)
  t.equal(failed?.state, 'failed')
  t.match(failed?.error, /no container runtime is registered.*runtime-docker/)
  // Bounded wait: on the shared Postgres server another test's open transaction can
  // keep a new event unreadable for a moment (it read as none once in CI).
  const events = await waitFor(async () => {
    const listed = await new JobEvents(tb.backend, null).list({ runId: run.id, limit: 100 })
    return listed.length > 0 ? listed : null
  }, 'the run\'s events')
  t.same(events.map(event => event.type), ['job.finished'])
})

t.test('a run canceled while queued ends canceled without running; final and deleted runs are left alone', async t => {
  const queue = `runner-cancel-${Date.now()}`
  const { store, start } = setup(t, queue)
  const canceled = await queueRun(store, definition('canceled', queue), { cancelRequestedAt: Date.now() })
  const done = await queueRun(store, definition('done', queue), { state: 'succeeded', finishedAt: 1 })
  const gone = await queueRun(store, definition('gone', queue))
  await store.deleteRun(gone.id)
  await start()
  for (const run of [canceled, done, gone]) {
    await waitFor(async () => (await tb.backend.getTask(run.taskId))?.state === 'succeeded', `task of ${run.job} to succeed`)
  }
  t.equal((await store.getRun(canceled.id))?.state, 'canceled')
  t.equal((await store.getRun(done.id))?.finishedAt, 1, 'a final run is not touched')
  t.same((await tb.backend.getTask(done.taskId))?.result, { runId: done.id, state: 'succeeded', skipped: true })
  t.equal(await store.getRun(gone.id), null)
})

t.test('the reaper marks a run whose task ended without it (its worker died on the last attempt)', async t => {
  const queue = `runner-abandoned-${Date.now()}`
  const { runner, store } = setup(t, queue)
  const run = await queueRun(store, definition('abandoned', queue), { state: 'running', startedAt: Date.now() })
  const [leased] = await tb.backend.leaseTasks({ workerId: 'gone-worker', queues: [queue], limit: 1, leaseMs: 1, handlers: [JOB_TASK_HANDLER] })
  t.equal(leased?.id, run.taskId)
  await waitFor(async () => (await tb.backend.recoverExpiredLeases(10)).dead.includes(run.taskId) || (await tb.backend.getTask(run.taskId))?.state === 'dead', 'the lease to expire on the last attempt')
  const { abandoned } = await runner.reap()
  t.ok(abandoned.includes(run.id), 'the run was found')
  const failed = await store.getRun(run.id)
  t.equal(failed?.state, 'failed')
  t.match(failed?.error, /worker stopped mid-run/)
  t.same((await runner.reap()).abandoned, [], 'once')
})
