import type { LeaseRequest, PendingHandler, WorkerInfo } from '../../types.ts'
import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, enqueueOne, mustGetTask, newTask, waitFor,
  type ConformanceArea
} from '../support.ts'

// A worker passes the handler names it runs with every lease; a backend leases only
// tasks whose handler is listed and leaves the others untouched (same state, no
// attempt used), however many of them sit ahead in the queue.

const PENDING = ['ready', 'scheduled', 'retrying']

function lease (queue: string, handlers: string[] | undefined, limit = 10, workerId = 'handlers-worker'): LeaseRequest {
  return handlers === undefined ? { workerId, queues: [queue], limit, leaseMs: 30_000 } : { workerId, queues: [queue], limit, leaseMs: 30_000, handlers }
}

function sortPairs (pairs: PendingHandler[]): PendingHandler[] {
  return pairs.map(p => ({ queue: p.queue, handler: p.handler }))
    .sort((a, b) => a.queue === b.queue ? a.handler.localeCompare(b.handler) : a.queue.localeCompare(b.queue))
}

export const handlersArea: ConformanceArea = {
  name: 'handlers',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'leaseTasks with handlers takes only listed handlers, in priority order; the others stay ready with attempts 0', async t => {
      const queue = ctx.name('only-listed')
      const [lowMail, highSms, midMail, other, highMail] = await enqueueIds(backend, [
        newTask(queue, { handler: 'mail', priority: 1 }),
        newTask(queue, { handler: 'sms', priority: 9 }),
        newTask(queue, { handler: 'mail', priority: 5 }),
        newTask(queue, { handler: 'push', priority: 7 }),
        newTask(queue, { handler: 'mail', priority: 8 })
      ]) as [string, string, string, string, string]
      const leased = await backend.leaseTasks(lease(queue, ['mail', 'absent']))
      t.same(leased.map(l => l.id), [highMail, midMail, lowMail], 'only mail tasks, highest priority first')
      t.ok(leased.every(l => l.handler === 'mail' && l.attempts === 1), 'each leased once, handler mail')
      for (const id of [highSms, other]) {
        t.match(await mustGetTask(backend, id), { state: 'ready', attempts: 0, workerId: null }, `${id} untouched`)
      }
      t.same(await backend.leaseTasks(lease(queue, ['mail'])), [], 'nothing more for a mail-only worker')
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { ready: 2, processing: 3 }, 'counts: the skipped tasks are still ready')
      const later = await backend.leaseTasks(lease(queue, ['sms', 'push'], 10, 'other-worker'))
      t.same(later.map(l => l.id), [highSms, other], 'a worker with those handlers leases them, priority order')
      t.ok(later.every(l => l.attempts === 1), 'first attempt for each')
    })

    conformanceCase(t, 'handlers absent leases every handler; an empty list leases nothing', async t => {
      const queue = ctx.name('empty-list')
      const ids = await enqueueIds(backend, [newTask(queue, { handler: 'a' }), newTask(queue, { handler: 'b' })])
      t.same(await backend.leaseTasks(lease(queue, [])), [], 'empty list: nothing')
      for (const id of ids) t.match(await mustGetTask(backend, id), { state: 'ready', attempts: 0 }, `${id} untouched by the empty list`)
      const all = await backend.leaseTasks(lease(queue, undefined))
      t.same(new Set(all.map(l => l.id)), new Set(ids), 'absent: both handlers leased')
    })

    conformanceCase(t, 'completeAndLease leases only listed handlers too', async t => {
      if (backend.completeAndLease === undefined) {
        t.pass('completeAndLease not offered')
        return
      }
      const queue = ctx.name('cal')
      const [first, skipped, second] = await enqueueIds(backend, [
        newTask(queue, { handler: 'mail', priority: 9 }),
        newTask(queue, { handler: 'sms', priority: 8 }),
        newTask(queue, { handler: 'mail', priority: 1 })
      ]) as [string, string, string]
      const [held] = await backend.leaseTasks(lease(queue, ['mail'], 1))
      t.equal(held?.id, first)
      const result = await backend.completeAndLease([{ id: first, leaseToken: held!.leaseToken }], lease(queue, ['mail']))
      t.same(result.acks, ['ok'])
      t.same(result.leased.map(l => l.id), [second], 'the next mail task, not the sms one ahead of it')
      t.match(await mustGetTask(backend, skipped), { state: 'ready', attempts: 0 }, 'sms task untouched')
      const none = await backend.completeAndLease([{ id: second, leaseToken: result.leased[0]!.leaseToken }], lease(queue, []))
      t.same(none, { acks: ['ok'], leased: [] }, 'an empty list: the ack applies, nothing is leased')
      t.match(await mustGetTask(backend, skipped), { state: 'ready', attempts: 0 }, 'still untouched')
    })

    conformanceCaseNeeding(t, ctx, ['delayedTasks'], 'due scheduled and retrying tasks of an unlisted handler are not consumed', async t => {
      const queue = ctx.name('due')
      const scheduled = await enqueueOne(backend, newTask(queue, { handler: 'late', delayMs: 500 }))
      const retried = await enqueueOne(backend, newTask(queue, { handler: 'late', maxAttempts: 3 }))
      const [first] = await backend.leaseTasks(lease(queue, ['late'], 1))
      t.equal(first?.id, retried, 'the ready one is leased first')
      t.same(await backend.failTasks([{ id: retried, leaseToken: first!.leaseToken, error: { message: 'again' }, retryDelayMs: 50 }]), ['retrying'])
      const due = await waitFor(async () => { const n = await backend.now(); return n > (await mustGetTask(backend, scheduled)).runAt + 20 && n > (await mustGetTask(backend, retried)).runAt + 20 }, { what: 'both tasks to be due' })
      t.ok(due)
      for (let i = 0; i < 3; i++) t.same(await backend.leaseTasks(lease(queue, ['other'])), [], `lease ${i + 1} by a worker without the handler: nothing`)
      await backend.recoverExpiredLeases(100)
      t.same(await backend.leaseTasks(lease(queue, ['other'])), [], 'nothing after the backend promoted due tasks either')
      const s = await mustGetTask(backend, scheduled)
      const r = await mustGetTask(backend, retried)
      t.ok(PENDING.includes(s.state) && s.attempts === 0, `scheduled task pending, no attempt (${s.state}, ${s.attempts})`)
      t.ok(PENDING.includes(r.state) && r.attempts === 1, `retrying task pending, attempts still 1 (${r.state}, ${r.attempts})`)
      const both = await backend.leaseTasks(lease(queue, ['late']))
      t.same(new Set(both.map(l => l.id)), new Set([scheduled, retried]), 'a worker with the handler leases both')
      t.same(both.map(l => l.attempts).sort(), [1, 2], 'attempts count only real leases')
    })

    conformanceCase(t, 'unrunnable tasks at the head of a queue do not block runnable ones behind them (2,000 ahead)', async t => {
      const queue = ctx.name('head')
      const ahead = 2_000
      for (let done = 0; done < ahead; done += 500) {
        await enqueueIds(backend, Array.from({ length: Math.min(500, ahead - done) }, (_, i) => newTask(queue, { handler: 'nobody', priority: 5, payload: { i: done + i } })))
      }
      const runnable = await enqueueIds(backend, Array.from({ length: 3 }, (_, i) => newTask(queue, { handler: 'mine', payload: { i } })))
      const got: string[] = []
      for (let i = 0; i < 3; i++) {
        const leased = await backend.leaseTasks(lease(queue, ['mine'], 1))
        t.equal(leased.length, 1, `lease ${i + 1} finds a runnable task behind ${ahead} unrunnable ones`)
        got.push(...leased.map(l => l.id))
      }
      t.same(got, runnable, 'all three, in run order')
      t.same(await backend.leaseTasks(lease(queue, ['mine'])), [], 'then nothing')
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { ready: ahead, processing: 3 }, 'the unrunnable tasks are all still ready')
      const sample = await backend.leaseTasks(lease(queue, ['nobody'], 5, 'nobody-worker'))
      t.equal(sample.length, 5, 'a worker with their handler leases them')
      t.ok(sample.every(l => l.attempts === 1), 'no attempt was used while they were skipped')
    })

    conformanceCase(t, 'pendingHandlers answers distinct (queue, handler) pairs of pending tasks', async t => {
      const a = ctx.name('pending-a')
      const b = ctx.name('pending-b')
      const quiet = ctx.name('pending-none')
      t.same(await backend.pendingHandlers({ queues: [a, b, quiet], limit: 100 }), [], 'no tasks: no pairs')
      await enqueueIds(backend, [
        newTask(a, { handler: 'mail' }), newTask(a, { handler: 'mail' }), newTask(a, { handler: 'sms' }),
        newTask(b, { handler: 'mail' })
      ])
      t.same(sortPairs(await backend.pendingHandlers({ queues: [a, b, quiet], limit: 100 })),
        sortPairs([{ queue: a, handler: 'mail' }, { queue: a, handler: 'sms' }, { queue: b, handler: 'mail' }]), 'one pair per queue and handler')
      t.same(sortPairs(await backend.pendingHandlers({ queues: [b], limit: 100 })), [{ queue: b, handler: 'mail' }], 'only the queues asked for')
      t.equal((await backend.pendingHandlers({ queues: [a, b], limit: 2 })).length, 2, 'limit bounds the answer')
      t.same(await backend.pendingHandlers({ queues: [a, b], limit: 0 }), [], 'limit 0: none')
      const [sms] = await backend.leaseTasks(lease(a, ['sms']))
      t.same(await backend.completeTasks([{ id: sms!.id, leaseToken: sms!.leaseToken }]), ['ok'])
      t.same(sortPairs(await backend.pendingHandlers({ queues: [a], limit: 100 })), [{ queue: a, handler: 'mail' }], 'a finished handler drops out')
      const mails = await backend.leaseTasks(lease(a, ['mail']))
      t.equal(mails.length, 2)
      t.same(await backend.pendingHandlers({ queues: [a], limit: 100 }), [], 'processing tasks are not pending')
      t.same(await backend.releaseTasks(mails.map(m => ({ id: m.id, leaseToken: m.leaseToken }))), ['ok', 'ok'])
      t.same(sortPairs(await backend.pendingHandlers({ queues: [a], limit: 100 })), [{ queue: a, handler: 'mail' }], 'released tasks are pending again')
    })

    conformanceCaseNeeding(t, ctx, ['delayedTasks'], 'pendingHandlers counts scheduled and retrying tasks', async t => {
      const queue = ctx.name('pending-later')
      await enqueueOne(backend, newTask(queue, { handler: 'later', delayMs: 60_000 }))
      const id = await enqueueOne(backend, newTask(queue, { handler: 'again' }))
      const [held] = await backend.leaseTasks(lease(queue, ['again']))
      t.same(await backend.failTasks([{ id, leaseToken: held!.leaseToken, error: { message: 'x' }, retryDelayMs: 60_000 }]), ['retrying'])
      t.same(sortPairs(await backend.pendingHandlers({ queues: [queue], limit: 10 })),
        [{ queue, handler: 'again' }, { queue, handler: 'later' }], 'both pending handlers')
    })

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'heartbeatWorker and listWorkers round-trip the handler set', async t => {
      const id = ctx.name('worker')
      const info: WorkerInfo = {
        id, host: 'h', pid: 7, version: '1', queues: ['q'], handlers: ['mail', 'sms'], concurrency: 2, inFlight: 0, startedAt: 1_700_000_000_000, lastHeartbeatAt: 0
      }
      await backend.heartbeatWorker(info, 30_000)
      t.same((await ctx.peer.listWorkers()).find(w => w.id === id)?.handlers, ['mail', 'sms'], 'handlers listed, in order')
      await backend.heartbeatWorker({ ...info, handlers: ['mail', 'sms', 'push'] }, 30_000)
      t.same((await backend.listWorkers()).find(w => w.id === id)?.handlers, ['mail', 'sms', 'push'], 'a later heartbeat updates them')
      await backend.heartbeatWorker({ ...info, handlers: [] }, 30_000)
      t.same((await backend.listWorkers()).find(w => w.id === id)?.handlers, [], 'an empty set round-trips')
      await backend.removeWorker(id)
    })
  }
}
