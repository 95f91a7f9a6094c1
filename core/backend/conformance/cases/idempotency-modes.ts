import type { Test } from 'tap'
import type { IdempotencyMode } from '../../types.ts'
import {
  conformanceCaseNeeding, enqueueOne, leaseId, mustGetTask, newTask,
  type ConformanceArea, type ConformanceContext
} from '../support.ts'

// Idempotency key modes on enqueue (reject, replace, preserve_run_at) and keys as
// handles (getTaskByKey). A replace updates a task that has not started (scheduled or
// ready, attempts 0) in place; anything else is left as is and reported.

const HOUR = 3600_000

function modeCase (t: Test, ctx: ConformanceContext, mode: IdempotencyMode, name: string, fn: (t: Test) => Promise<void>): void {
  if (ctx.capabilities.idempotencyModes?.includes(mode) !== true) {
    t.test(name, { skip: `backend does not declare idempotency mode ${mode}` }, async () => {})
    return
  }
  conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], name, fn)
}

export const idempotencyModesArea: ConformanceArea = {
  name: 'idempotency-modes',
  run (t, ctx) {
    const { backend } = ctx
    const key = (label: string): string => ctx.name(`key-${label}`)

    conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], 'reject (the default): the existing task wins unchanged', async t => {
      const queue = ctx.name('reject')
      const k = key('reject')
      const id = await enqueueOne(backend, newTask(queue, { idempotencyKey: k, payload: { v: 1 } }))
      const [again] = await backend.enqueue([newTask(queue, { idempotencyKey: k, payload: { v: 2 } })])
      t.equal(again?.id, id, 'answers the existing id')
      t.equal(again?.created, false, 'created: false')
      t.ok(again?.outcome === undefined || again.outcome === 'existing', 'outcome existing (or left to core)')
      const [explicit] = await backend.enqueue([newTask(queue, { idempotencyKey: k, idempotencyMode: 'reject', payload: { v: 3 } })])
      t.equal(explicit?.id, id, 'mode reject given explicitly: same')
      t.same((await mustGetTask(backend, id)).payload, { v: 1 }, 'payload unchanged')
    })

    modeCase(t, ctx, 'replace', 'replace updates a ready task in place: payload, priority, maxAttempts, timeoutMs, runAt', async t => {
      const queue = ctx.name('replace-ready')
      const k = key('replace-ready')
      const id = await enqueueOne(backend, newTask(queue, { idempotencyKey: k, payload: { v: 1 }, maxAttempts: 3, timeoutMs: 10_000, priority: 0 }))
      const before = await mustGetTask(backend, id)
      const priority = ctx.capabilities.priorities ? 5 : 0
      const [result] = await backend.enqueue([newTask(queue, { idempotencyKey: k, idempotencyMode: 'replace', payload: { v: 2 }, maxAttempts: 9, timeoutMs: 20_000, priority })])
      t.match(result, { id, created: false, outcome: 'replaced' }, 'reported as replaced, same id')
      const after = await mustGetTask(backend, id)
      t.same(after.payload, { v: 2 }, 'payload replaced')
      t.match(after, { state: 'ready', attempts: 0, maxAttempts: 9, timeoutMs: 20_000, priority, queue, idempotencyKey: k })
      t.ok(after.runAt >= before.runAt, 'runAt is the new request\'s (now)')
      const leased = await leaseId(backend, queue, id)
      t.same(leased.payload, { v: 2 }, 'a worker gets the replaced payload')
    })

    modeCase(t, ctx, 'replace', 'replace moves runAt: a scheduled task becomes ready, a ready one scheduled', async t => {
      const queue = ctx.name('replace-runat')
      const k1 = key('replace-runat-1')
      const k2 = key('replace-runat-2')
      const [a, b] = await backend.enqueue([
        newTask(queue, { idempotencyKey: k1, delayMs: HOUR }),
        newTask(queue, { idempotencyKey: k2 })
      ])
      t.equal((await mustGetTask(backend, a!.id)).state, 'scheduled')
      const now = await backend.now()
      const results = await backend.enqueue([
        newTask(queue, { idempotencyKey: k1, idempotencyMode: 'replace', payload: { moved: 'now' } }),
        newTask(queue, { idempotencyKey: k2, idempotencyMode: 'replace', runAt: now + HOUR })
      ])
      t.match(results, [{ id: a!.id, outcome: 'replaced' }, { id: b!.id, outcome: 'replaced' }])
      const first = await mustGetTask(backend, a!.id)
      t.equal(first.state, 'ready', 'the scheduled task is ready now')
      t.ok(first.runAt <= now + 1000, 'its runAt is now')
      const second = await mustGetTask(backend, b!.id)
      t.equal(second.state, 'scheduled', 'the ready task is scheduled')
      t.ok(Math.abs(second.runAt - (now + HOUR)) < 1000, 'at the new runAt')
      const leased = await leaseId(backend, queue, a!.id)
      t.same(leased.payload, { moved: 'now' }, 'the task made ready can be leased')
      const more = await backend.leaseTasks({ workerId: 'conformance-worker', queues: [queue], limit: 10, leaseMs: 30_000 })
      t.same(more.map(l => l.id), [], 'the task made scheduled is not leased')
    })

    modeCase(t, ctx, 'preserve_run_at', 'preserve_run_at replaces the task but keeps its runAt', async t => {
      const queue = ctx.name('preserve')
      const k = key('preserve')
      const id = await enqueueOne(backend, newTask(queue, { idempotencyKey: k, delayMs: HOUR, payload: { v: 1 } }))
      const before = await mustGetTask(backend, id)
      const [result] = await backend.enqueue([newTask(queue, { idempotencyKey: k, idempotencyMode: 'preserve_run_at', payload: { v: 2 }, maxAttempts: 4 })])
      t.match(result, { id, created: false, outcome: 'replaced' })
      const after = await mustGetTask(backend, id)
      t.same(after.payload, { v: 2 }, 'payload replaced')
      t.equal(after.maxAttempts, 4, 'maxAttempts replaced')
      t.equal(after.state, 'scheduled', 'still scheduled')
      t.ok(Math.abs(after.runAt - before.runAt) < 2, `runAt kept (${before.runAt} -> ${after.runAt})`)
    })

    modeCase(t, ctx, 'replace', 'replace leaves a started or finished task as is and reports its state', async t => {
      const queue = ctx.name('replace-started')
      const k1 = key('replace-processing')
      const k2 = key('replace-succeeded')
      const running = await enqueueOne(backend, newTask(queue, { idempotencyKey: k1, payload: { v: 1 } }))
      await leaseId(backend, queue, running)
      const done = await enqueueOne(backend, newTask(queue, { idempotencyKey: k2, payload: { v: 1 } }))
      const leased = await leaseId(backend, queue, done)
      t.same(await backend.completeTasks([{ id: done, leaseToken: leased.leaseToken }]), ['ok'])
      const results = await backend.enqueue([
        newTask(queue, { idempotencyKey: k1, idempotencyMode: 'replace', payload: { v: 2 } }),
        newTask(queue, { idempotencyKey: k2, idempotencyMode: 'preserve_run_at', payload: { v: 2 } })
      ])
      t.match(results, [
        { id: running, created: false, outcome: 'existing', state: 'processing' },
        { id: done, created: false, outcome: 'existing', state: 'succeeded' }
      ])
      t.same((await mustGetTask(backend, running)).payload, { v: 1 }, 'the running task is unchanged')
      t.same((await mustGetTask(backend, done)).payload, { v: 1 }, 'the finished task is unchanged')
    })

    modeCase(t, ctx, 'replace', 'replace with a free key creates; a key repeated in one batch ends with the last', async t => {
      const queue = ctx.name('replace-batch')
      const k = key('replace-batch')
      const results = await backend.enqueue([
        newTask(queue, { idempotencyKey: k, idempotencyMode: 'replace', payload: { v: 1 } }),
        newTask(queue, { idempotencyKey: k, idempotencyMode: 'replace', payload: { v: 2 } })
      ])
      t.match(results[0], { created: true }, 'the first creates')
      t.ok(results[0]?.outcome === undefined || results[0].outcome === 'created', 'outcome created (or left to core)')
      t.match(results[1], { id: results[0]?.id, created: false, outcome: 'replaced' }, 'the second replaces it')
      t.same((await mustGetTask(backend, results[0]!.id)).payload, { v: 2 }, 'the last payload stays')
      const listed = await backend.listTasks({ queue, limit: 10, offset: 0 })
      t.equal(listed.tasks.length, 1, 'one task in the queue')
    })

    modeCase(t, ctx, 'replace', 'replace keeps the counts: the queue still holds one task', async t => {
      const queue = ctx.name('replace-counts')
      const k = key('replace-counts')
      await enqueueOne(backend, newTask(queue, { idempotencyKey: k, delayMs: HOUR }))
      await backend.enqueue([newTask(queue, { idempotencyKey: k, idempotencyMode: 'replace' })])
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { name: queue, ready: 1, scheduled: 0 }, 'counted as ready, no longer scheduled')
    })

    modeCase(t, ctx, 'replace', 'a replace racing a lease (another node): the task a worker got is the task that is stored', async t => {
      const queue = ctx.name('replace-race')
      const n = 30
      const keys = Array.from({ length: n }, (_, i) => key(`race-${i}`))
      const ids = (await backend.enqueue(keys.map((k, i) => newTask(queue, { idempotencyKey: k, payload: { i, v: 'old' } })))).map(r => r.id)
      const [leased, replaced] = await Promise.all([
        (async () => {
          const got = []
          for (let round = 0; round < 10 && got.length < n; round++) {
            got.push(...await ctx.peer.leaseTasks({ workerId: 'racer', queues: [queue], limit: 5, leaseMs: 30_000 }))
          }
          return got
        })(),
        backend.enqueue(keys.map((k, i) => newTask(queue, { idempotencyKey: k, idempotencyMode: 'replace', payload: { i, v: 'new' } })))
      ])
      const outcomes = new Map(replaced.map(r => [r.id, r]))
      for (const l of leased) {
        const stored = await mustGetTask(backend, l.id)
        t.same(stored.payload, l.payload, `task ${l.id}: the payload the worker got is the stored one`)
        const r = outcomes.get(l.id)
        if (r?.outcome === 'replaced') t.same(l.payload, { i: (l.payload as { i: number }).i, v: 'new' }, `task ${l.id} was replaced before the lease: the worker got the new payload`)
        else t.match(r, { outcome: 'existing', state: 'processing' }, `task ${l.id} was leased first: the replace left it`)
      }
      for (const id of ids) {
        if (leased.some(l => l.id === id)) continue
        t.match(await mustGetTask(backend, id), { state: 'ready', payload: { v: 'new' } }, `task ${id}, not leased, was replaced`)
      }
    })

    conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], 'getTaskByKey finds the task holding a key, and null once it is gone', async t => {
      const queue = ctx.name('by-key')
      const k = key('by-key')
      t.equal(await backend.getTaskByKey(k), null, 'an unknown key: null')
      const id = await enqueueOne(backend, newTask(queue, { idempotencyKey: k, payload: { v: 1 } }))
      const task = await backend.getTaskByKey(k)
      t.match(task, { id, queue, idempotencyKey: k, state: 'ready' }, 'the task of the key')
      t.same(task?.payload, { v: 1 })
      t.same(await backend.cancelTask(id), { outcome: 'canceled' })
      t.match(await backend.getTaskByKey(k), { id, state: 'canceled' }, 'a canceled task keeps its key')
      const deleted = await backend.deleteTasks({ ids: [id], fromStates: ['canceled'] })
      t.same(deleted.deleted, [id])
      t.equal(await backend.getTaskByKey(k), null, 'a deleted task frees its key')
      const again = await enqueueOne(backend, newTask(queue, { idempotencyKey: k, payload: { v: 2 } }))
      const reused = await backend.getTaskByKey(k)
      t.match(reused, { id: again, state: 'ready' }, 'the key can be used again (by a new task; its id may repeat)')
      t.same(reused?.payload, { v: 2 })
    })
  }
}
