// What a lease writes besides BullMQ's move to active, on each way a job is taken
// (lease-jobs.lua, complete-and-fetch.lua's fetch-next, push delivery): the lease expiry
// field syx, and the retry mark cleared, which lease-jobs.lua and the push look for with
// one EXISTS shared with other checks (on the first queue named only, for lease-jobs.lua),
// and BullMQ's own lock and processedBy from the options each way packs.
import t, { type Test } from 'tap'
import type { LeasedTask, NewTask } from '@switchyard/core'
import { testBackend, type TestBackend } from './test-support.ts'
import type { BullMQBackend } from './backend.ts'


const task = (queue: string, i = 0): NewTask => ({
  queue, handler: 'h', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null
})

const setup = async (t: Test): Promise<TestBackend> => await testBackend(t, 'sywrites')

const lease = async (backend: BullMQBackend, queues: string[], limit = 10): Promise<LeasedTask[]> =>
  await backend.leaseTasks({ workerId: 'w1', queues, limit, leaseMs: 30_000, handlers: ['h'] })

/**
 * the job's syx is the expiry the lease answered, and the task reads as processing until then;
 * BullMQ's lock holds the lease token for the lease length and processedBy names the worker
 * (moveToActive's packed options, which lib/lease-take.lua assembles from parts)
 */
async function expiryStored (t: Test, s: TestBackend, leased: LeasedTask): Promise<void> {
  const jobKey = `${s.prefix}:${leased.queue}:${leased.id}`
  t.equal(await s.redis.hget(jobKey, 'syx'), String(leased.leaseExpiresAt), `${leased.id}: syx is the lease's expiry`)
  t.equal(await s.redis.get(`${jobKey}:lock`), leased.leaseToken, `${leased.id}: BullMQ lock held by the lease token`)
  const ttl = await s.redis.pttl(`${jobKey}:lock`)
  t.ok(ttl > 25_000 && ttl <= 30_000, `${leased.id}: lock for the lease length (${ttl} ms left)`)
  t.equal(await s.redis.hget(jobKey, 'pb'), 'w1', `${leased.id}: processedBy is the worker`)
  const stored = await s.backend.getTask(leased.id)
  t.equal(stored?.state, 'processing')
  t.equal(stored?.leaseExpiresAt, leased.leaseExpiresAt)
}

t.test('leaseTasks: each job taken gets its expiry', async (t) => {
  const s = await setup(t)
  await s.backend.enqueue([task('q'), task('q', 1), task('q', 2)])
  const leased = await lease(s.backend, ['q'])
  t.equal(leased.length, 3)
  for (const one of leased) await expiryStored(t, s, one)
})

t.test('completeAndLease: the job fetch-next takes gets its expiry', async (t) => {
  const s = await setup(t)
  await s.backend.enqueue([task('q'), task('q', 1), task('q', 2)])
  const [first] = await lease(s.backend, ['q'], 1)
  const { acks, leased } = await s.backend.completeAndLease!([{ id: first!.id, leaseToken: first!.leaseToken }], { workerId: 'w1', queues: ['q'], limit: 2, leaseMs: 30_000, handlers: ['h'] })
  t.same(acks, ['ok'])
  t.equal(leased.length, 2)
  for (const one of leased) await expiryStored(t, s, one)
})

t.test('push delivery: the job pushed gets its expiry', async (t) => {
  const s = await setup(t)
  const waiting = s.backend.awaitPushedTasks({ workerId: 'w1', queues: ['q'], limit: 5, leaseMs: 30_000, handlers: ['h'], waitMs: 3000 })
  for (let i = 0; i < 1000 && await s.redis.sismember(`${s.prefix}::sy:pi:q`, 'w1') === 0; i++) await new Promise(resolve => setTimeout(resolve, 2))
  await new Promise(resolve => setTimeout(resolve, 50))
  await s.backend.enqueue([task('q')])
  const pushed = await waiting
  t.equal(pushed.length, 1)
  await expiryStored(t, s, pushed[0]!)
})

/** a task leased, failed with a backoff (retry-marked), then due again */
async function retried (t: Test, s: TestBackend, queue: string): Promise<string> {
  const [ran] = await lease(s.backend, [queue], 1)
  t.same(await s.backend.failTasks([{ id: ran!.id, leaseToken: ran!.leaseToken, error: { message: 'again' }, retryDelayMs: 30 }]), ['retrying'])
  t.equal(await s.redis.sismember(`${s.prefix}::sy:retry:${queue}`, ran!.id), 1, 'retry-marked')
  await new Promise(resolve => setTimeout(resolve, 60))
  return ran!.id
}

t.test('a retry-marked job leased again leaves the retry set, from the first queue or a later one', async (t) => {
  const s = await setup(t)
  await s.backend.enqueue([task('first'), task('later')])
  const first = await retried(t, s, 'first')
  const later = await retried(t, s, 'later')
  const leased = await lease(s.backend, ['first'])
  t.same(leased.map(one => one.id), [first])
  t.equal(await s.redis.sismember(`${s.prefix}::sy:retry:first`, first), 0, 'first queue: mark cleared')
  // 'first' is empty now: the job comes from the second queue named, whose retry set the first EXISTS did not cover
  const again = await lease(s.backend, ['first', 'later'])
  t.same(again.map(one => one.id), [later])
  t.equal(await s.redis.sismember(`${s.prefix}::sy:retry:later`, later), 0, 'later queue: mark cleared')
  for (const one of [...leased, ...again]) await expiryStored(t, s, one)
})

t.test('a retry-marked job fetched by an ack leaves the retry set', async (t) => {
  const s = await setup(t)
  await s.backend.enqueue([task('q'), task('q', 1)])
  const marked = await retried(t, s, 'q')
  const [other] = await lease(s.backend, ['q'], 1)
  t.not(other!.id, marked)
  const { leased } = await s.backend.completeAndLease!([{ id: other!.id, leaseToken: other!.leaseToken }], { workerId: 'w1', queues: ['q'], limit: 1, leaseMs: 30_000, handlers: ['h'] })
  t.same(leased.map(one => one.id), [marked])
  t.equal(await s.redis.sismember(`${s.prefix}::sy:retry:q`, marked), 0, 'mark cleared')
})
