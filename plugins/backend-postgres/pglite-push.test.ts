// Push delivery on the embedded database (pglite-push.ts, the push enqueue of work.ts):
// an enqueue leases a task that can start at once to an idle worker waiting for it, as
// a lease would, and pushes nothing where a lease call would lease nothing (pauses,
// limits, a cordon) or the task cannot start yet.
import t, { type Test } from 'tap'
import type { Backend, LeasedTask, PushWaitRequest } from '@switchyard/core'
import type { SqlClient } from './sql-client.ts'
import { forwardingClient, memoryBackend, task, waitUntil } from './test-support.ts'

const wait = (extra: Partial<PushWaitRequest> = {}): PushWaitRequest =>
  ({ workerId: 'w1', queues: ['q'], limit: 5, leaseMs: 60_000, handlers: ['test.handler'], waitMs: 5_000, ...extra })

/** statements answered per backend, to see when a wait's lease on registering has come back */
const answered = new WeakMap<Backend, () => number>()

/** an embedded backend (as memoryBackend) that counts the statements it has answered */
async function pushBackend (t: Test): Promise<{ backend: Backend }> {
  let count = 0
  const { backend } = await memoryBackend(t, {
    wrap: (raw: SqlClient): SqlClient => forwardingClient(raw, { query: async (text, params) => { try { return await raw.query(text, params) } finally { count++ } } })
  })
  answered.set(backend, () => count)
  return { backend }
}

/**
 * A wait registered (its lease on registering came back with nothing) before `enqueue`
 * runs: an enqueue planned while that lease is still at the gate finds no waiter and
 * inserts its task ready, which the lease (already read) does not see either.
 */
async function pushedBy (backend: Backend, req: PushWaitRequest, enqueue: () => Promise<unknown>): Promise<LeasedTask[]> {
  const count = answered.get(backend) as () => number
  const before = count()
  const waiting = backend.awaitPushedTasks!(req)
  await waitUntil(async () => count() > before, 'the lease on registering to answer', 30_000)
  // the wait registers in the continuation of that answer
  await new Promise(resolve => setImmediate(resolve))
  await enqueue()
  return await waiting
}

t.test('PGlite declares push delivery', async t => {
  const { backend } = await pushBackend(t)
  t.equal(backend.capabilities.pushDelivery, true)
  t.type(backend.awaitPushedTasks, 'function')
})

t.test('an idle worker gets the new task leased to it, as a lease would lease it', async t => {
  const { backend } = await pushBackend(t)
  const before = Date.now()
  const [leased, ...more] = await pushedBy(backend, wait(), async () => await backend.enqueue([task('q', { payload: { b: 1, a: [2, 'x'] } })]))
  t.same(more, [], 'one task')
  t.match(leased, {
    queue: 'q', handler: 'test.handler', payload: { b: 1, a: [2, 'x'] }, attempts: 1, maxAttempts: 3, priority: 0, timeoutMs: 60_000,
    createdAt: Number, runAt: Number, leaseToken: /^[0-9]+$/, leaseExpiresAt: Number
  })
  const pushed = leased as LeasedTask
  t.ok(pushed.leaseExpiresAt >= before + 59_000, 'the lease runs for the wait\'s leaseMs')
  const stored = await backend.getTask(pushed.id)
  t.match(stored, { state: 'processing', attempts: 1, workerId: 'w1' }, 'stored leased to the waiting worker')
  t.match((await backend.queueStats(['q']))[0], { ready: 0, processing: 1 }, 'counted as processing, never as ready')
  t.same(await backend.leaseTasks(wait()), [], 'no lease call finds it again')
  t.same(await backend.completeTasks([pushed]), ['ok'], 'acked with the pushed lease token')
  t.match((await backend.queueStats(['q']))[0], { processing: 0, succeeded: 1 })
})

t.test('a wait leases what is ready on registering, and pushes at most its free slots', async t => {
  const { backend } = await pushBackend(t)
  await backend.enqueue([task('q')])
  t.equal((await backend.awaitPushedTasks!(wait())).length, 1, 'leased on registering, no wait')
  const pushed = await pushedBy(backend, wait({ limit: 2 }), async () => await backend.enqueue([task('q'), task('q'), task('q')]))
  t.equal(pushed.length, 2, 'two slots, two pushed')
  t.match((await backend.queueStats(['q']))[0], { ready: 1, processing: 3 }, 'the third is ready for anyone')
})

const blocked: Array<[string, (backend: Backend) => Promise<unknown>, Partial<PushWaitRequest>?, Parameters<typeof task>[1]?]> = [
  ['the queue is paused', async b => await b.setQueuePaused('q', true)],
  ['everything is paused', async b => await b.setGlobalPause(true)],
  ['a flow limit is stored', async b => await b.setFlowLimit({ kind: 'queue', name: 'other' }, { concurrency: 5, rate: null })],
  ['a rate limit is stored', async b => await b.setRateLimit({ limit: 1000, windowMs: 1000 })],
  ['the worker is cordoned', async b => await b.setWorkerCordoned('w1', true)],
  ['the task is delayed', async () => {}, {}, { delayMs: 60_000 }],
  ['the task\'s handler is not the worker\'s', async () => {}, { handlers: ['other.handler'] }],
  ['the task\'s queue is not the worker\'s', async () => {}, { queues: ['elsewhere'] }]
]
for (const [why, setUp, extra, overrides] of blocked) {
  t.test(`nothing is pushed when ${why}`, async (t: Test) => {
    const { backend } = await pushBackend(t)
    await backend.ensureQueues(['q'])
    if (why.includes('cordoned')) {
      await backend.heartbeatWorker({ id: 'w1', host: 'h', pid: 1, version: '0', queues: ['q'], handlers: ['test.handler'], concurrency: 5, inFlight: 0, startedAt: 0, lastHeartbeatAt: 0 }, 60_000)
    }
    await setUp(backend)
    const pushed = await pushedBy(backend, wait({ waitMs: 300, ...extra }), async () => await backend.enqueue([task('q', overrides)]))
    t.same(pushed, [], 'the wait ends empty')
    const [stats] = await backend.queueStats(['q'])
    t.equal(stats?.processing, 0, 'nothing leased')
    t.equal((stats?.ready ?? 0) + (stats?.scheduled ?? 0), 1, 'the task waits as any other')
  })
}

t.test('a task whose idempotency key collides is not pushed; the key\'s owner is answered', async t => {
  const { backend } = await pushBackend(t)
  const [owner] = await backend.enqueue([task('q', { idempotencyKey: 'k', delayMs: 60_000 })])
  let answer: unknown
  const pushed = await pushedBy(backend, wait({ waitMs: 300 }), async () => { answer = await backend.enqueue([task('q', { idempotencyKey: 'k' })]) })
  t.same(pushed, [])
  t.same(answer, [{ id: owner?.id, created: false }])
})

t.test('a wait ends empty on its signal, and when the backend closes', async t => {
  const { backend } = await pushBackend(t)
  const controller = new AbortController()
  const waiting = backend.awaitPushedTasks!(wait({ waitMs: 30_000, signal: controller.signal }))
  await new Promise(resolve => setTimeout(resolve, 50))
  const before = performance.now()
  controller.abort()
  t.same(await waiting, [])
  t.ok(performance.now() - before < 1000, 'at once')
  const closing = backend.awaitPushedTasks!(wait({ waitMs: 30_000 }))
  await new Promise(resolve => setTimeout(resolve, 50))
  await backend.close()
  t.same(await closing, [])
})
