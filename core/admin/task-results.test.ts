import t from 'tap'
import { call, makeService, newTask, serverBackend, suffix } from './test-support.ts'

// GetTask and ListTasks show what a handler handed back: its result (succeeded tasks)
// and its latest progress, as JSON values; a succeeded task shows no stale lastError.

t.test('GetTask shows result and progress, ListTasks shows progress, no stale lastError', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const q = `results-${suffix()}`
  const id = (await backend.enqueue([newTask(q, { maxAttempts: 2 })]))[0]!.id
  const first = await backend.leaseTasks({ workerId: 'w', queues: [q], limit: 1, leaseMs: 30_000 })
  await backend.failTasks([{ id, leaseToken: first[0]!.leaseToken, error: { message: 'flaky' }, retryDelayMs: 0 }])
  const [second] = await backend.leaseTasks({ workerId: 'w', queues: [q], limit: 1, leaseMs: 30_000 })
  const ref = { id, leaseToken: second!.leaseToken }
  await backend.setTaskProgress([{ ...ref, progress: { done: 2, of: 4 } }])

  const running = (await service.GetTask({ id }, call())).task
  t.same(running.progress, { done: 2, of: 4 }, 'progress while running')
  t.notOk('result' in running, 'no result before it succeeded')
  const listed = await service.ListTasks({ queue: q }, call())
  t.same(listed.tasks[0]?.progress, { done: 2, of: 4 }, 'the task list shows progress')

  await backend.setTaskProgress([{ ...ref, progress: 100 }])
  await backend.completeTasks([{ ...ref, result: { sent: 4, to: ['a@b'] } }])
  const done = (await service.GetTask({ id }, call())).task
  t.match(done, { state: 'succeeded', attempts: 2 })
  t.same(done.result, { sent: 4, to: ['a@b'] }, 'the result')
  t.equal(done.progress, 100, 'the last progress')
  t.notOk('lastError' in done, 'no stale lastError')
  t.same(done.errors.map(e => e.message), ['flaky'], 'the error history is kept')
  const summary = (await service.ListTasks({ queue: q, state: 'succeeded' }, call())).tasks[0]
  t.notOk(summary !== undefined && 'lastError' in summary, 'the list shows no stale lastError either')
})
