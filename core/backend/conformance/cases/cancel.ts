import type { CancelOutcome } from '../../types.ts'
import {
  conformanceCaseNeeding, enqueueIds, enqueueOne, leaseId, leaseOne, makeDead, mustGetTask, newTask,
  type ConformanceArea
} from '../support.ts'

export const cancelArea: ConformanceArea = {
  name: 'cancel',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCaseNeeding(t, ctx, ['cancel'], 'a ready task is canceled and never leased', async t => {
      const queue = ctx.name('ready')
      const id = await enqueueOne(backend, newTask(queue))
      t.same(await backend.cancelTask(id), { outcome: 'canceled' })
      const task = await mustGetTask(backend, id)
      t.equal(task.state, 'canceled')
      t.ok(task.finishedAt !== null, 'finishedAt set')
      t.same(await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 }), [], 'not leased')
      t.same(await backend.cancelTask(id), { outcome: 'conflict', state: 'canceled' }, 'canceling twice: conflict naming the state')
    })

    conformanceCaseNeeding(t, ctx, ['cancel', 'delayedTasks'], 'a scheduled task is canceled', async t => {
      const queue = ctx.name('scheduled')
      const id = await enqueueOne(backend, newTask(queue, { delayMs: 60_000 }))
      t.same(await backend.cancelTask(id), { outcome: 'canceled' })
      t.equal((await mustGetTask(backend, id)).state, 'canceled')
      t.match((await backend.queueStats([queue]))[0], { scheduled: 0, canceled: 1 })
    })

    conformanceCaseNeeding(t, ctx, ['cancel'], 'a retrying task is canceled', async t => {
      const queue = ctx.name('retrying')
      const id = await enqueueOne(backend, newTask(queue))
      const leased = await leaseOne(backend, queue)
      await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: 'again' }, retryDelayMs: 60_000 }])
      t.same(await backend.cancelTask(id), { outcome: 'canceled' })
      t.equal((await mustGetTask(backend, id)).state, 'canceled')
    })

    conformanceCaseNeeding(t, ctx, ['cancel'], 'processing, succeeded and dead tasks: conflict with their state, unchanged', async t => {
      const queue = ctx.name('conflict')
      const [running, done] = await enqueueIds(backend, [newTask(queue), newTask(queue)]) as [string, string]
      const lease = await leaseId(backend, queue, running)
      const doneLease = await leaseId(backend, queue, done)
      await backend.completeTasks([{ id: done, leaseToken: doneLease.leaseToken }])
      const [dead] = await makeDead(backend, queue, 1) as [string]
      t.same(await backend.cancelTask(running), { outcome: 'conflict', state: 'processing' })
      t.same(await backend.cancelTask(done), { outcome: 'conflict', state: 'succeeded' })
      t.same(await backend.cancelTask(dead), { outcome: 'conflict', state: 'dead' })
      t.equal((await mustGetTask(backend, running)).state, 'processing', 'still processing')
      t.same(await backend.completeTasks([{ id: running, leaseToken: lease.leaseToken }]), ['ok'], 'its worker still acks')
    })

    conformanceCaseNeeding(t, ctx, ['cancel'], 'a missing task: not_found', async t => {
      const queue = ctx.name('missing')
      const [id] = await makeDead(backend, queue, 1) as [string]
      await backend.deleteTasks({ ids: [id], fromStates: ['dead'] })
      t.same(await backend.cancelTask(id), { outcome: 'not_found' }, 'a deleted id')
      t.same(await backend.cancelTask('no-such-task'), { outcome: 'not_found' }, 'an id of any other shape')
    })

    conformanceCaseNeeding(t, ctx, ['cancel'], 'race: cancels against a running leaser; every task ends canceled or leased, never both', async t => {
      const queue = ctx.name('race')
      for (let round = 0; round < 3; round++) {
        const ids = await enqueueIds(backend, Array.from({ length: 50 }, (_, i) => newTask(queue, { payload: { round, i } })))
        const leased = new Set<string>()
        let canceling = true
        const leaser = (async () => {
          // keeps leasing while the cancels run, then once more to drain what they left
          while (canceling) {
            for (const l of await ctx.peer.leaseTasks({ workerId: 'racer', queues: [queue], limit: 3, leaseMs: 60_000 })) leased.add(l.id)
          }
          for (const l of await ctx.peer.leaseTasks({ workerId: 'racer', queues: [queue], limit: 100, leaseMs: 60_000 })) leased.add(l.id)
        })()
        let outcomes: CancelOutcome[]
        try {
          outcomes = await Promise.all(ids.map(id => backend.cancelTask(id)))
        } finally {
          canceling = false
          await leaser
        }
        const canceled = ids.filter((_, i) => outcomes[i]?.outcome === 'canceled')
        const lost = ids.filter((_, i) => outcomes[i]?.outcome === 'conflict')
        t.equal(canceled.length + lost.length, ids.length, `round ${round}: every cancel answered canceled or conflict`)
        t.same(canceled.filter(id => leased.has(id)), [], `round ${round}: no task both canceled and leased`)
        t.same(new Set([...canceled, ...leased]), new Set(ids), `round ${round}: every task canceled or leased (${canceled.length} canceled, ${leased.size} leased)`)
        const lostStates = outcomes.flatMap(o => o.outcome === 'conflict' ? [o.state] : [])
        t.ok(lostStates.every(s => s === 'processing'), `round ${round}: every lost cancel names processing`, { found: lostStates })
        const states = await Promise.all(ids.map(async id => (await mustGetTask(backend, id)).state))
        t.same(states.filter((s, i) => s !== (leased.has(ids[i] as string) ? 'processing' : 'canceled')), [], `round ${round}: stored states agree`)
      }
    })
  }
}
