import type { SkippedTask, TaskAction, TaskActionResult } from '../../types.ts'
import {
  conformanceCase, enqueueIds, enqueueOne, leaseId, leaseOne, makeDead, mustGetTask, newTask, refused,
  type ConformanceArea
} from '../support.ts'

// Backend.applyTaskAction: bulk operator actions by ids or by a filter, with dry runs
// that report exactly what the same call then changes.

const bySkippedId = (a: SkippedTask, b: SkippedTask): number => a.id < b.id ? -1 : a.id > b.id ? 1 : 0

function sorted (result: TaskActionResult): TaskActionResult {
  return { changed: [...result.changed].sort(), skipped: [...result.skipped].sort(bySkippedId) }
}

export const taskActionsArea: ConformanceArea = {
  name: 'task-actions',
  run (t, ctx) {
    const { backend } = ctx
    const lease = async (queue: string, limit = 10): Promise<string[]> =>
      (await backend.leaseTasks({ workerId: 'actions', queues: [queue], limit, leaseMs: 60_000 })).map(l => l.id)

    conformanceCase(t, 'cancel by ids: waiting tasks are canceled; processing, finished and missing ones are skipped with a reason; a dry run reports the same', async t => {
      const queue = ctx.name('cancel')
      const [ready, scheduled, running] = await enqueueIds(backend, [newTask(queue), newTask(queue, { delayMs: 60_000 }), newTask(queue)]) as [string, string, string]
      const retryingQueue = ctx.name('cancel-retrying')
      const retrying = await enqueueOne(backend, newTask(retryingQueue))
      const failed = await leaseOne(backend, retryingQueue)
      await backend.failTasks([{ id: retrying, leaseToken: failed.leaseToken, error: { message: 'later' }, retryDelayMs: 60_000 }])
      const held = await leaseId(backend, queue, running)
      const [dead] = await makeDead(backend, ctx.name('cancel-dead'), 1) as [string]
      const gone = await enqueueOne(backend, newTask(queue))
      await backend.deleteTasks({ ids: [gone], fromStates: ['ready'] })
      const ids = [ready, scheduled, retrying, running, dead, gone, ready]
      const dry = await backend.applyTaskAction({ action: { kind: 'cancel' }, ids, dryRun: true })
      t.same(dry.changed, [ready, scheduled, retrying], 'dry run: the waiting tasks, duplicates once')
      t.same(dry.skipped.map(s => s.id), [running, dead, gone], 'dry run: the rest, in request order')
      t.equal((await mustGetTask(backend, ready)).state, 'ready', 'the dry run changed nothing')
      const real = await backend.applyTaskAction({ action: { kind: 'cancel' }, ids })
      t.same(real, dry, 'the real call changes exactly what the dry run reported')
      t.same(real.skipped, [
        { id: running, reason: 'wrong_state', state: 'processing' },
        { id: dead, reason: 'wrong_state', state: 'dead' },
        { id: gone, reason: 'not_found' }
      ])
      for (const id of [ready, scheduled, retrying]) t.equal((await mustGetTask(backend, id)).state, 'canceled', `${id} canceled`)
      t.equal((await mustGetTask(backend, running)).state, 'processing', 'the processing task is untouched')
      t.same(await backend.completeTasks([{ id: running, leaseToken: held.leaseToken }]), ['ok'], 'its worker still acks')
      t.same(await lease(queue), [], 'nothing canceled is leased')
      t.match((await backend.queueStats([queue]))[0], { ready: 0, scheduled: 0, canceled: 2 })
    })

    conformanceCase(t, 'retry by ids: dead and canceled tasks are ready now with a fresh attempt budget', async t => {
      const queue = ctx.name('retry')
      const dead = await makeDead(backend, queue, 2)
      const canceled = await enqueueOne(backend, newTask(queue))
      await backend.cancelTask(canceled)
      const ready = await enqueueOne(backend, newTask(queue))
      const result = await backend.applyTaskAction({ action: { kind: 'retry' }, ids: [...dead, canceled, ready] })
      t.same(result.changed, [...dead, canceled])
      t.same(result.skipped, [{ id: ready, reason: 'wrong_state', state: 'ready' }])
      const task = await mustGetTask(backend, dead[0] as string)
      t.match(task, { state: 'ready', attempts: 0, replays: 1 })
      t.same((await lease(queue)).sort(), [...dead, canceled, ready].sort(), 'every one runs again')
    })

    conformanceCase(t, 'delete by filter: the queue\'s tasks go, except the processing one', async t => {
      const queue = ctx.name('delete')
      const other = ctx.name('delete-other')
      const ids = await enqueueIds(backend, [newTask(queue), newTask(queue), newTask(queue, { delayMs: 60_000 }), newTask(queue)])
      const keep = await enqueueOne(backend, newTask(other))
      const [running] = await lease(queue, 1) as [string]
      const dry = await backend.applyTaskAction({ action: { kind: 'delete' }, filter: { queue, limit: 100 }, dryRun: true })
      t.same(dry.changed.sort(), ids.filter(id => id !== running).sort(), 'every task of the queue but the processing one')
      t.same(dry.skipped, [], 'a filter selects only states the action moves from')
      const real = await backend.applyTaskAction({ action: { kind: 'delete' }, filter: { queue, limit: 100 } })
      t.same(sorted(real), sorted(dry))
      for (const id of real.changed) t.equal(await backend.getTask(id), null, `${id} deleted`)
      t.equal((await mustGetTask(backend, running)).state, 'processing')
      t.equal((await mustGetTask(backend, keep)).state, 'ready', 'another queue is untouched')
      t.match((await backend.queueStats([queue]))[0], { ready: 0, scheduled: 0, processing: 1 })
    })

    conformanceCase(t, 'run now: scheduled and retrying tasks become ready now, attempts kept', async t => {
      const queue = ctx.name('run-now')
      const scheduled = await enqueueOne(backend, newTask(queue, { delayMs: 3_600_000 }))
      const retrying = await enqueueOne(backend, newTask(queue))
      const first = await leaseId(backend, queue, retrying)
      await backend.failTasks([{ id: retrying, leaseToken: first.leaseToken, error: { message: 'later' }, retryDelayMs: 3_600_000 }])
      const ready = await enqueueOne(backend, newTask(queue))
      t.same(await lease(queue), [ready], 'only the ready one runs before')
      const result = await backend.applyTaskAction({ action: { kind: 'run_now' }, ids: [scheduled, retrying] })
      t.same(result, { changed: [scheduled, retrying], skipped: [] })
      const now = await backend.now()
      const task = await mustGetTask(backend, scheduled)
      t.equal(task.state, 'ready')
      t.ok(task.runAt <= now + 5, 'runAt is now')
      const leased = await backend.leaseTasks({ workerId: 'actions', queues: [queue], limit: 10, leaseMs: 60_000 })
      t.same(leased.map(l => l.id).sort(), [scheduled, retrying].sort(), 'both run now')
      t.equal(leased.find(l => l.id === retrying)?.attempts, 2, 'the retrying task keeps its attempts')
      const again = await backend.applyTaskAction({ action: { kind: 'run_now' }, ids: [scheduled] })
      t.same(again.skipped, [{ id: scheduled, reason: 'wrong_state', state: 'processing' }], 'a processing task is skipped')
    })

    conformanceCase(t, 'reschedule: priority reorders ready tasks; runAt in the future holds a ready task back and in the past releases a scheduled one; maxAttempts', async t => {
      const queue = ctx.name('reschedule')
      const [low, high] = await enqueueIds(backend, [newTask(queue, { priority: 0 }), newTask(queue, { priority: 0 })]) as [string, string]
      const later = await enqueueOne(backend, newTask(queue, { delayMs: 3_600_000 }))
      t.same(await backend.applyTaskAction({ action: { kind: 'reschedule', priority: 50, maxAttempts: 7 }, ids: [high] }), { changed: [high], skipped: [] })
      t.match(await mustGetTask(backend, high), { state: 'ready', priority: 50, maxAttempts: 7 })
      const now = await backend.now()
      const held = await backend.applyTaskAction({ action: { kind: 'reschedule', runAt: now + 3_600_000 }, ids: [low] })
      t.same(held.changed, [low])
      t.match(await mustGetTask(backend, low), { state: 'scheduled', runAt: now + 3_600_000 })
      await backend.applyTaskAction({ action: { kind: 'reschedule', runAt: now - 1000 }, ids: [later] })
      t.match(await mustGetTask(backend, later), { state: 'ready', runAt: now - 1000 })
      const first = await backend.leaseTasks({ workerId: 'actions', queues: [queue], limit: 1, leaseMs: 60_000 })
      t.same(first.map(l => l.id), [high], 'the raised priority runs first')
      t.equal(first[0]?.maxAttempts, 7)
      t.same(await lease(queue), [later], 'the released task runs; the held one waits')
      t.equal((await mustGetTask(backend, low)).state, 'scheduled')
      t.match((await backend.queueStats([queue]))[0], { ready: 0, scheduled: 1, processing: 2 })
    })

    conformanceCase(t, 'move: waiting tasks change queue and keep their state; counts follow', async t => {
      const from = ctx.name('move-from')
      const to = ctx.name('move-to')
      const [ready, scheduled] = await enqueueIds(backend, [newTask(from, { priority: 3 }), newTask(from, { delayMs: 3_600_000 })]) as [string, string]
      const running = await enqueueOne(backend, newTask(from))
      await backend.ensureQueues([to])
      const held = await leaseId(backend, from, running)
      const result = await backend.applyTaskAction({ action: { kind: 'move', queue: to }, filter: { queue: from, limit: 10 } })
      t.same(result.changed.sort(), [ready, scheduled].sort())
      t.match(await mustGetTask(backend, ready), { queue: to, state: 'ready', priority: 3 })
      t.match(await mustGetTask(backend, scheduled), { queue: to, state: 'scheduled' })
      t.match(await mustGetTask(backend, running), { queue: from, state: 'processing' })
      t.same(await lease(from), [], 'nothing left to run in the old queue')
      t.same(await lease(to), [ready], 'the ready task runs from the new queue')
      const stats = await backend.queueStats([from, to])
      t.match(stats.find(q => q.name === from), { ready: 0, scheduled: 0, processing: 1 })
      t.match(stats.find(q => q.name === to), { scheduled: 1, processing: 1 })
      t.same(await backend.completeTasks([{ id: running, leaseToken: held.leaseToken }]), ['ok'])
    })

    conformanceCase(t, 'a filter selects as listTasks does: handler, text and state narrow it, limit bounds it', async t => {
      const queue = ctx.name('filter')
      const ids = await enqueueIds(backend, [
        newTask(queue, { handler: 'a', payload: { tag: 'needle' } }),
        newTask(queue, { handler: 'a', payload: { tag: 'hay' } }),
        newTask(queue, { handler: 'b', payload: { tag: 'needle' } }),
        newTask(queue, { handler: 'a', payload: { tag: 'needle' }, delayMs: 3_600_000 })
      ])
      const cancel: TaskAction = { kind: 'cancel' }
      const byHandler = await backend.applyTaskAction({ action: cancel, filter: { queue, handler: 'a', limit: 100 }, dryRun: true })
      t.same(byHandler.changed.sort(), [ids[0], ids[1], ids[3]].sort())
      const byText = await backend.applyTaskAction({ action: cancel, filter: { queue, handler: 'a', query: 'NEEDLE', limit: 100 }, dryRun: true })
      t.same(byText.changed.sort(), [ids[0], ids[3]].sort())
      const byState = await backend.applyTaskAction({ action: cancel, filter: { queue, state: 'scheduled', limit: 100 }, dryRun: true })
      t.same(byState.changed, [ids[3]])
      const listed = await backend.listTasks({ queue, state: 'ready', limit: 2, offset: 0 })
      const limited = await backend.applyTaskAction({ action: cancel, filter: { queue, state: 'ready', limit: 2 }, dryRun: true })
      t.same(limited.changed, listed.tasks.map(task => task.id), 'the first page of the list, in its order')
      const processing = await backend.applyTaskAction({ action: cancel, filter: { queue, state: 'processing', limit: 100 }, dryRun: true })
      t.same(processing, { changed: [], skipped: [] })
    })

    conformanceCase(t, '1,000 ids: a dry run reports exactly the set the same call then changes', async t => {
      const queue = ctx.name('thousand')
      const other = ctx.name('thousand-to')
      const tasks = Array.from({ length: 990 }, (_, i) => newTask(queue, { payload: { i }, priority: i % 7, delayMs: i % 3 === 0 ? 3_600_000 : 0 }))
      const ids: string[] = []
      for (let i = 0; i < tasks.length; i += 250) ids.push(...await enqueueIds(backend, tasks.slice(i, i + 250)))
      const running = await lease(queue, 25)
      t.equal(running.length, 25)
      const missing = await enqueueIds(backend, Array.from({ length: 10 }, () => newTask(queue)))
      await backend.deleteTasks({ ids: missing, fromStates: ['ready'] })
      const all = [...ids, ...missing]
      t.equal(all.length, 1000)
      await backend.ensureQueues([other])
      for (const action of [{ kind: 'move', queue: other }, { kind: 'cancel' }] satisfies TaskAction[]) {
        const dry = await backend.applyTaskAction({ action, ids: all, dryRun: true })
        t.equal(dry.changed.length, 965, `${action.kind}: 965 would change`)
        t.equal(dry.skipped.length, 35, `${action.kind}: 25 processing and 10 missing would be skipped`)
        const real = await backend.applyTaskAction({ action, ids: all })
        t.same(sorted(real), sorted(dry), `${action.kind}: the real call changed exactly the dry run's set`)
      }
      const stats = await backend.queueStats([queue, other])
      t.match(stats.find(q => q.name === queue), { processing: 25, ready: 0, scheduled: 0 })
      t.match(stats.find(q => q.name === other), { canceled: 965, ready: 0, scheduled: 0 })
      const byFilterDry = await backend.applyTaskAction({ action: { kind: 'delete' }, filter: { queue: other, state: 'canceled', limit: 1000 }, dryRun: true })
      const byFilter = await backend.applyTaskAction({ action: { kind: 'delete' }, filter: { queue: other, state: 'canceled', limit: 1000 } })
      t.equal(byFilterDry.changed.length, 965)
      t.same(sorted(byFilter), sorted(byFilterDry), 'by filter too')
    })

    conformanceCase(t, 'race: bulk actions against a running leaser; every task ends changed or leased, never both', async t => {
      const queue = ctx.name('race')
      const other = ctx.name('race-to')
      await backend.ensureQueues([other])
      for (const action of [{ kind: 'cancel' }, { kind: 'move', queue: other }, { kind: 'delete' }] satisfies TaskAction[]) {
        const ids = await enqueueIds(backend, Array.from({ length: 60 }, (_, i) => newTask(queue, { payload: { i } })))
        const leased = new Set<string>()
        let acting = true
        const leaser = (async () => {
          while (acting) {
            for (const l of await ctx.peer.leaseTasks({ workerId: 'racer', queues: [queue], limit: 3, leaseMs: 60_000 })) leased.add(l.id)
          }
        })()
        let result: TaskActionResult
        try {
          const halves = await Promise.all([ids.slice(0, 30), ids.slice(30)].map(async part => await backend.applyTaskAction({ action, ids: part })))
          result = { changed: halves.flatMap(h => h.changed), skipped: halves.flatMap(h => h.skipped) }
        } finally {
          acting = false
          await leaser
        }
        t.same(result.changed.filter(id => leased.has(id)), [], `${action.kind}: no task both changed and leased`)
        t.same(new Set([...result.changed, ...leased]), new Set(ids), `${action.kind}: every task changed or leased (${result.changed.length} changed, ${leased.size} leased)`)
        t.ok(result.skipped.every(s => s.state === 'processing' && leased.has(s.id)), `${action.kind}: only leased tasks are skipped, as processing`)
        const tasks = await Promise.all(ids.map(async id => await backend.getTask(id)))
        const expected = (id: string): string => leased.has(id) ? 'processing' : action.kind === 'cancel' ? 'canceled' : action.kind === 'delete' ? 'gone' : 'ready'
        t.same(ids.filter((id, i) => (tasks[i]?.state ?? 'gone') !== expected(id)), [], `${action.kind}: stored states agree`)
      }
    })

    conformanceCase(t, 'bad requests are refused before anything changes', async t => {
      const queue = ctx.name('refused')
      const id = await enqueueOne(backend, newTask(queue))
      await refused(t, 'both ids and filter', async () => await backend.applyTaskAction({ action: { kind: 'cancel' }, ids: [id], filter: { limit: 1 } }), 'ids')
      await refused(t, 'an unknown action', async () => await backend.applyTaskAction({ action: { kind: 'explode' } as unknown as TaskAction, ids: [id] }), 'action.kind')
      await refused(t, 'reschedule without a change', async () => await backend.applyTaskAction({ action: { kind: 'reschedule' }, ids: [id] }), 'action')
      await refused(t, 'move without a queue', async () => await backend.applyTaskAction({ action: { kind: 'move' } as unknown as TaskAction, ids: [id] }), 'action.queue')
      t.equal((await mustGetTask(backend, id)).state, 'ready')
    })
  }
}
