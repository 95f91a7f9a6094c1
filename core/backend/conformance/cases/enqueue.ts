import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, enqueueOne, leaseId, leaseOne, mustGetTask, newTask, within,
  type ConformanceArea
} from '../support.ts'

export const enqueueArea: ConformanceArea = {
  name: 'enqueue',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'a task round-trips through getTask with every field set', async t => {
      const queue = ctx.name('roundtrip')
      const payload = { text: 'héllo wörld', n: 42, nested: [1, 'two', null, { deep: true }] }
      const before = await backend.now()
      const id = await enqueueOne(backend, newTask(queue, {
        handler: 'conformance.roundtrip',
        payload,
        maxAttempts: 7,
        priority: ctx.capabilities.priorities ? 3 : 0,
        timeoutMs: 12_345
      }))
      const after = await backend.now()
      t.type(id, 'string')
      t.ok(id.length > 0, 'id is not empty')
      const task = await mustGetTask(backend, id)
      t.match(task, {
        id,
        queue,
        handler: 'conformance.roundtrip',
        state: 'ready',
        attempts: 0,
        maxAttempts: 7,
        priority: ctx.capabilities.priorities ? 3 : 0,
        idempotencyKey: null,
        timeoutMs: 12_345,
        lastError: null,
        startedAt: null,
        finishedAt: null,
        leaseExpiresAt: null,
        workerId: null,
        replays: 0
      })
      t.same(task.payload, payload, 'payload round-trips exactly')
      t.same(task.errors, [], 'no errors yet')
      t.equal(task.payloadSize, Buffer.byteLength(JSON.stringify(payload)), 'payloadSize is the byte length of the JSON encoding')
      t.ok(within(task.createdAt, before, after), `createdAt ${task.createdAt} is on the backend clock [${before}, ${after}]`)
      t.ok(within(task.runAt, before, after), `runAt ${task.runAt} defaults to backend-now`)
      t.ok(task.updatedAt >= task.createdAt, 'updatedAt >= createdAt')
      t.equal(await backend.getTask('no-such-task').catch(() => 'threw'), null, 'getTask of an id that does not exist (any shape) answers null')
    })

    conformanceCase(t, 'payloads of every JSON type round-trip through getTask and leaseTasks', async t => {
      const queue = ctx.name('payload-types')
      const payloads: unknown[] = ['a string', 12.5, true, null, [1, [2, [3]]], { 'key with spaces': 'v', emoji: '🚂' }]
      const ids = await enqueueIds(backend, payloads.map(payload => newTask(queue, { payload })))
      for (const [i, id] of ids.entries()) t.same((await mustGetTask(backend, id)).payload, payloads[i], `getTask payload #${i}`)
      const leased = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: payloads.length, leaseMs: 30_000 })
      t.equal(leased.length, payloads.length, 'all leased')
      for (const l of leased) t.same(l.payload, payloads[ids.indexOf(l.id)], `leased payload of ${l.id}`)
    })

    conformanceCase(t, 'a batch returns one result per task, in request order', async t => {
      const queue = ctx.name('batch')
      const results = await backend.enqueue(Array.from({ length: 20 }, (_, i) => newTask(queue, { payload: { i } })))
      t.equal(results.length, 20, '20 results')
      t.ok(results.every(r => r.created), 'every task created')
      t.equal(new Set(results.map(r => r.id)).size, 20, 'distinct ids')
      for (const [i, r] of results.entries()) t.same((await mustGetTask(backend, r.id)).payload, { i }, `result ${i} is the id of task ${i}`)
      t.same(await backend.enqueue([]), [], 'an empty batch answers []')
    })

    conformanceCase(t, 'enqueue registers unknown queues', async t => {
      const queue = ctx.name('registered')
      await enqueueOne(backend, newTask(queue))
      const stats = await backend.queueStats([queue])
      t.equal(stats.length, 1, 'the queue is listed')
      t.match(stats[0], { name: queue, ready: 1 })
    })

    conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], 'idempotency: 100 concurrent enqueues with one key create exactly one task', async t => {
      const queue = ctx.name('idem-concurrent')
      const key = `key-${queue}`
      // half through another client of the same storage, as two nodes racing would
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        (i % 2 === 0 ? backend : ctx.peer).enqueue([newTask(queue, { idempotencyKey: key, payload: { caller: i } })]).then(r => r[0])))
      const ids = new Set(results.map(r => r?.id))
      t.equal(ids.size, 1, 'every caller got the same id')
      t.equal(results.filter(r => r?.created === true).length, 1, 'created=true exactly once')
      const page = await backend.listTasks({ queue, limit: 1000, offset: 0 })
      t.equal(page.tasks.length, 1, 'exactly one task exists in the queue')
      const [stats] = await backend.queueStats([queue])
      t.equal(stats?.ready, 1, 'queueStats counts one ready task')
      t.equal((await mustGetTask(backend, [...ids][0] as string)).idempotencyKey, key, 'the task carries its key')
    })

    conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], 'idempotency: a repeated key inside one batch answers the first task', async t => {
      const queue = ctx.name('idem-batch')
      const results = await backend.enqueue([
        newTask(queue, { idempotencyKey: `a-${queue}`, payload: 1 }),
        newTask(queue, { idempotencyKey: `a-${queue}`, payload: 2 }),
        newTask(queue, { idempotencyKey: `b-${queue}`, payload: 3 })
      ])
      t.equal(results.length, 3)
      t.equal(results[1]?.id, results[0]?.id, 'duplicate key in the batch answers the same id')
      t.same(results.map(r => r.created), [true, false, true], 'created only for the first of each key')
      t.same((await mustGetTask(backend, results[0]?.id as string)).payload, 1, 'the first payload wins')
    })

    conformanceCaseNeeding(t, ctx, ['idempotencyKeys'], 'idempotency: a key stays taken while the task is retained, in any state', async t => {
      const queue = ctx.name('idem-finished')
      const key = `done-${queue}`
      const id = await enqueueOne(backend, newTask(queue, { idempotencyKey: key }))
      const leased = await leaseOne(backend, queue)
      t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken }]), ['ok'])
      const [again] = await backend.enqueue([newTask(queue, { idempotencyKey: key })])
      t.same(again, { id, created: false }, 'a succeeded task still owns its key')
      t.equal((await backend.listTasks({ queue, limit: 10, offset: 0 })).tasks.length, 1, 'no second task')
    })

    conformanceCaseNeeding(t, ctx, ['delayedTasks'], 'a delayed task is scheduled and not leased; a due one is', async t => {
      const queue = ctx.name('delayed')
      const before = await backend.now()
      const [later, due] = await enqueueIds(backend, [
        newTask(queue, { delayMs: 60_000, payload: 'later' }),
        newTask(queue, { payload: 'due' })
      ]) as [string, string]
      const after = await backend.now()
      const laterTask = await mustGetTask(backend, later)
      t.equal(laterTask.state, 'scheduled', 'runAt in the future → scheduled')
      t.ok(within(laterTask.runAt, before + 60_000, after + 60_000), 'runAt = backend-now + delayMs')
      const leased = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 10, leaseMs: 30_000 })
      t.same(leased.map(l => l.id), [due], 'only the due task is leased')
      t.equal((await mustGetTask(backend, later)).state, 'scheduled', 'the delayed task is untouched')
    })

    conformanceCaseNeeding(t, ctx, ['delayedTasks'], 'absolute runAt: past is ready, future is scheduled, a short delay becomes leasable', async t => {
      const queue = ctx.name('run-at')
      const now = await backend.now()
      const [past, future, soon] = await enqueueIds(backend, [
        newTask(queue, { runAt: now - 60_000, payload: 'past' }),
        newTask(queue, { runAt: now + 3_600_000, payload: 'future' }),
        newTask(queue, { delayMs: 300, payload: 'soon' })
      ]) as [string, string, string]
      t.equal((await mustGetTask(backend, past)).state, 'ready', 'runAt in the past → ready')
      t.equal((await mustGetTask(backend, past)).runAt, now - 60_000, 'absolute runAt is stored as given')
      t.equal((await mustGetTask(backend, future)).state, 'scheduled', 'runAt in the future → scheduled')
      t.equal((await mustGetTask(backend, future)).runAt, now + 3_600_000)
      const first = await leaseOne(backend, queue)
      t.equal(first.id, past)
      const leasedSoon = await leaseId(backend, queue, soon)
      const leaseTime = await backend.now()
      t.ok(leaseTime >= leasedSoon.runAt, 'the delayed task was leased only once due')
      t.same(await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 10, leaseMs: 30_000 }), [], 'the future task is never leased')
    })

    conformanceCaseNeeding(t, ctx, ['priorities'], 'priorities: higher first, FIFO within a priority', async t => {
      const queue = ctx.name('priorities')
      const order = [0, 5, 1, 5, 0, 1]
      const ids: string[] = []
      for (const [i, priority] of order.entries()) ids.push(await enqueueOne(backend, newTask(queue, { priority, payload: { i } })))
      const expected = [ids[1], ids[3], ids[2], ids[5], ids[0], ids[4]]
      const leased: string[] = []
      for (let i = 0; i < order.length; i++) leased.push((await leaseOne(backend, queue)).id)
      t.same(leased, expected, 'leased one at a time: 5,5,1,1,0,0 in enqueue order within each priority')
    })

    conformanceCase(t, 'FIFO within a priority, across calls and within a batch', async t => {
      const queue = ctx.name('fifo')
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push(await enqueueOne(backend, newTask(queue, { payload: { i } })))
      ids.push(...await enqueueIds(backend, Array.from({ length: 5 }, (_, i) => newTask(queue, { payload: { i: i + 5 } }))))
      const leased: string[] = []
      for (let i = 0; i < ids.length; i++) leased.push((await leaseOne(backend, queue)).id)
      t.same(leased, ids, 'leased in enqueue order')
    })
  }
}
