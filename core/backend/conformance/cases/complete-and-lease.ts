import { conformanceCase, enqueueIds, mustGetTask, newTask, type ConformanceArea } from '../support.ts'

// completeAndLease is optional: backends without it are driven through
// completeTasks and leaseTasks, so these cases only run where it exists.
export const completeAndLeaseArea: ConformanceArea = {
  name: 'complete-and-lease',
  run (t, ctx) {
    const { backend } = ctx
    if (backend.completeAndLease === undefined) {
      t.pass('completeAndLease not offered; workers use completeTasks + leaseTasks')
      return
    }
    const completeAndLease = backend.completeAndLease.bind(backend)

    conformanceCase(t, 'completeAndLease: acks per item, then leases in run order, counts exact', async t => {
      const queue = ctx.name('cal')
      const ids = await enqueueIds(backend, [
        newTask(queue), newTask(queue), newTask(queue, { priority: 1 }), newTask(queue), newTask(queue, { priority: 5 })
      ])
      const first = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 2, leaseMs: 30_000 })
      t.same(first.map(l => l.id), [ids[4], ids[2]], 'highest priority first')
      const [a, b] = first as [typeof first[0], typeof first[0]]
      const result = await completeAndLease(
        [{ id: a.id, leaseToken: a.leaseToken }, { id: b.id, leaseToken: a.leaseToken }, { id: 'no-such-task', leaseToken: 'x' }],
        { workerId: 'w', queues: [queue], limit: 2, leaseMs: 30_000 })
      t.same(result.acks, ['ok', 'lease_lost', 'lease_lost'], 'ack outcomes in request order')
      t.same(result.leased.map(l => l.id), [ids[0], ids[1]], 'then the next tasks in run order')
      t.ok(result.leased.every(l => l.attempts === 1 && l.leaseToken !== '' && l.queue === queue), 'leased like leaseTasks')
      t.equal((await mustGetTask(backend, a.id)).state, 'succeeded')
      t.equal((await mustGetTask(backend, b.id)).state, 'processing', 'a wrong token leaves the task alone')
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { ready: 1, processing: 3, succeeded: 1 }, 'per-queue counts follow both writes')
      const again = await completeAndLease([{ id: a.id, leaseToken: a.leaseToken }], { workerId: 'w', queues: [queue], limit: 0, leaseMs: 30_000 })
      t.same(again, { acks: ['lease_lost'], leased: [] }, 'a repeated ack is lease_lost; limit 0 leases nothing')
    })

    conformanceCase(t, 'completeAndLease while globally paused: acks still apply, nothing is leased', async t => {
      const queue = ctx.name('cal-paused')
      const [id] = await enqueueIds(backend, [newTask(queue), newTask(queue)])
      const [held] = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 1, leaseMs: 30_000 })
      t.equal(held?.id, id)
      await backend.setGlobalPause(true)
      try {
        const result = await completeAndLease([{ id: held!.id, leaseToken: held!.leaseToken }], { workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 })
        t.same(result, { acks: ['ok'], leased: [] })
      } finally {
        await backend.setGlobalPause(false)
      }
      t.equal((await mustGetTask(backend, held!.id)).state, 'succeeded')
      const resumed = await completeAndLease([], { workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 })
      t.same(resumed.acks, [], 'no acks: an empty list')
      t.equal(resumed.leased.length, 1, 'after resuming, the other task is leased')
    })

    conformanceCase(t, 'completeAndLease validates the lease request like leaseTasks', async t => {
      await t.rejects(completeAndLease([], { workerId: '', queues: [ctx.name('cal-bad')], limit: 1, leaseMs: 30_000 }), { code: 'VALIDATION_FAILED' })
    })
  }
}
