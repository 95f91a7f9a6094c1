// A worker's Redis connection is killed (CLIENT KILL from another connection) while it
// holds a lease: the task is never lost. Either the ack goes through once ioredis has
// reconnected, or the worker is gone and the task is recovered after its lease expires.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { waitFor } from '@switchyard/core/testing'
import type { NewTask } from '@switchyard/core'
import { openTestBackend, TEST_REDIS_URL } from './testing.ts'
import { RedisBackend } from './backend.ts'
import { resolveOptions } from './options.ts'

const admin = new Redis(TEST_REDIS_URL)
t.teardown(() => admin.quit())

const task = (queue: string): NewTask => ({ queue, handler: 'h', payload: { n: 1 }, maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null })

async function killConnectionOf (t: Test, backend: RedisBackend): Promise<void> {
  const id = await backend.redis.client('ID') as number
  t.equal(await admin.client('KILL', 'ID', String(id)), 1, 'connection killed')
}

t.test('connection killed while holding a lease: the ack goes through after reconnect', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const id = (await backend.enqueue([task('kill')]))[0]!.id
  const [leased] = await backend.leaseTasks({ workerId: 'w1', queues: ['kill'], limit: 1, leaseMs: 30_000 })
  t.equal(leased?.id, id)
  await killConnectionOf(t, backend)
  t.same(await backend.completeTasks([{ id, leaseToken: leased!.leaseToken }]), ['ok'], 'ack answered ok after reconnecting')
  t.equal((await backend.getTask(id))?.state, 'succeeded')
})

t.test('connection killed and the worker never comes back: recovered after lease expiry, run by another worker', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const other = new RedisBackend(resolveOptions({ url: TEST_REDIS_URL, prefix: backend.keys.base.slice(1, -1) }))
  await other.init()
  t.teardown(() => other.close())
  const id = (await backend.enqueue([task('crash')]))[0]!.id
  const [leased] = await backend.leaseTasks({ workerId: 'doomed', queues: ['crash'], limit: 1, leaseMs: 300 })
  t.equal(leased?.id, id)
  await killConnectionOf(t, backend)
  await backend.close() // the worker process is gone
  const recovered = await waitFor(async () => {
    const r = await other.recoverExpiredLeases(100)
    return r.requeued.includes(id) ? r : undefined
  }, { timeoutMs: 10_000, what: 'the expired lease to be recovered' })
  t.same(recovered.dead, [])
  const [again] = await other.leaseTasks({ workerId: 'survivor', queues: ['crash'], limit: 1, leaseMs: 30_000 })
  t.equal(again?.id, id)
  t.equal(again?.attempts, 2, 'the crashed attempt counts')
  t.same(await other.completeTasks([{ id, leaseToken: leased!.leaseToken }]), ['lease_lost'], 'the old holder is fenced off')
  t.same(await other.completeTasks([{ id, leaseToken: again!.leaseToken }]), ['ok'])
})

t.test('connection killed while lease calls are in flight: every task still completes exactly once as succeeded', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const ids = (await backend.enqueue(Array.from({ length: 50 }, () => task('inflight')))).map((r) => r.id)
  const inflight = Array.from({ length: 5 }, () => backend.leaseTasks({ workerId: 'w', queues: ['inflight'], limit: 5, leaseMs: 400 }).catch(() => []))
  await killConnectionOf(t, backend)
  const firstWave = (await Promise.all(inflight)).flat()
  await backend.completeTasks(firstWave.map((l) => ({ id: l.id, leaseToken: l.leaseToken })))
  // Whatever the kill did to the in-flight calls, recovery plus leasing drains everything.
  await waitFor(async () => {
    await backend.recoverExpiredLeases(100)
    const more = await backend.leaseTasks({ workerId: 'w', queues: ['inflight'], limit: 50, leaseMs: 400 })
    if (more.length > 0) await backend.completeTasks(more.map((l) => ({ id: l.id, leaseToken: l.leaseToken })))
    const [stats] = await backend.queueStats(['inflight'])
    return stats !== undefined && stats.succeeded === ids.length
  }, { timeoutMs: 15_000, intervalMs: 50, what: 'all tasks to succeed' })
  const states = await Promise.all(ids.map(async (id) => (await backend.getTask(id))?.state))
  t.ok(states.every((s) => s === 'succeeded'), 'no task lost')
})
