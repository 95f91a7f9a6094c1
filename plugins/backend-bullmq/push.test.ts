// Push delivery (awaitPushedTasks, push-delivery.ts, lua/lib/push-lease.lua) against a real
// Redis: the add of fresh ready jobs leases them with BullMQ's moveToActive straight to
// an idle worker's inbox; everything else is left to leases as before.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { NewTask } from '@switchyard/core'
import { createBullMQBackend } from './index.ts'
import type { BullMQBackend } from './backend.ts'

const URL = 'redis://127.0.0.1:6379'

const task = (queue: string, i = 0, extra: Partial<NewTask> = {}): NewTask => ({
  queue, handler: 'h', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null, ...extra
})

interface Setup { backend: BullMQBackend, producer: BullMQBackend, redis: Redis, prefix: string, own: string }

/** the worker's backend, a producer's backend on the same keys (another process), and a plain client */
async function setup (t: Test): Promise<Setup> {
  const prefix = `sypush${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ url: URL, prefix })
  const producer = createBullMQBackend({ url: URL, prefix })
  const redis = new Redis(URL, { maxRetriesPerRequest: null })
  t.teardown(async () => {
    await backend.destroyAllData()
    await backend.close()
    await producer.close()
    redis.disconnect()
  })
  await backend.init()
  await producer.init()
  return { backend, producer, redis, prefix, own: backend.keys.own }
}

const wait = async (backend: BullMQBackend, queue: string, extra: { waitMs?: number, limit?: number, workerId?: string, handlers?: string[], signal?: AbortSignal, leaseMs?: number } = {}) =>
  await backend.awaitPushedTasks({ workerId: extra.workerId ?? 'w1', queues: [queue], limit: extra.limit ?? 5, leaseMs: extra.leaseMs ?? 30_000, handlers: extra.handlers ?? ['h'], waitMs: extra.waitMs ?? 2000, ...(extra.signal === undefined ? {} : { signal: extra.signal }) })

/**
 * Resolves once the worker is registered as idle for the queue (its registration joined
 * the queue's set) and the lease it sends on registering has had time to come back, so
 * what a test enqueues next meets the blocking wait, not that lease.
 */
async function registered (s: Setup, queue: string, workerId = 'w1'): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await s.redis.sismember(`${s.own}pi:${queue}`, workerId) === 1) {
      await new Promise(resolve => setTimeout(resolve, 50))
      return
    }
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  throw new Error('worker never registered')
}

t.test('capability declared and the method offered', async (t) => {
  const s = await setup(t)
  t.equal(s.backend.capabilities.pushDelivery, true)
  t.type(s.backend.awaitPushedTasks, 'function')
})

t.test('a task enqueued while a worker waits is leased to it by the add, as a lease would', async (t) => {
  const s = await setup(t)
  const waiting = wait(s.backend, 'push')
  await registered(s, 'push')
  const [result] = await s.producer.enqueue([task('push', 7)])
  const got = await waiting
  t.equal(got.length, 1)
  t.match(got[0], { id: result!.id, queue: 'push', handler: 'h', payload: { i: 7 }, attempts: 1, maxAttempts: 3 })
  t.type(got[0]!.leaseToken, 'string')
  t.ok(got[0]!.leaseExpiresAt > Date.now() + 20_000, 'lease expiry as asked')
  // a lease script's tokens are "<uuid>:<call>:<n>"; the add's push makes "p<seq>:<n>"
  t.match(got[0]!.leaseToken, /^p\d+:1$/, 'leased by the add, not by a lease script')
  const stored = await s.backend.getTask(result!.id)
  t.match(stored, { state: 'processing', attempts: 1 })
  const job = await s.redis.hgetall(`${s.prefix}:push:${result!.id}`)
  t.equal(job.syx, String(got[0]!.leaseExpiresAt), 'lease expiry field written')
  t.equal(job.ats, '1', 'attempts started, as moveToActive counts them')
  t.equal(job.pb, 'w1', 'processed by the worker')
  t.ok(Number(job.processedOn) > 0, 'processedOn stamped')
  t.equal(await s.redis.get(`${s.prefix}:push:${result!.id}:lock`), got[0]!.leaseToken, 'BullMQ lock held by the lease token')
  const [stats] = await s.backend.queueStats(['push'])
  t.match(stats, { ready: 0, processing: 1 })
  t.same(await s.backend.completeTasks([{ id: got[0]!.id, leaseToken: got[0]!.leaseToken }]), ['ok'], 'its lease token completes it')
  t.match(await s.backend.getTask(result!.id), { state: 'succeeded' })
  t.equal(await s.redis.exists(`${s.own}pw:w1`, `${s.own}pi:push`, `${s.own}pb:w1`), 0, 'unregistered, inbox gone')
  const [after] = await s.backend.queueStats(['push'])
  t.match(after, { ready: 0, processing: 0 }, 'kept counts follow the push')
})

t.test('a push sends no wake-up; a task left ready does', async (t) => {
  const s = await setup(t)
  const heard: string[] = []
  const unsubscribe = await s.backend.subscribeWork(queue => heard.push(queue))
  t.teardown(unsubscribe)
  const waiting = wait(s.backend, 'wake', { limit: 1 })
  await registered(s, 'wake')
  await s.producer.enqueue([task('wake', 1)])
  t.equal((await waiting).length, 1)
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(heard, [], 'pushed: nobody woken')
  await s.producer.enqueue([task('wake', 2)])
  for (let i = 0; i < 200 && heard.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.same(heard, ['wake'], 'no idle worker: the queue announced')
})

t.test('what is ready before the wait is leased at once; the wait times out empty', async (t) => {
  const s = await setup(t)
  await s.backend.enqueue([task('pre', 1)])
  const got = await wait(s.backend, 'pre')
  t.equal(got.length, 1, 'leased on registering')
  const started = performance.now()
  t.same(await wait(s.backend, 'pre', { waitMs: 100 }), [])
  t.ok(performance.now() - started >= 90, 'waited its waitMs')
})

t.test('no push to a worker of another handler, a paused queue, a cordoned worker, or with flow, rate limits or a global pause', async (t) => {
  const s = await setup(t)
  const noPush = async (what: string, queue: string, before: () => Promise<void>, options: { handlers?: string[] } = {}): Promise<void> => {
    await before()
    const waiting = wait(s.backend, queue, { waitMs: 300, ...options })
    await registered(s, queue)
    await s.producer.enqueue([task(queue)])
    t.same(await waiting, [], `${what}: nothing pushed`)
    const [stats] = await s.backend.queueStats([queue])
    t.equal(stats!.ready, 1, `${what}: the task is ready`)
  }
  await noPush('another handler', 'other', async () => {}, { handlers: ['not-h'] })
  await noPush('paused queue', 'paused', async () => { await s.backend.setQueuePaused('paused', true) })
  await s.backend.heartbeatWorker({ id: 'w1', host: 'x', pid: 1, version: '0', queues: ['cordon'], handlers: ['h'], concurrency: 1, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now() }, 60_000)
  await noPush('cordoned worker', 'cordon', async () => { t.equal(await s.backend.setWorkerCordoned('w1', true), true) })
  await s.backend.setWorkerCordoned('w1', false)
  await noPush('global pause', 'gpause', async () => { await s.backend.setGlobalPause(true) })
  await s.backend.setGlobalPause(false)
  await noPush('rate limit stored', 'rate', async () => { await s.backend.setRateLimit({ limit: 1000, windowMs: 1000 }) })
  await s.backend.setRateLimit(null)
  await noPush('flow limit stored', 'flow', async () => { await s.backend.setFlowLimit({ kind: 'handler', name: 'unrelated' }, { concurrency: 5, rate: null }) })
})

t.test('a wait ending as a task is pushed: nothing lost, nothing leased twice', async (t) => {
  const s = await setup(t)
  const rounds = 200
  const seen = new Map<string, number>()
  const ids: string[] = []
  for (let i = 0; i < rounds; i++) {
    // the wait times out after 1-3 ms while the enqueue lands around the same moment
    const waiting = wait(s.backend, 'race', { waitMs: 1 + (i % 3), limit: 1 })
    await new Promise(resolve => setTimeout(resolve, i % 4))
    const [result] = await s.producer.enqueue([task('race', i)])
    ids.push(result!.id)
    for (const got of await waiting) seen.set(got.id, (seen.get(got.id) ?? 0) + 1)
  }
  // what the waits did not take is ready for the next lease, never stranded
  const rest = await s.backend.leaseTasks({ workerId: 'w1', queues: ['race'], limit: 1000, leaseMs: 30_000 })
  for (const got of rest) seen.set(got.id, (seen.get(got.id) ?? 0) + 1)
  t.equal(seen.size, rounds, 'every task taken')
  t.ok([...seen.values()].every(n => n === 1), 'each once')
  t.same(ids.filter(id => !seen.has(id)), [])
  t.equal(await s.redis.exists(`${s.own}pw:w1`, `${s.own}pb:w1`), 0, 'no registration or inbox left behind')
  t.comment(`${rounds - rest.length} of ${rounds} tasks came pushed or leased by the waits`)
})

t.test('slots bound what is pushed; the rest of a batch stays ready', async (t) => {
  const s = await setup(t)
  const waiting = wait(s.backend, 'slots', { limit: 3 })
  await registered(s, 'slots')
  await s.producer.enqueue(Array.from({ length: 10 }, (_, i) => task('slots', i)))
  const got = await waiting
  t.same(got.map(g => (g.payload as { i: number }).i), [0, 1, 2], 'the first three, in order')
  const [stats] = await s.backend.queueStats(['slots'])
  t.match(stats, { ready: 7, processing: 3 })
})

t.test('a worker of some handlers gets only its jobs; the others stay ready for a lease that runs them', async (t) => {
  const s = await setup(t)
  const waiting = wait(s.backend, 'mixed', { handlers: ['a'] })
  await registered(s, 'mixed')
  await s.producer.enqueue([task('mixed', 1, { handler: 'b' }), task('mixed', 2, { handler: 'a' })])
  const got = await waiting
  t.same(got.map(g => g.handler), ['a'])
  const other = await s.backend.leaseTasks({ workerId: 'w2', queues: ['mixed'], limit: 10, leaseMs: 30_000, handlers: ['b'] })
  t.same(other.map(g => g.handler), ['b'], 'the other handler\'s job is leased by a worker that runs it')
})

t.test('an abort ends the wait promptly', async (t) => {
  const s = await setup(t)
  const controller = new AbortController()
  const started = performance.now()
  const waiting = wait(s.backend, 'abort', { waitMs: 10_000, signal: controller.signal })
  await registered(s, 'abort')
  controller.abort()
  t.same(await waiting, [])
  t.ok(performance.now() - started < 2000, `ended after ${Math.round(performance.now() - started)} ms`)
  const aborted = new AbortController()
  aborted.abort()
  t.same(await wait(s.backend, 'abort', { waitMs: 10_000, signal: aborted.signal }), [], 'aborted before it began: no wait')
})

t.test('a push to a worker that died is an ordinary lease: it expires and is recovered', async (t) => {
  const s = await setup(t)
  // the dying worker: registered, then gone without draining its inbox
  const dying = createBullMQBackend({ url: URL, prefix: s.prefix })
  await dying.init()
  const waiting = dying.awaitPushedTasks({ workerId: 'dies', queues: ['dead-worker'], limit: 1, leaseMs: 200, handlers: ['h'], waitMs: 5000 }).catch(() => [])
  await registered(s, 'dead-worker', 'dies')
  await dying.close()
  await waiting
  t.equal(await s.redis.sismember(`${s.own}pi:dead-worker`, 'dies'), 1, 'its registration outlives it until its lifetime ends')
  const [result] = await s.producer.enqueue([task('dead-worker', 1)])
  t.match(await s.backend.getTask(result!.id), { state: 'processing', attempts: 1 }, 'pushed')
  await new Promise(resolve => setTimeout(resolve, 300))
  await s.backend.recoverExpiredLeases(100)
  const [again] = await s.backend.leaseTasks({ workerId: 'w2', queues: ['dead-worker'], limit: 1, leaseMs: 30_000 })
  t.match(again, { id: result!.id, attempts: 2 }, 'recovered after its lease expired and run again by another worker')
})

t.test('an expired registration gets no push and is dropped', async (t) => {
  const s = await setup(t)
  await s.redis.sadd(`${s.own}pi:stale`, 'gone')
  await s.redis.hset(`${s.own}pw:gone`, 'n', '5', 'ms', '1000', 'u', String(Date.now() - 1000), 'qs', '["stale"]', 'a', '1')
  await s.backend.enqueue([task('stale')])
  const [stats] = await s.backend.queueStats(['stale'])
  t.equal(stats!.ready, 1, 'left ready')
  t.equal(await s.redis.exists(`${s.own}pw:gone`, `${s.own}pi:stale`), 0, 'registration dropped')
})

t.test('a plain BullMQ producer\'s job is not pushed; the lease still finds it', async (t) => {
  const s = await setup(t)
  const queue = new Queue('plain', { connection: { url: URL }, prefix: s.prefix })
  t.teardown(() => queue.close())
  await s.backend.ensureQueues(['plain'])
  const waiting = wait(s.backend, 'plain', { waitMs: 200, handlers: ['job'] })
  await registered(s, 'plain')
  await queue.add('job', { x: 1 })
  t.same(await waiting, [], 'nothing pushed')
  const got = await s.backend.leaseTasks({ workerId: 'w1', queues: ['plain'], limit: 5, leaseMs: 30_000, handlers: ['job'] })
  t.equal(got.length, 1, 'leased')
})
