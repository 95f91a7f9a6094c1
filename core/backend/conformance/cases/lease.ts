import type { Backend, LeasedTask } from '../../types.ts'
import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, enqueueOne, leaseId, mustGetTask, newTask, waitFor, within,
  type ConformanceArea
} from '../support.ts'

export const leaseArea: ConformanceArea = {
  name: 'lease',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'a lease returns what the worker needs and marks the task processing', async t => {
      const queue = ctx.name('fields')
      const id = await enqueueOne(backend, newTask(queue, { handler: 'conformance.lease', payload: { x: 1 }, maxAttempts: 4, timeoutMs: 9_000 }))
      const before = await backend.now()
      const [leased] = await backend.leaseTasks({ workerId: 'worker-a', queues: [queue], limit: 1, leaseMs: 30_000 })
      const after = await backend.now()
      t.match(leased, { id, queue, handler: 'conformance.lease', payload: { x: 1 }, attempts: 1, maxAttempts: 4, timeoutMs: 9_000 })
      t.type(leased?.leaseToken, 'string')
      t.ok((leased?.leaseToken ?? '').length > 0, 'lease token is not empty')
      t.ok(within(leased?.leaseExpiresAt, before + 30_000, after + 30_000), 'leaseExpiresAt = backend-now + leaseMs')
      const task = await mustGetTask(backend, id)
      t.match(task, { state: 'processing', attempts: 1, workerId: 'worker-a', leaseExpiresAt: leased?.leaseExpiresAt })
      t.ok(within(task.startedAt, before, after), 'startedAt set to the lease time')
    })

    conformanceCase(t, 'limit is honoured', async t => {
      const queue = ctx.name('limit')
      await enqueueIds(backend, Array.from({ length: 5 }, () => newTask(queue)))
      const req = { workerId: 'w', queues: [queue], limit: 3, leaseMs: 30_000 }
      t.equal((await backend.leaseTasks(req)).length, 3, 'first call: 3')
      t.equal((await backend.leaseTasks(req)).length, 2, 'second call: the 2 left')
      t.same(await backend.leaseTasks(req), [], 'third call: none')
    })

    conformanceCase(t, 'queues are filled in preference order', async t => {
      const first = ctx.name('pref-a')
      const second = ctx.name('pref-b')
      const third = ctx.name('pref-c')
      await enqueueIds(backend, [...Array.from({ length: 2 }, () => newTask(first)), ...Array.from({ length: 3 }, () => newTask(second)), newTask(third)])
      const leased = await backend.leaseTasks({ workerId: 'w', queues: [first, second, third], limit: 4, leaseMs: 30_000 })
      t.same(countQueues(leased), { [first]: 2, [second]: 2 }, 'both of the first queue, then 2 from the second, none from the third')
      const next = await backend.leaseTasks({ workerId: 'w', queues: [third, second], limit: 1, leaseMs: 30_000 })
      t.same(next.map(l => l.queue), [third], 'the first queue in the new order wins')
      t.same(await backend.leaseTasks({ workerId: 'w', queues: [ctx.name('pref-empty')], limit: 5, leaseMs: 30_000 }), [], 'an unknown queue leases nothing')
    })

    conformanceCase(t, 'attempts grow by one per lease', async t => {
      const queue = ctx.name('attempts')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 5 }))
      for (let attempt = 1; attempt <= 3; attempt++) {
        const leased = await leaseId(backend, queue, id)
        t.equal(leased.attempts, attempt, `lease ${attempt} reports attempts=${attempt}`)
        t.equal((await mustGetTask(backend, id)).attempts, attempt, `stored attempts=${attempt}`)
        t.same(await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: `try ${attempt}` }, retryDelayMs: 0 }]), ['retrying'])
      }
    })

    conformanceCaseNeeding(t, ctx, ['queuePause'], 'a paused queue is skipped until unpaused', async t => {
      const paused = ctx.name('paused')
      const open = ctx.name('open')
      await enqueueIds(backend, [newTask(paused), newTask(paused), newTask(open)])
      await backend.setQueuePaused(paused, true)
      const leased = await backend.leaseTasks({ workerId: 'w', queues: [paused, open], limit: 5, leaseMs: 30_000 })
      t.same(leased.map(l => l.queue), [open], 'only the open queue gives tasks')
      await backend.setQueuePaused(paused, false)
      t.equal((await backend.leaseTasks({ workerId: 'w', queues: [paused, open], limit: 5, leaseMs: 30_000 })).length, 2, 'unpaused: its tasks are leased')
    })

    conformanceCaseNeeding(t, ctx, ['globalPause'], 'global pause: leaseTasks answers [] until resumed', async t => {
      const queue = ctx.name('global-pause')
      await enqueueIds(backend, [newTask(queue), newTask(queue)])
      await backend.setGlobalPause(true)
      try {
        t.equal((await backend.getCoordinationState()).globalPaused, true, 'coordination state reports the pause')
        t.same(await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 }), [], 'nothing leased while paused')
        t.same(await ctx.peer.leaseTasks({ workerId: 'w2', queues: [queue], limit: 5, leaseMs: 30_000 }), [], 'nothing leased by another node either')
      } finally {
        await backend.setGlobalPause(false)
      }
      t.equal((await backend.getCoordinationState()).globalPaused, false)
      t.equal((await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 })).length, 2, 'resumed: both leased')
    })

    conformanceCase(t, 'concurrent leasers never get the same task (500 tasks, 5 leasers)', async t => {
      const queue = ctx.name('concurrent')
      const total = 500
      const ids = await enqueueIds(backend, Array.from({ length: total }, (_, i) => newTask(queue, { payload: { i } })))
      const clients: Backend[] = [backend, ctx.peer]
      const leasedBy = await Promise.all(Array.from({ length: 5 }, async (_, n) => {
        const client = clients[n % clients.length] as Backend
        const mine: string[] = []
        for (let emptyRounds = 0; emptyRounds < 2;) {
          const batch = await client.leaseTasks({ workerId: `leaser-${n}`, queues: [queue], limit: 7, leaseMs: 60_000 })
          if (batch.length === 0) emptyRounds++
          mine.push(...batch.map(l => l.id))
        }
        return mine
      }))
      const all = leasedBy.flat()
      t.equal(all.length, total, `${total} leases in all (per leaser: ${leasedBy.map(l => l.length).join(', ')})`)
      t.equal(new Set(all).size, total, 'no task leased twice')
      t.same(new Set(all), new Set(ids), 'the union is every task')
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { ready: 0, processing: total }, 'all processing')
    })

    conformanceCaseNeeding(t, ctx, ['workNotifications'], 'subscribeWork wakes idle workers with the queue name, from any node', async t => {
      if (backend.subscribeWork === undefined) {
        t.fail('workNotifications is declared but subscribeWork is missing')
        return
      }
      const queue = ctx.name('notify')
      const woken: string[] = []
      const unsubscribe = await backend.subscribeWork(name => { woken.push(name) })
      try {
        await enqueueOne(ctx.peer, newTask(queue))
        await waitFor(() => woken.includes(queue), { timeoutMs: 5_000, what: `a work notification for ${queue}` })
        t.pass('notified with the queue name')
      } finally {
        await unsubscribe()
      }
    })

    conformanceCase(t, 'takeover: an expired lease is recovered, re-leased with a new token, and the stale holder is fenced off', async t => {
      const queue = ctx.name('takeover')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 3 }))
      const stale = await leaseId(backend, queue, id, 200)
      await waitFor(async () => (await backend.recoverExpiredLeases(100)).requeued.includes(id), { timeoutMs: 10_000, what: 'the expired lease to be recovered' })
      const recovered = await mustGetTask(backend, id)
      t.equal(recovered.state, 'ready', 'recovered with attempts left → ready')
      t.equal(recovered.attempts, 1, 'the expired attempt still counts')
      const fresh = await leaseId(backend, queue, id, 30_000)
      t.not(fresh.leaseToken, stale.leaseToken, 'the new lease has a new token')
      t.equal(fresh.attempts, 2, 'second attempt')
      const held = await mustGetTask(backend, id)
      const staleRef = { id, leaseToken: stale.leaseToken }
      t.same(await backend.completeTasks([staleRef]), ['lease_lost'], 'stale complete → lease_lost')
      t.same(await backend.failTasks([{ ...staleRef, error: { message: 'stale' }, retryDelayMs: null }]), ['lease_lost'], 'stale fail → lease_lost')
      t.same(await backend.extendLeases([staleRef], 60_000), [null], 'stale extend → null')
      t.same(await backend.releaseTasks([staleRef]), ['lease_lost'], 'stale release → lease_lost')
      const after = await mustGetTask(backend, id)
      t.match(after, { state: 'processing', attempts: 2, leaseExpiresAt: held.leaseExpiresAt, lastError: null, finishedAt: null }, 'stale writes changed nothing')
      t.same(after.errors, [], 'no error recorded by the stale fail')
      t.same(await backend.completeTasks([{ id, leaseToken: fresh.leaseToken }]), ['ok'], 'the new holder acks')
      t.equal((await mustGetTask(backend, id)).state, 'succeeded')
    })

    conformanceCase(t, 'recoverExpiredLeases leaves live leases alone and dead-letters an expired last attempt', async t => {
      const queue = ctx.name('last-attempt')
      const [last, live] = await enqueueIds(backend, [newTask(queue, { maxAttempts: 1, payload: 'last' }), newTask(queue, { payload: 'live' })]) as [string, string]
      await leaseId(backend, queue, last, 200)
      const liveLease = await leaseId(backend, queue, live, 60_000)
      await waitFor(async () => (await backend.recoverExpiredLeases(100)).dead.includes(last), { timeoutMs: 10_000, what: 'the expired last attempt to be dead-lettered' })
      const dead = await mustGetTask(backend, last)
      t.equal(dead.state, 'dead', 'last attempt expired → dead')
      t.equal(dead.attempts, 1)
      t.ok(dead.finishedAt !== null, 'finishedAt set')
      const stillLive = await mustGetTask(backend, live)
      t.match(stillLive, { state: 'processing', leaseExpiresAt: liveLease.leaseExpiresAt }, 'a live lease is not recovered')
      const again = await backend.recoverExpiredLeases(100)
      t.notOk(again.requeued.includes(last) || again.dead.includes(last), 'a recovered task is not recovered twice')
    })

    conformanceCase(t, 'recoverExpiredLeases honours its limit', async t => {
      const queue = ctx.name('recover-limit')
      const ids = await enqueueIds(backend, Array.from({ length: 4 }, () => newTask(queue)))
      await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 4, leaseMs: 100 })
      const expiry = Math.max(...await Promise.all(ids.map(async id => (await mustGetTask(backend, id)).leaseExpiresAt ?? 0)))
      await waitFor(async () => (await backend.now()) > expiry + 5, { what: 'the leases to expire on the backend clock' })
      const first = await backend.recoverExpiredLeases(3)
      t.ok(first.requeued.length + first.dead.length <= 3, `at most 3 recovered (got ${first.requeued.length + first.dead.length})`)
      const mine = new Set(ids)
      const recovered = new Set([...first.requeued, ...first.dead].filter(id => mine.has(id)))
      await waitFor(async () => {
        const more = await backend.recoverExpiredLeases(3)
        for (const id of [...more.requeued, ...more.dead]) if (mine.has(id)) recovered.add(id)
        return ids.every(id => recovered.has(id))
      }, { what: 'every expired lease to be recovered' })
      t.equal(recovered.size, ids.length, 'all four recovered across calls')
      for (const id of ids) t.equal((await mustGetTask(backend, id)).state, 'ready', `${id} is ready again`)
    })
  }
}

function countQueues (leased: LeasedTask[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const l of leased) counts[l.queue] = (counts[l.queue] ?? 0) + 1
  return counts
}
