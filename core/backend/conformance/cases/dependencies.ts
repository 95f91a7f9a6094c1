import type { Backend, Task } from '../../types.ts'
import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, expectUnsupported, enqueueOne, leaseId, makeDead, mustGetTask, newTask, refused, waitFor,
  type ConformanceArea
} from '../support.ts'

// Task dependencies (capability `dependencies`): a task enqueued with dependsOn is
// blocked until every parent succeeded, and is canceled or dead-lettered (by its
// policy) when a parent ends dead or canceled, on every path a parent can take.

async function succeed (backend: Backend, queue: string, id: string): Promise<void> {
  const leased = await leaseId(backend, queue, id)
  const [outcome] = await backend.completeTasks([{ id, leaseToken: leased.leaseToken }])
  if (outcome !== 'ok') throw new Error(`completeTasks on ${id} answered ${String(outcome)}`)
}

async function leaseAll (backend: Backend, queue: string): Promise<string[]> {
  const leased = await backend.leaseTasks({ workerId: 'conformance-worker', queues: [queue], limit: 100, leaseMs: 30_000 })
  return leased.map(l => l.id).sort()
}

async function states (backend: Backend, ids: string[]): Promise<string[]> {
  return await Promise.all(ids.map(async id => (await mustGetTask(backend, id)).state))
}

export const dependenciesArea: ConformanceArea = {
  name: 'dependencies',
  run (t, ctx) {
    const { backend } = ctx
    const needs = ['dependencies'] as const

    if (ctx.capabilities.dependencies !== true) {
      conformanceCase(t, 'declared off: dependsOn and taskLinks throw UNSUPPORTED_BY_BACKEND, nothing is enqueued', async t => {
        const queue = ctx.name('unsupported')
        const parent = await enqueueOne(backend, newTask(queue))
        await expectUnsupported(t, () => backend.enqueue([newTask(queue, { dependsOn: [parent] })]), 'enqueue with dependsOn')
        await expectUnsupported(t, () => backend.taskLinks([parent]), 'taskLinks')
        t.match((await backend.queueStats([queue]))[0], { ready: 1 }, 'only the parent is stored')
      })
    }

    conformanceCaseNeeding(t, ctx, [...needs], 'fan-out: children stay blocked (never leased) until their parent succeeded, then all run', async t => {
      const queue = ctx.name('fanout')
      const parent = await enqueueOne(backend, newTask(queue, { handler: 'parent' }))
      const children = await enqueueIds(backend, [
        newTask(queue, { handler: 'child', dependsOn: [parent] }),
        newTask(queue, { handler: 'child', dependsOn: [parent] })
      ])
      t.same(await states(backend, children), ['blocked', 'blocked'])
      t.match((await backend.queueStats([queue]))[0], { ready: 1, blocked: 2 }, 'counted as blocked')
      const child = await mustGetTask(backend, children[0] as string)
      t.same(child.dependsOn, [parent], 'the task shows its parents')
      t.equal(child.onParentFailure, 'cancel', 'default policy: cancel')
      const first = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 10, leaseMs: 30_000 })
      t.same(first.map(l => l.id), [parent], 'only the parent is leased')
      t.notOk((await mustGetTask(backend, parent)).dependsOn, 'a task without parents shows none')
      t.same(await backend.completeTasks([{ id: parent, leaseToken: first[0]!.leaseToken }]), ['ok'])
      t.same(await states(backend, children), ['ready', 'ready'], 'ready in the same step as the parent\'s success')
      t.match((await backend.queueStats([queue]))[0], { ready: 2, blocked: 0, succeeded: 1 })
      t.same(await waitFor(async () => { const ids = await leaseAll(backend, queue); return ids.length === 2 ? ids : null }), [...children].sort())
      const links = await backend.taskLinks([parent, ...children])
      const byId = new Map(links.map(l => [l.id, l]))
      t.same([...(byId.get(parent)?.children ?? [])].sort(), [...children].sort(), 'taskLinks: the parent lists its children')
      t.same(byId.get(children[0] as string)?.parents, [parent], 'taskLinks: a child lists its parent')
      t.same(await backend.taskLinks(['no-such-task']), [], 'taskLinks leaves unknown ids out')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'fan-in: a task waiting for three parents runs only after the last one succeeded', async t => {
      const queue = ctx.name('fanin')
      const parents = await enqueueIds(backend, [newTask(queue), newTask(queue), newTask(queue)]) as [string, string, string]
      const child = await enqueueOne(backend, newTask(queue, { handler: 'join', dependsOn: parents }))
      await succeed(backend, queue, parents[0])
      t.equal((await mustGetTask(backend, child)).state, 'blocked', 'one of three parents done: blocked')
      await succeed(backend, queue, parents[2])
      t.equal((await mustGetTask(backend, child)).state, 'blocked', 'two of three: blocked')
      // the last two acks of a batch, in one call, count once each
      const leased = await leaseId(backend, queue, parents[1])
      t.same(await backend.completeTasks([{ id: parents[1], leaseToken: leased.leaseToken }, { id: parents[1], leaseToken: leased.leaseToken }]), ['ok', 'lease_lost'])
      t.equal((await mustGetTask(backend, child)).state, 'ready', 'all three: ready')
      await leaseId(backend, queue, child)
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'a parent requeued after it succeeded and succeeding again counts once towards its children', async t => {
      const queue = ctx.name('requeued-parent')
      const [first, second] = await enqueueIds(backend, [newTask(queue), newTask(queue)]) as [string, string]
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [first, second] }))
      await succeed(backend, queue, first)
      t.same((await backend.requeueTasks({ ids: [first], fromStates: ['succeeded'] })).requeued, [first], 'the succeeded parent is requeued')
      await succeed(backend, queue, first)
      t.equal((await mustGetTask(backend, child)).state, 'blocked', 'the second success of the same parent does not count: still blocked')
      // a parent that had succeeded before the child was enqueued counts once as well
      const late = await enqueueOne(backend, newTask(queue, { dependsOn: [first, second] }))
      t.equal((await mustGetTask(backend, late)).state, 'blocked')
      t.same((await backend.requeueTasks({ ids: [first], fromStates: ['succeeded'] })).requeued, [first])
      await succeed(backend, queue, first)
      t.same(await states(backend, [child, late]), ['blocked', 'blocked'], 'a third success of the same parent: both still blocked')
      await succeed(backend, queue, second)
      t.same(await states(backend, [child, late]), ['ready', 'ready'], 'the other parent succeeded: both ready')
    })

    conformanceCaseNeeding(t, ctx, [...needs, 'delayedTasks'], 'a child with a future runAt becomes scheduled when its parents are done', async t => {
      const queue = ctx.name('scheduled')
      const parent = await enqueueOne(backend, newTask(queue))
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [parent], delayMs: 3_600_000 }))
      t.equal((await mustGetTask(backend, child)).state, 'blocked')
      await succeed(backend, queue, parent)
      t.equal((await mustGetTask(backend, child)).state, 'scheduled')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'a parent that dies cancels its blocked children, and theirs, naming the parent', async t => {
      const queue = ctx.name('dies-cancel')
      const [parent, other] = await enqueueIds(backend, [newTask(queue, { maxAttempts: 1 }), newTask(queue)]) as [string, string]
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [parent, other] }))
      const grandchild = await enqueueOne(backend, newTask(queue, { dependsOn: [child], onParentFailure: 'dead' }))
      const leased = await leaseId(backend, queue, parent)
      t.same(await backend.failTasks([{ id: parent, leaseToken: leased.leaseToken, error: { message: 'boom' }, retryDelayMs: null }]), ['dead'])
      const c = await mustGetTask(backend, child)
      t.equal(c.state, 'canceled', 'policy cancel: canceled')
      t.match(c.lastError, new RegExp(`parent task ${parent}\\b.*dead`), 'lastError names the dead parent')
      t.ok(c.finishedAt !== null, 'finished')
      const g = await mustGetTask(backend, grandchild)
      t.equal(g.state, 'dead', 'the grandchild follows its own policy (dead)')
      t.match(g.lastError, new RegExp(`parent task ${child}\\b.*canceled`), 'naming its own parent')
      t.match((await backend.queueStats([queue]))[0], { blocked: 0, canceled: 1, dead: 2, ready: 1 })
      t.equal((await mustGetTask(backend, other)).state, 'ready', 'the other parent is untouched')
      await succeed(backend, queue, other)
      t.equal((await mustGetTask(backend, child)).state, 'canceled', 'a later success of another parent changes nothing')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'policy dead: the child is dead-lettered and listed in the DLQ', async t => {
      const queue = ctx.name('dies-dead')
      const parent = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [parent], onParentFailure: 'dead' }))
      const leased = await leaseId(backend, queue, parent)
      await backend.failTasks([{ id: parent, leaseToken: leased.leaseToken, error: { message: 'fatal' }, retryDelayMs: null }])
      const c = await mustGetTask(backend, child)
      t.equal(c.state, 'dead')
      t.equal(c.onParentFailure, 'dead')
      t.match(c.lastError, parent)
      const dlq = await backend.listTasks({ state: 'dead', queue, limit: 10, offset: 0 })
      t.same(dlq.tasks.map((x: Task) => x.id).sort(), [parent, child].sort(), 'both in the DLQ')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'a parent whose lease expires on its last attempt kills its children too', async t => {
      const queue = ctx.name('dies-recovery')
      const parent = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [parent] }))
      await leaseId(backend, queue, parent, 1)
      await waitFor(async () => {
        await backend.recoverExpiredLeases(100)
        return (await mustGetTask(backend, parent)).state === 'dead'
      }, { what: 'the parent to be dead-lettered by lease recovery' })
      t.equal((await mustGetTask(backend, child)).state, 'canceled')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'a parent whose lease an operator releases on its last attempt kills its children too', async t => {
      const queue = ctx.name('dies-released')
      const parent = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [parent], onParentFailure: 'dead' }))
      const workerId = ctx.name('released-worker')
      const leased = await backend.leaseTasks({ workerId, queues: [queue], limit: 10, leaseMs: 30_000 })
      t.same(leased.map(l => l.id), [parent])
      t.same(await backend.releaseWorkerLeases({ workerId, limit: 10 }), { requeued: [], dead: [parent] })
      const c = await mustGetTask(backend, child)
      t.equal(c.state, 'dead', 'policy dead: dead-lettered with its parent')
      t.match(c.lastError, parent)
    })

    conformanceCaseNeeding(t, ctx, [...needs, 'cancel'], 'cancel cascade: canceling a parent cancels the graph below it; a blocked task can be canceled', async t => {
      const queue = ctx.name('cancel')
      const root = await enqueueOne(backend, newTask(queue))
      const mid = await enqueueOne(backend, newTask(queue, { dependsOn: [root] }))
      const leaves = await enqueueIds(backend, [newTask(queue, { dependsOn: [mid] }), newTask(queue, { dependsOn: [mid, root] })])
      t.same(await backend.cancelTask(root), { outcome: 'canceled' })
      t.same(await states(backend, [mid, ...leaves]), ['canceled', 'canceled', 'canceled'], 'down the graph')
      t.match((await mustGetTask(backend, leaves[0] as string)).lastError, mid)

      const parent = await enqueueOne(backend, newTask(queue))
      const blocked = await enqueueOne(backend, newTask(queue, { dependsOn: [parent] }))
      t.same(await backend.cancelTask(blocked), { outcome: 'canceled' }, 'a blocked task is canceled')
      await succeed(backend, queue, parent)
      t.equal((await mustGetTask(backend, blocked)).state, 'canceled', 'and stays canceled when its parent succeeds')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'deleting a parent before it succeeded applies the policy; deleting a succeeded one does not', async t => {
      const queue = ctx.name('delete')
      const [gone, done] = await enqueueIds(backend, [newTask(queue), newTask(queue)]) as [string, string]
      const child = await enqueueOne(backend, newTask(queue, { dependsOn: [gone] }))
      const waiting = await enqueueOne(backend, newTask(queue, { dependsOn: [done, gone] }))
      const patient = await enqueueOne(backend, newTask(queue, { dependsOn: [done] }))
      await succeed(backend, queue, done)
      t.equal((await mustGetTask(backend, patient)).state, 'ready')
      t.same((await backend.deleteTasks({ ids: [done], fromStates: ['succeeded'] })).deleted, [done])
      t.equal((await mustGetTask(backend, waiting)).state, 'blocked', 'a succeeded parent deleted: still counts as done')
      t.same((await backend.deleteTasks({ ids: [gone], fromStates: ['ready'] })).deleted, [gone])
      t.same(await states(backend, [child, waiting]), ['canceled', 'canceled'])
      t.match((await mustGetTask(backend, child)).lastError, gone)
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'parents already finished at enqueue: succeeded ones count as done, a dead one applies the policy at once', async t => {
      const queue = ctx.name('finished')
      const done = await enqueueOne(backend, newTask(queue))
      await succeed(backend, queue, done)
      const runnable = await enqueueOne(backend, newTask(queue, { dependsOn: [done] }))
      t.equal((await mustGetTask(backend, runnable)).state, 'ready', 'only succeeded parents: ready at once')
      await leaseId(backend, queue, runnable)
      const [dead] = await makeDead(backend, queue, 1) as [string]
      const canceled = await enqueueOne(backend, newTask(queue, { dependsOn: [done, dead] }))
      const c = await mustGetTask(backend, canceled)
      t.equal(c.state, 'canceled', 'a dead parent: canceled at once')
      t.match(c.lastError, dead)
      const deadChild = await enqueueOne(backend, newTask(queue, { dependsOn: [dead], onParentFailure: 'dead' }))
      t.equal((await mustGetTask(backend, deadChild)).state, 'dead', 'policy dead: dead at once')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'an unknown parent refuses the whole enqueue: nothing is stored', async t => {
      const queue = ctx.name('unknown')
      const parent = await enqueueOne(backend, newTask(queue))
      await backend.deleteTasks({ ids: [parent], fromStates: ['ready'] })
      const real = await enqueueOne(backend, newTask(queue))
      await refused(t, 'a deleted parent', async () => await backend.enqueue([newTask(queue), newTask(queue, { dependsOn: [real, parent] })]), 'dependsOn')
      await refused(t, 'an id of another shape', async () => await backend.enqueue([newTask(queue, { dependsOn: ['no-such-task'] })]), 'dependsOn')
      const stats = (await backend.queueStats([queue]))[0]
      t.match(stats, { ready: 1, blocked: 0 }, 'nothing enqueued')
      await refused(t, 'a parent named twice', async () => await backend.enqueue([newTask(queue, { dependsOn: [real, real] })]), 'tasks[0].dependsOn')
      await refused(t, 'a bad policy', async () => await backend.enqueue([newTask(queue, { dependsOn: [real], onParentFailure: 'explode' as 'dead' })]), 'tasks[0].onParentFailure')
    })

    conformanceCaseNeeding(t, ctx, [...needs], 'listing and counting the blocked state', async t => {
      const queue = ctx.name('listing')
      const parent = await enqueueOne(backend, newTask(queue))
      const children = await enqueueIds(backend, [newTask(queue, { dependsOn: [parent] }), newTask(queue, { dependsOn: [parent] })])
      const page = await backend.listTasks({ state: 'blocked', queue, limit: 10, offset: 0 })
      t.same(page.tasks.map((x: Task) => x.id).sort(), [...children].sort())
      if (page.total !== null) t.equal(page.total, 2)
    })
  }
}
