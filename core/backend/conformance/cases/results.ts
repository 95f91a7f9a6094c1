import { PROGRESS_MAX_BYTES, RESULT_MAX_BYTES_CEILING } from '../../results.ts'
import { conformanceCase, enqueueOne, leaseId, leaseOne, mustGetTask, newTask, refused, type ConformanceArea } from '../support.ts'

// What a handler hands back: its result, stored with the succeeded task, and its
// progress, stored while its lease holds. Both come back exactly as they went in,
// in getTask and in listTasks; a success clears lastError and keeps the history.

export const resultsArea: ConformanceArea = {
  name: 'results',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'completeTasks stores each result; none (absent or null) stays absent', async t => {
      const queue = ctx.name('result')
      const result = { sent: 3, ids: ['a', 'b'], nested: { ok: true, ratio: 0.5, unicode: 'é — 🚀' } }
      const ids = [await enqueueOne(backend, newTask(queue)), await enqueueOne(backend, newTask(queue)), await enqueueOne(backend, newTask(queue)), await enqueueOne(backend, newTask(queue))]
      const leased = await Promise.all(ids.map(async id => await leaseId(backend, queue, id)))
      const acks = await backend.completeTasks([
        { id: ids[0]!, leaseToken: leased[0]!.leaseToken, result },
        { id: ids[1]!, leaseToken: leased[1]!.leaseToken },
        { id: ids[2]!, leaseToken: leased[2]!.leaseToken, result: null },
        { id: ids[3]!, leaseToken: leased[3]!.leaseToken, result: 'done' }
      ])
      t.same(acks, ['ok', 'ok', 'ok', 'ok'])
      const [first, second, third, fourth] = await Promise.all(ids.map(async id => await mustGetTask(backend, id)))
      t.same(first!.result, result, 'an object result comes back as it went in')
      t.notOk('result' in second!, 'no result: absent')
      t.notOk('result' in third!, 'a null result: absent')
      t.equal(fourth!.result, 'done', 'a string result')
      const page = await backend.listTasks({ queue, state: 'succeeded', limit: 10, offset: 0 })
      t.same(page.tasks.find(task => task.id === ids[0])?.result, result, 'listTasks shows the result too')
    })

    conformanceCase(t, 'a result of a stale lease is not stored', async t => {
      const queue = ctx.name('result-stale')
      const id = await enqueueOne(backend, newTask(queue))
      const leased = await leaseOne(backend, queue)
      t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken, result: 1 }]), ['ok'])
      t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken, result: 2 }]), ['lease_lost'])
      t.equal((await mustGetTask(backend, id)).result, 1, 'the first ack\'s result stays')
    })

    conformanceCase(t, 'a task that failed, then succeeded, has no lastError but keeps its errors', async t => {
      const queue = ctx.name('stale-error')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 3 }))
      const first = await leaseOne(backend, queue)
      t.same(await backend.failTasks([{ id, leaseToken: first.leaseToken, error: { message: 'flaky' }, retryDelayMs: 0 }]), ['retrying'])
      const second = await leaseId(backend, queue, id)
      t.same(await backend.completeTasks([{ id, leaseToken: second.leaseToken }]), ['ok'])
      const task = await mustGetTask(backend, id)
      t.equal(task.state, 'succeeded')
      t.equal(task.lastError, null, 'lastError cleared by the success')
      t.same(task.errors.map(e => [e.attempt, e.message]), [[1, 'flaky']], 'the error history is kept')
      const page = await backend.listTasks({ queue, limit: 10, offset: 0 })
      t.equal(page.tasks.find(listed => listed.id === id)?.lastError, null, 'listTasks shows no stale error either')
    })

    conformanceCase(t, 'setTaskProgress: stored while the lease holds, latest wins, kept once succeeded', async t => {
      const queue = ctx.name('progress')
      const id = await enqueueOne(backend, newTask(queue))
      t.notOk('progress' in await mustGetTask(backend, id), 'no progress before any report')
      const leased = await leaseOne(backend, queue)
      const ref = { id, leaseToken: leased.leaseToken }
      t.same(await backend.setTaskProgress([{ ...ref, progress: 10 }]), ['ok'])
      t.equal((await mustGetTask(backend, id)).progress, 10)
      t.same(await backend.setTaskProgress([{ ...ref, progress: { step: 'upload', done: 3, of: 7 } }]), ['ok'])
      t.same((await mustGetTask(backend, id)).progress, { step: 'upload', done: 3, of: 7 }, 'an object replaces the number')
      const listed = await backend.listTasks({ queue, state: 'processing', limit: 10, offset: 0 })
      t.same(listed.tasks.find(task => task.id === id)?.progress, { step: 'upload', done: 3, of: 7 }, 'listTasks shows it')
      t.same(await backend.setTaskProgress([{ id, leaseToken: 'not-the-token', progress: 99 }]), ['lease_lost'], 'a wrong token')
      t.same(await backend.setTaskProgress([{ id: 'no-such-task', leaseToken: 'x', progress: 1 }]), ['lease_lost'], 'an unknown task')
      t.same(await backend.setTaskProgress([{ ...ref, progress: 100 }]), ['ok'])
      t.same(await backend.completeTasks([ref]), ['ok'])
      t.same(await backend.setTaskProgress([{ ...ref, progress: 5 }]), ['lease_lost'], 'after the ack the lease is gone')
      const task = await mustGetTask(backend, id)
      t.equal(task.progress, 100, 'the last progress of the run stays with the succeeded task')
      t.equal(task.state, 'succeeded', 'a progress write never changes the state')
    })

    conformanceCase(t, 'setTaskProgress answers per item in a batch', async t => {
      const queue = ctx.name('progress-batch')
      const [a, b, c] = [await enqueueOne(backend, newTask(queue)), await enqueueOne(backend, newTask(queue)), await enqueueOne(backend, newTask(queue))]
      const [la, , lc] = [await leaseId(backend, queue, a), await leaseId(backend, queue, b), await leaseId(backend, queue, c)]
      t.same(await backend.setTaskProgress([
        { id: a, leaseToken: la.leaseToken, progress: 1 },
        { id: b, leaseToken: la.leaseToken, progress: 2 },
        { id: c, leaseToken: lc.leaseToken, progress: 3 }
      ]), ['ok', 'lease_lost', 'ok'])
      t.equal((await mustGetTask(backend, a)).progress, 1)
      t.notOk('progress' in await mustGetTask(backend, b), 'the wrong token stored nothing')
      t.equal((await mustGetTask(backend, c)).progress, 3)
      t.same(await backend.setTaskProgress([]), [], 'an empty batch answers []')
    })

    conformanceCase(t, 'a requeued task starts without the result and progress of its earlier run', async t => {
      const queue = ctx.name('requeue')
      const id = await enqueueOne(backend, newTask(queue))
      const leased = await leaseOne(backend, queue)
      await backend.setTaskProgress([{ id, leaseToken: leased.leaseToken, progress: 50 }])
      await backend.completeTasks([{ id, leaseToken: leased.leaseToken, result: { n: 1 } }])
      t.same(await backend.requeueTasks({ ids: [id], fromStates: ['succeeded'] }), { requeued: [id], skipped: [] })
      const task = await mustGetTask(backend, id)
      t.equal(task.state, 'ready')
      t.notOk('result' in task, 'result cleared')
      t.notOk('progress' in task, 'progress cleared')
    })

    conformanceCase(t, 'completeAndLease stores results like completeTasks', async t => {
      if (backend.completeAndLease === undefined) {
        t.pass('completeAndLease not offered')
        return
      }
      const queue = ctx.name('cal-result')
      const id = await enqueueOne(backend, newTask(queue))
      const leased = await leaseOne(backend, queue)
      const reply = await backend.completeAndLease([{ id, leaseToken: leased.leaseToken, result: [1, 2, 3] }], { workerId: 'w', queues: [queue], limit: 1, leaseMs: 30_000 })
      t.same(reply.acks, ['ok'])
      t.same((await mustGetTask(backend, id)).result, [1, 2, 3])
    })

    conformanceCase(t, 'results and progress no backend can store are refused before the backend is touched', async t => {
      const queue = ctx.name('refused')
      const id = await enqueueOne(backend, newTask(queue))
      const leased = await leaseOne(backend, queue)
      const ref = { id, leaseToken: leased.leaseToken }
      await refused(t, 'a result over the ceiling', async () => await backend.completeTasks([ref, { ...ref, result: 'x'.repeat(RESULT_MAX_BYTES_CEILING) }]), 'items[1].result')
      await refused(t, 'a BigInt result', async () => await backend.completeTasks([{ ...ref, result: { n: 1n } }]), 'items[0].result')
      await refused(t, 'a result with NUL', async () => await backend.completeTasks([{ ...ref, result: 'a\u0000b' }]), 'items[0].result')
      await refused(t, 'progress above 100', async () => await backend.setTaskProgress([{ ...ref, progress: 101 }]), 'items[0].progress')
      await refused(t, 'progress as a string', async () => await backend.setTaskProgress([{ ...ref, progress: 'half' }]), 'items[0].progress')
      await refused(t, 'progress too large', async () => await backend.setTaskProgress([{ ...ref, progress: { text: 'x'.repeat(PROGRESS_MAX_BYTES) } }]), 'items[0].progress')
      const task = await mustGetTask(backend, id)
      t.equal(task.state, 'processing', 'nothing was applied')
      t.notOk('progress' in task, 'no progress stored')
    })
  }
}
