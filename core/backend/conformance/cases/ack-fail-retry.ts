import {
  conformanceCase, enqueueIds, enqueueOne, leaseId, leaseOne, mustGetTask, newTask, within,
  type ConformanceArea
} from '../support.ts'

export const ackFailRetryArea: ConformanceArea = {
  name: 'ack-fail-retry',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCase(t, 'completeTasks: succeeded with finishedAt', async t => {
      const queue = ctx.name('complete')
      const id = await enqueueOne(backend, newTask(queue))
      const leased = await leaseOne(backend, queue)
      const before = await backend.now()
      t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken }]), ['ok'])
      const after = await backend.now()
      const task = await mustGetTask(backend, id)
      t.equal(task.state, 'succeeded')
      t.ok(within(task.finishedAt, before, after), 'finishedAt is the completion time')
      t.equal(task.attempts, 1)
      t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken }]), ['lease_lost'], 'a second ack with the same token is lease_lost')
      t.equal((await mustGetTask(backend, id)).state, 'succeeded', 'still succeeded')
      t.same(await backend.completeTasks([]), [], 'an empty batch answers []')
    })

    conformanceCase(t, 'failTasks with a delay: retrying at backend-now + delay, error recorded', async t => {
      const queue = ctx.name('retry')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 3 }))
      const leased = await leaseOne(backend, queue)
      const before = await backend.now()
      t.same(await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: 'first failure', stack: 'Error: first failure\n    at handler' }, retryDelayMs: 5_000 }]), ['retrying'])
      const after = await backend.now()
      const task = await mustGetTask(backend, id)
      t.equal(task.state, 'retrying')
      t.ok(within(task.runAt, before + 5_000, after + 5_000), `runAt ${task.runAt} ≈ now + 5000 [${before + 5_000}, ${after + 5_000}]`)
      t.equal(task.lastError, 'first failure')
      t.equal(task.errors.length, 1, 'one error recorded')
      t.match(task.errors[0], { attempt: 1, message: 'first failure', stack: 'Error: first failure\n    at handler' })
      t.ok(within(task.errors[0]?.at, before, after), 'error time on the backend clock')
      t.equal(task.finishedAt, null, 'a retrying task is not finished')
      t.same(await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 }), [], 'not leased during its backoff')
      const [stats] = await backend.queueStats([queue])
      t.match(stats, { retrying: 1, ready: 0, processing: 0 })
    })

    conformanceCase(t, 'failTasks with retryDelayMs null: dead', async t => {
      const queue = ctx.name('fatal')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 5 }))
      const leased = await leaseOne(backend, queue)
      t.same(await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: 'fatal' }, retryDelayMs: null }]), ['dead'])
      const task = await mustGetTask(backend, id)
      t.match(task, { state: 'dead', lastError: 'fatal', attempts: 1 })
      t.ok(task.finishedAt !== null, 'finishedAt set')
      t.same(await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 5, leaseMs: 30_000 }), [], 'a dead task is never leased')
    })

    conformanceCase(t, 'errors: most recent first, one per attempt', async t => {
      const queue = ctx.name('errors')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 4 }))
      for (let attempt = 1; attempt <= 3; attempt++) {
        const leased = await leaseId(backend, queue, id)
        await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: `failure ${attempt}` }, retryDelayMs: 0 }])
      }
      const task = await mustGetTask(backend, id)
      t.same(task.errors.map(e => [e.attempt, e.message]), [[3, 'failure 3'], [2, 'failure 2'], [1, 'failure 1']])
      t.equal(task.lastError, 'failure 3')
    })

    conformanceCase(t, 'a batch with one wrong token (another lease\'s): the others still succeed', async t => {
      const queue = ctx.name('batch-stale')
      const ids = await enqueueIds(backend, Array.from({ length: 6 }, () => newTask(queue)))
      const leased = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 6, leaseMs: 30_000 })
      t.equal(leased.length, 6)
      const [a, b, c, d, e, f] = ids.map(id => leased.find(l => l.id === id)!)
      const acks = await backend.completeTasks([
        { id: a!.id, leaseToken: a!.leaseToken },
        { id: b!.id, leaseToken: a!.leaseToken },
        { id: c!.id, leaseToken: c!.leaseToken }
      ])
      t.same(acks, ['ok', 'lease_lost', 'ok'], 'complete outcomes in request order')
      t.equal((await mustGetTask(backend, b!.id)).state, 'processing', 'the stale one is untouched')
      const fails = await backend.failTasks([
        { id: d!.id, leaseToken: e!.leaseToken, error: { message: 'x' }, retryDelayMs: null },
        { id: e!.id, leaseToken: e!.leaseToken, error: { message: 'x' }, retryDelayMs: null },
        { id: f!.id, leaseToken: f!.leaseToken, error: { message: 'y' }, retryDelayMs: 60_000 }
      ])
      t.same(fails, ['lease_lost', 'dead', 'retrying'], 'fail outcomes in request order')
      t.same(await Promise.all(ids.map(async id => (await mustGetTask(backend, id)).state)),
        ['succeeded', 'processing', 'succeeded', 'processing', 'dead', 'retrying'])
      t.same(await backend.completeTasks([{ id: b!.id, leaseToken: b!.leaseToken }]), ['ok'], 'the real holder still acks')
    })

    conformanceCase(t, 'extendLeases moves the expiry forward; stale refs get null', async t => {
      const queue = ctx.name('extend')
      const [one, two] = await enqueueIds(backend, [newTask(queue), newTask(queue)]) as [string, string]
      const first = await leaseId(backend, queue, one, 5_000)
      const second = await leaseId(backend, queue, two, 5_000)
      const before = await backend.now()
      const expiries = await backend.extendLeases([
        { id: one, leaseToken: first.leaseToken },
        { id: two, leaseToken: first.leaseToken }
      ], 60_000)
      const after = await backend.now()
      t.equal(expiries.length, 2)
      t.ok(within(expiries[0], before + 60_000, after + 60_000), 'new expiry = backend-now + leaseMs')
      t.ok((expiries[0] ?? 0) > first.leaseExpiresAt, 'moved forward')
      t.equal(expiries[1], null, 'stale token → null')
      t.equal((await mustGetTask(backend, one)).leaseExpiresAt, expiries[0], 'stored expiry is the one answered')
      t.equal((await mustGetTask(backend, two)).leaseExpiresAt, second.leaseExpiresAt, 'the stale one is unchanged')
      t.same((await backend.recoverExpiredLeases(100)).requeued.filter(id => id === one), [], 'an extended lease is not recovered')
    })

    conformanceCase(t, 'releaseTasks returns the task to ready without consuming the attempt', async t => {
      const queue = ctx.name('release')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      const leased = await leaseOne(backend, queue)
      t.equal(leased.attempts, 1)
      t.same(await backend.releaseTasks([{ id, leaseToken: leased.leaseToken }]), ['ok'])
      const task = await mustGetTask(backend, id)
      t.match(task, { state: 'ready', attempts: 0, leaseExpiresAt: null })
      const again = await leaseId(backend, queue, id)
      t.equal(again.attempts, 1, 'the next lease is attempt 1 again')
      t.not(again.leaseToken, leased.leaseToken, 'a new token')
      t.same(await backend.completeTasks([{ id, leaseToken: leased.leaseToken }]), ['lease_lost'], 'the released token is dead')
      t.same(await backend.releaseTasks([{ id, leaseToken: leased.leaseToken }]), ['lease_lost'], 'releasing twice is lease_lost')
      t.same(await backend.completeTasks([{ id, leaseToken: again.leaseToken }]), ['ok'])
    })

    conformanceCase(t, 'a retrying task becomes leasable when its backoff ends', async t => {
      const queue = ctx.name('backoff')
      const id = await enqueueOne(backend, newTask(queue, { maxAttempts: 2 }))
      const leased = await leaseOne(backend, queue)
      await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: 'later' }, retryDelayMs: 300 }])
      const runAt = (await mustGetTask(backend, id)).runAt
      const again = await leaseId(backend, queue, id)
      t.ok(await backend.now() >= runAt, 'leased only once its runAt passed')
      t.equal(again.attempts, 2)
      t.same(await backend.failTasks([{ id, leaseToken: again.leaseToken, error: { message: 'last' }, retryDelayMs: null }]), ['dead'])
      t.equal((await mustGetTask(backend, id)).errors.length, 2)
    })
  }
}
