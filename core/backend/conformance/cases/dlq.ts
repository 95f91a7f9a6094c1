import {
  conformanceCase, driveToDead, enqueueOne, leaseId, makeDead, mustGetTask, newTask,
  type ConformanceArea
} from '../support.ts'

export const dlqArea: ConformanceArea = {
  name: 'dlq',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'retries until attempts are exhausted, then dead and listed in the DLQ', async t => {
      const queue = ctx.name('exhaust')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 3, payload: { order: 7 } }))
      await driveToDead(backend, queue, id, 'keeps failing')
      const task = await mustGetTask(backend, id)
      t.match(task, { state: 'dead', attempts: 3, lastError: 'keeps failing #3' })
      t.same(task.errors.map(e => e.attempt), [3, 2, 1], 'every attempt recorded, newest first')
      const page = await backend.listTasks({ state: 'dead', queue, limit: 10, offset: 0 })
      t.same(page.tasks.map(x => x.id), [id], 'listTasks({state: dead}) shows it')
      t.match(page.tasks[0], { payloadSize: Buffer.byteLength(JSON.stringify({ order: 7 })), lastError: 'keeps failing #3' })
    })

    conformanceCase(t, 'requeue by ids: fresh attempt budget, replays+1, ready, and a second replay is skipped', async t => {
      const queue = ctx.name('replay-ids')
      const [id] = await makeDead(backend, queue, 1, { maxAttempts: 2 }) as [string]
      const result = await backend.requeueTasks({ ids: [id], fromStates: ['dead'] })
      t.same(result, { requeued: [id], skipped: [] })
      const task = await mustGetTask(backend, id)
      t.match(task, { state: 'ready', attempts: 0, replays: 1, finishedAt: null, leaseExpiresAt: null })
      const second = await backend.requeueTasks({ ids: [id], fromStates: ['dead'] })
      t.same(second.requeued, [], 'the second replay moves nothing')
      t.same(second.skipped, [{ id, reason: 'wrong_state', state: 'ready' }], 'skipped as wrong_state')
      t.equal((await mustGetTask(backend, id)).replays, 1, 'replays not counted twice')
      const page = await backend.listTasks({ queue, limit: 10, offset: 0 })
      t.equal(page.tasks.length, 1, 'no duplicate task')
      const leased = await leaseId(backend, queue, id)
      t.equal(leased.attempts, 1, 'the replayed task starts again at attempt 1')
      t.equal(leased.maxAttempts, 2)
    })

    conformanceCase(t, 'requeue skips missing ids and never re-queues a running task', async t => {
      const queue = ctx.name('replay-skip')
      const [dead] = await makeDead(backend, queue, 1) as [string]
      const running = await enqueueOne(backend, newTask(queue))
      const lease = await leaseId(backend, queue, running)
      const gone = (await makeDead(backend, queue, 1))[0] as string
      await backend.deleteTasks({ ids: [gone], fromStates: ['dead'] })
      const result = await backend.requeueTasks({ ids: [running, gone, dead], fromStates: ['dead'] })
      t.same(result.requeued, [dead], 'only the dead one moves')
      const skipped = [...result.skipped].sort((a, b) => a.id.localeCompare(b.id))
      const expected = [{ id: running, reason: 'wrong_state', state: 'processing' }, { id: gone, reason: 'not_found' }].sort((a, b) => a.id.localeCompare(b.id))
      t.same(skipped, expected, 'each skip names its reason')
      t.match(await mustGetTask(backend, running), { state: 'processing', replays: 0, attempts: 1 }, 'the running task is untouched')
      t.same(await backend.completeTasks([{ id: running, leaseToken: lease.leaseToken }]), ['ok'], 'its worker still holds the lease')
    })

    conformanceCase(t, 'requeue by filter + limit moves only matching dead tasks', async t => {
      const queue = ctx.name('replay-filter')
      const dead = await makeDead(backend, queue, 5)
      const ready = await enqueueOne(backend, newTask(queue))
      const result = await backend.requeueTasks({ filter: { queue, state: 'dead', limit: 3 }, fromStates: ['dead'] })
      t.equal(result.requeued.length, 3, 'limit honoured')
      t.ok(result.requeued.every(id => dead.includes(id)), 'only dead tasks of the queue moved')
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { dead: 2, ready: 4 }, 'two still dead; the three replayed plus the untouched ready one')
      t.equal((await mustGetTask(backend, ready)).replays, 0, 'the ready task was not touched')
      const rest = await backend.requeueTasks({ filter: { queue, state: 'dead', limit: 100 }, fromStates: ['dead'] })
      t.same(new Set(rest.requeued), new Set(dead.filter(id => !result.requeued.includes(id))), 'the rest move on the next call')
    })

    conformanceCase(t, 'dryRun reports the exact ids and changes nothing', async t => {
      const queue = ctx.name('dry-run')
      const dead = await makeDead(backend, queue, 2)
      const running = await enqueueOne(backend, newTask(queue))
      await leaseId(backend, queue, running)
      const before = await Promise.all(dead.map(id => mustGetTask(backend, id)))
      const byIds = await backend.requeueTasks({ ids: [...dead, running], fromStates: ['dead'], dryRun: true })
      t.same(byIds.requeued, dead, 'would requeue exactly the dead ids')
      t.same(byIds.skipped, [{ id: running, reason: 'wrong_state', state: 'processing' }])
      const byFilter = await backend.requeueTasks({ filter: { queue, state: 'dead', limit: 10 }, fromStates: ['dead'], dryRun: true })
      t.same(new Set(byFilter.requeued), new Set(dead), 'by filter: the same ids')
      const deletes = await backend.deleteTasks({ ids: dead, fromStates: ['dead'], dryRun: true })
      t.same(deletes, { deleted: dead, skipped: [] }, 'delete dry run names them too')
      const after = await Promise.all(dead.map(id => mustGetTask(backend, id)))
      t.same(after, before, 'nothing changed')
    })

    conformanceCase(t, 'requeue into another queue with a new payload', async t => {
      const queue = ctx.name('replay-from')
      const target = ctx.name('replay-to')
      const [id] = await makeDead(backend, queue, 1, { payload: { old: true } }) as [string]
      const result = await backend.requeueTasks({ ids: [id], fromStates: ['dead'], queue: target, payload: { edited: 'yes' } })
      t.same(result.requeued, [id])
      const task = await mustGetTask(backend, id)
      t.match(task, { queue: target, state: 'ready', replays: 1 })
      t.same(task.payload, { edited: 'yes' }, 'payload replaced')
      t.equal(task.payloadSize, Buffer.byteLength(JSON.stringify({ edited: 'yes' })), 'payloadSize follows the new payload')
      const stats = await backend.queueStats([queue, target])
      t.match(stats.find(s => s.name === queue), { dead: 0, ready: 0 })
      t.match(stats.find(s => s.name === target), { ready: 1 }, 'the target queue is registered and counts it')
      const leased = await leaseId(backend, target, id)
      t.same(leased.payload, { edited: 'yes' })
    })

    conformanceCase(t, 'deleteTasks removes only tasks in fromStates', async t => {
      const queue = ctx.name('delete')
      const [dead] = await makeDead(backend, queue, 1) as [string]
      const ready = await enqueueOne(backend, newTask(queue))
      const result = await backend.deleteTasks({ ids: [dead, ready, dead], fromStates: ['dead'] })
      t.same(result.deleted, [dead], 'the dead task is deleted (once)')
      t.same(result.skipped.filter(s => s.id === ready), [{ id: ready, reason: 'wrong_state', state: 'ready' }])
      t.equal(await backend.getTask(dead), null, 'gone')
      t.equal((await mustGetTask(backend, ready)).state, 'ready', 'the ready task stays')
      const again = await backend.deleteTasks({ ids: [dead], fromStates: ['dead'] })
      t.same(again, { deleted: [], skipped: [{ id: dead, reason: 'not_found' }] }, 'deleting twice: not_found')
      t.match((await backend.queueStats([queue]))[0], { dead: 0, ready: 1 })
    })

    conformanceCase(t, 'dlqStats counts dead tasks by queue and handler', async t => {
      const first = ctx.name('stats-a')
      const second = ctx.name('stats-b')
      const handler = `h.${first}`
      const before = await backend.dlqStats()
      const t0 = await backend.now()
      await makeDead(backend, first, 2, { handler })
      await makeDead(backend, second, 1)
      const t1 = await backend.now()
      const stats = await backend.dlqStats()
      t.equal(stats.total, before.total + 3, 'total grew by 3')
      t.equal(stats.byQueue[first], 2)
      t.equal(stats.byQueue[second], 1)
      t.equal(stats.byHandler[handler], 2)
      t.ok(stats.newestFailedAt !== null && stats.newestFailedAt >= t0 && stats.newestFailedAt <= t1 + 5, 'newestFailedAt is the latest dead-lettering')
      t.ok(stats.oldestFailedAt !== null && stats.oldestFailedAt <= (stats.newestFailedAt ?? 0), 'oldest <= newest')
    })
  }
}
