import type { Test } from 'tap'
import type { Backend, CascadedTask } from '../../types.ts'
import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, enqueueOne, leaseId, makeDead, mustGetTask, newTask, waitFor,
  type ConformanceArea
} from '../support.ts'

// Backend.watchCascades: the tasks a dependency cascade canceled or dead-lettered are
// reported once, to the listeners of the backend object whose call ran the cascade,
// when that call returns, whichever path finished the parent. The metrics history
// counts dead letters no worker saw from these reports.

type Collected = Array<[string, string, string]>

/** listens for the whole case; `take()` answers what was reported since the last take, sorted */
function listen (t: Test, backend: Backend): { take: () => Collected } {
  let seen: CascadedTask[] = []
  const stop = backend.watchCascades?.(tasks => { seen.push(...tasks) })
  t.teardown(() => stop?.())
  return {
    take () {
      const taken = seen.map((task): [string, string, string] => [task.id, task.queue, task.state]).sort((a, b) => a[0].localeCompare(b[0]))
      seen = []
      return taken
    }
  }
}

const sorted = (rows: Collected): Collected => [...rows].sort((a, b) => a[0].localeCompare(b[0]))

export const cascadeReportsArea: ConformanceArea = {
  name: 'cascade-reports',
  run (t, ctx) {
    const { backend } = ctx
    if (ctx.capabilities.dependencies !== true || backend.watchCascades === undefined) {
      conformanceCase(t, 'no watchCascades (or no dependencies): nothing to report', async t => {
        t.pass(`the ${backend.name} backend reports no cascades`)
      })
      return
    }

    conformanceCaseNeeding(t, ctx, ['dependencies'], 'a failure on the last attempt reports the graph it finished below, once; other calls report nothing', async t => {
      const { take } = listen(t, backend)
      const queue = ctx.name('fail')
      const other = ctx.name('fail-other')
      const parent = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const canceled = await enqueueOne(backend, newTask(queue, { dependsOn: [parent] }))
      const dead = await enqueueOne(backend, newTask(other, { dependsOn: [parent], onParentFailure: 'dead' }))
      const grandchild = await enqueueOne(backend, newTask(queue, { dependsOn: [canceled], onParentFailure: 'dead' }))
      const lone = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      t.same(take(), [], 'enqueueing blocked children reports nothing')
      const leased = await leaseId(backend, queue, parent)
      const leasedLone = await leaseId(backend, queue, lone)
      t.same(await backend.failTasks([
        { id: lone, leaseToken: leasedLone.leaseToken, error: { message: 'alone' }, retryDelayMs: null },
        { id: parent, leaseToken: leased.leaseToken, error: { message: 'fatal' }, retryDelayMs: null }
      ]), ['dead', 'dead'])
      t.same(take(), sorted([[canceled, queue, 'canceled'], [dead, other, 'dead'], [grandchild, queue, 'dead']]), 'children and grandchild, with their queues and states; neither failed task itself')
      t.equal((await mustGetTask(backend, grandchild)).state, 'dead')

      // the parent replayed and dead again: its children were finished the first time
      t.same((await backend.requeueTasks({ ids: [parent], fromStates: ['dead'] })).requeued, [parent])
      const again = await leaseId(backend, queue, parent)
      t.same(await backend.failTasks([{ id: parent, leaseToken: again.leaseToken, error: { message: 'fatal again' }, retryDelayMs: null }]), ['dead'])
      t.same(take(), [], 'a second death of the same parent reports nothing more')

      const ok = await enqueueOne(backend, newTask(queue))
      const waiting = await enqueueOne(backend, newTask(queue, { dependsOn: [ok] }))
      const leasedOk = await leaseId(backend, queue, ok)
      t.same(await backend.completeTasks([{ id: ok, leaseToken: leasedOk.leaseToken }]), ['ok'])
      t.equal((await mustGetTask(backend, waiting)).state, 'ready')
      t.same(take(), [], 'a parent that succeeds reports nothing')
    })

    conformanceCaseNeeding(t, ctx, ['dependencies'], 'lease recovery and an operator\'s lease release report the cascades they ran', async t => {
      const { take } = listen(t, backend)
      const queue = ctx.name('lease-end')
      const expired = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const expiredChild = await enqueueOne(backend, newTask(queue, { dependsOn: [expired], onParentFailure: 'dead' }))
      await leaseId(backend, queue, expired, 1)
      await waitFor(async () => {
        await backend.recoverExpiredLeases(100)
        return (await mustGetTask(backend, expired)).state === 'dead'
      }, { what: 'the parent to be dead-lettered by lease recovery' })
      t.same(take(), [[expiredChild, queue, 'dead']], 'recovery')

      const released = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const releasedChild = await enqueueOne(backend, newTask(queue, { dependsOn: [released] }))
      const workerId = ctx.name('lost-worker')
      t.same((await backend.leaseTasks({ workerId, queues: [queue], limit: 10, leaseMs: 60_000 })).map(l => l.id), [released])
      t.same((await backend.releaseWorkerLeases({ workerId, limit: 10, dryRun: true })).dead, [released])
      t.same(take(), [], 'a dry run reports nothing')
      t.same((await backend.releaseWorkerLeases({ workerId, limit: 10 })).dead, [released])
      t.same(take(), [[releasedChild, queue, 'canceled']], 'release')
    })

    conformanceCaseNeeding(t, ctx, ['dependencies', 'cancel'], 'operator cancels and deletes, one by one or in bulk, report the cascades they ran', async t => {
      const { take } = listen(t, backend)
      const queue = ctx.name('operator')
      const [canceledParent, deletedParent, bulkParent, bulkDeleted] = await enqueueIds(backend, [newTask(queue), newTask(queue), newTask(queue), newTask(queue)]) as [string, string, string, string]
      const children = await enqueueIds(backend, [
        newTask(queue, { dependsOn: [canceledParent], onParentFailure: 'dead' }),
        newTask(queue, { dependsOn: [deletedParent], onParentFailure: 'dead' }),
        newTask(queue, { dependsOn: [bulkParent], onParentFailure: 'dead' }),
        newTask(queue, { dependsOn: [bulkDeleted] })
      ]) as [string, string, string, string]
      t.same(await backend.cancelTask(canceledParent), { outcome: 'canceled' })
      t.same(take(), [[children[0], queue, 'dead']], 'cancelTask')
      t.same((await backend.deleteTasks({ ids: [deletedParent], fromStates: ['ready'] })).deleted, [deletedParent])
      t.same(take(), [[children[1], queue, 'dead']], 'deleteTasks')
      t.same((await backend.applyTaskAction({ action: { kind: 'cancel' }, ids: [bulkParent] })).changed, [bulkParent])
      t.same(take(), [[children[2], queue, 'dead']], 'a bulk cancel')
      t.same((await backend.applyTaskAction({ action: { kind: 'delete' }, ids: [bulkDeleted] })).changed, [bulkDeleted])
      t.same(take(), [[children[3], queue, 'canceled']], 'a bulk delete')
    })

    conformanceCaseNeeding(t, ctx, ['dependencies'], 'a child enqueued under a dead parent takes its policy at once and is reported by that enqueue', async t => {
      const { take } = listen(t, backend)
      const queue = ctx.name('enqueue')
      const [dead] = await makeDead(backend, queue, 1) as [string]
      take()
      const [deadChild, canceledChild] = await enqueueIds(backend, [
        newTask(queue, { dependsOn: [dead], onParentFailure: 'dead' }),
        newTask(queue, { dependsOn: [dead] })
      ]) as [string, string]
      t.same(take(), sorted([[deadChild, queue, 'dead'], [canceledChild, queue, 'canceled']]))
    })

    conformanceCaseNeeding(t, ctx, ['dependencies'], 'a listener removed hears nothing more', async t => {
      let heard = 0
      const stop = backend.watchCascades?.(tasks => { heard += tasks.length })
      stop?.()
      const queue = ctx.name('removed')
      const parent = await enqueueOne(backend, newTask(queue))
      await enqueueOne(backend, newTask(queue, { dependsOn: [parent] }))
      t.same(await backend.cancelTask(parent), { outcome: 'canceled' })
      t.equal(heard, 0)
    })
  }
}
