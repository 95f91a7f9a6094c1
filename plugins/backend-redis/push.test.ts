// Push delivery (awaitPushedTasks, lua/lib/push.lua) against a real Redis: an enqueue
// leases a task that can start at once straight to an idle worker's inbox; everything
// else is left to leases as before.
import t, { type Test } from 'tap'
import type { NewTask } from '@switchyard/core'
import { decodeLeased, decodePushedEntry } from './codec.ts'
import { createRedisBackend, type RedisBackend } from './index.ts'
import { openTestBackend, startPrivateRedis } from './testing.ts'

const task = (queue: string, i = 0, extra: Partial<NewTask> = {}): NewTask => ({
  queue, handler: 'h', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null, ...extra
})

const wait = async (backend: RedisBackend, queue: string, extra: { waitMs?: number, limit?: number, workerId?: string, handlers?: string[], signal?: AbortSignal } = {}) =>
  await backend.awaitPushedTasks!({ workerId: extra.workerId ?? 'w1', queues: [queue], limit: extra.limit ?? 5, leaseMs: 30_000, handlers: extra.handlers ?? ['h'], waitMs: extra.waitMs ?? 2000, ...(extra.signal === undefined ? {} : { signal: extra.signal }) })

/** a second backend on the same keys: the enqueuing process, apart from the worker's */
async function producerOf (t: Test, backend: RedisBackend, url?: string): Promise<RedisBackend> {
  const producer = createRedisBackend({ prefix: backend.keys.base.slice(1, -1), ...(url === undefined ? {} : { url }) }) as RedisBackend
  await producer.init()
  t.teardown(() => producer.close())
  return producer
}

/** resolves once the worker is registered as idle for the queue (its registration joined the queue's set) */
async function registered (backend: RedisBackend, queue: string, workerId = 'w1'): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await backend.redis.sismember(`${backend.keys.base}pi:${queue}`, workerId) === 1) return
    await new Promise(resolve => setTimeout(resolve, 1))
  }
  throw new Error('worker never registered')
}

t.test('capability declared and the method offered', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  t.equal(backend.capabilities.pushDelivery, true)
  t.type(backend.awaitPushedTasks, 'function')
})

t.test('a task enqueued while a worker waits is leased to it by the enqueue, without a lease call', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  const waiting = wait(backend, 'push')
  await registered(backend, 'push')
  const leaseCalls = Number((await backend.redis.get(`${backend.keys.base}lseq`)) ?? 0)
  const [result] = await producer.enqueue([task('push', 7)])
  const got = await waiting
  t.equal(got.length, 1)
  t.match(got[0], { id: result!.id, queue: 'push', handler: 'h', payload: { i: 7 }, attempts: 1, maxAttempts: 3 })
  t.type(got[0]!.leaseToken, 'string')
  t.ok(got[0]!.leaseExpiresAt > Date.now() + 20_000, 'lease expiry as asked')
  t.equal(Number(await backend.redis.get(`${backend.keys.base}lseq`)), leaseCalls + 1, 'one lease token: the push')
  const stored = await backend.getTask(result!.id)
  t.match(stored, { state: 'processing', attempts: 1 })
  t.same(await backend.redis.zscore(backend.keys.processing, result!.id), String(got[0]!.leaseExpiresAt), 'in the processing index')
  const [stats] = await backend.queueStats(['push'])
  t.match(stats, { ready: 0, processing: 1 })
  t.same(await backend.completeTasks([{ id: got[0]!.id, leaseToken: got[0]!.leaseToken }]), ['ok'], 'its lease token completes it')
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`, `${backend.keys.base}pi:push`, `${backend.keys.base}pb:w1`), 0, 'unregistered, inbox gone')
})

t.test('what is ready before the wait is leased at once; the wait times out empty', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  await backend.enqueue([task('pre', 1)])
  const got = await wait(backend, 'pre')
  t.equal(got.length, 1, 'leased on registering')
  const started = performance.now()
  t.same(await wait(backend, 'pre', { waitMs: 100 }), [])
  t.ok(performance.now() - started >= 90, 'waited its waitMs')
})

t.test('no push to a worker of another handler, a paused queue, a cordoned worker, or with flow limits', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  const noPush = async (what: string, queue: string, before: () => Promise<void>, options: { handlers?: string[] } = {}): Promise<void> => {
    await before()
    const waiting = wait(backend, queue, { waitMs: 300, ...options })
    await registered(backend, queue)
    await producer.enqueue([task(queue)])
    t.same(await waiting, [], `${what}: nothing pushed`)
    const [stats] = await backend.queueStats([queue])
    t.equal(stats!.ready, 1, `${what}: the task is ready`)
  }
  await noPush('another handler', 'other', async () => {}, { handlers: ['not-h'] })
  await noPush('paused queue', 'paused', async () => { await backend.setQueuePaused('paused', true) })
  await backend.heartbeatWorker({ id: 'w1', host: 'x', pid: 1, version: '0', queues: ['cordon'], handlers: ['h'], concurrency: 1, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now() }, 60_000)
  await noPush('cordoned worker', 'cordon', async () => { t.equal(await backend.setWorkerCordoned('w1', true), true) })
  await backend.setWorkerCordoned('w1', false)
  await noPush('flow limit stored', 'flow', async () => { await backend.setFlowLimit({ kind: 'handler', name: 'unrelated' }, { concurrency: 5, rate: null }) })
})

t.test('a wait ending as a task is pushed: nothing lost, nothing leased twice', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  const rounds = 200
  const seen = new Map<string, number>()
  const ids: string[] = []
  for (let i = 0; i < rounds; i++) {
    // the wait times out after 1-3 ms while the enqueue lands around the same moment
    const waiting = wait(backend, 'race', { waitMs: 1 + (i % 3), limit: 1 })
    await new Promise(resolve => setTimeout(resolve, i % 4))
    const [result] = await producer.enqueue([task('race', i)])
    ids.push(result!.id)
    for (const got of await waiting) seen.set(got.id, (seen.get(got.id) ?? 0) + 1)
  }
  // what the waits did not take is ready for the next lease, never stranded
  const rest = await backend.leaseTasks({ workerId: 'w1', queues: ['race'], limit: 1000, leaseMs: 30_000 })
  for (const got of rest) seen.set(got.id, (seen.get(got.id) ?? 0) + 1)
  t.equal(seen.size, rounds, 'every task taken')
  t.ok([...seen.values()].every(n => n === 1), 'each once')
  t.same(ids.filter(id => !seen.has(id)), [])
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`, `${backend.keys.base}pb:w1`), 0, 'no registration or inbox left behind')
  t.comment(`${rounds - rest.length} of ${rounds} tasks came pushed or leased by the waits`)
})

t.test('slots bound what is pushed; the rest of a batch stays ready', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  const waiting = wait(backend, 'slots', { limit: 3 })
  await registered(backend, 'slots')
  await producer.enqueue(Array.from({ length: 10 }, (_, i) => task('slots', i)))
  const got = await waiting
  t.same(got.map(g => (g.payload as { i: number }).i), [0, 1, 2], 'the first three, in order')
  const [stats] = await backend.queueStats(['slots'])
  t.match(stats, { ready: 7, processing: 3 })
})

t.test('an abort ends the wait promptly', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const controller = new AbortController()
  const started = performance.now()
  const waiting = wait(backend, 'abort', { waitMs: 10_000, signal: controller.signal })
  await registered(backend, 'abort')
  controller.abort()
  t.same(await waiting, [])
  t.ok(performance.now() - started < 2000, `ended after ${Math.round(performance.now() - started)} ms`)
  const aborted = new AbortController()
  aborted.abort()
  t.same(await wait(backend, 'abort', { waitMs: 10_000, signal: aborted.signal }), [], 'aborted before it began: no wait')
})

t.test('a push to a worker that died is an ordinary lease: it expires and is recovered', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  // the dying worker: registered, then gone without draining its inbox
  const dying = createRedisBackend({ prefix: backend.keys.base.slice(1, -1) }) as RedisBackend
  await dying.init()
  const waiting = dying.awaitPushedTasks!({ workerId: 'dies', queues: ['dead-worker'], limit: 1, leaseMs: 200, handlers: ['h'], waitMs: 5000 }).catch(() => [])
  await registered(backend, 'dead-worker', 'dies')
  await dying.close()
  await waiting
  t.equal(await backend.redis.sismember(`${backend.keys.base}pi:dead-worker`, 'dies'), 1, 'its registration outlives it until its lifetime ends')
  const [result] = await producer.enqueue([task('dead-worker', 1)])
  t.match(await backend.getTask(result!.id), { state: 'processing', attempts: 1 }, 'pushed')
  await new Promise(resolve => setTimeout(resolve, 300))
  const recovered = await backend.recoverExpiredLeases(100)
  t.same(recovered.requeued, [result!.id], 'recovered after its lease expired')
  const [again] = await backend.leaseTasks({ workerId: 'w2', queues: ['dead-worker'], limit: 1, leaseMs: 30_000 })
  t.match(again, { id: result!.id, attempts: 2 }, 'run again by another worker')
})

t.test('an expired registration gets no push and is dropped', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  await backend.redis.sadd(`${backend.keys.base}pi:stale`, 'gone')
  await backend.redis.hset(`${backend.keys.base}pw:gone`, 'n', '5', 'ms', '1000', 'u', String(Date.now() - 1), 'qs', '["stale"]', 'a', '1')
  await backend.enqueue([task('stale')])
  const [stats] = await backend.queueStats(['stale'])
  t.equal(stats!.ready, 1, 'left ready')
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:gone`, `${backend.keys.base}pi:stale`), 0, 'registration dropped')
})

t.test('inbox formats: a worker registered without one (an older version) gets format 1; this version reads both', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  const payloads: unknown[] = [{ s: 'a "quote", a \\ and ünïcødé </script>' }, 'text', null, [1, { two: 2 }]]
  // registered as push_wait.lua did before formats: no f field
  await backend.redis.hset(`${backend.keys.base}pw:old`, 'n', '5', 'ms', '30000', 'u', String(Date.now() + 60_000), 'qs', '["fmt1"]', 'a', '1')
  await backend.redis.sadd(`${backend.keys.base}pi:fmt1`, 'old')
  const created = await producer.enqueue(payloads.map((payload, i) => task('fmt1', i, { payload })))
  const entries = await backend.redis.lrange(`${backend.keys.base}pb:old`, 0, -1)
  t.equal(entries.length, payloads.length, 'every task pushed to the old worker')
  // the old worker's push_done then finds no registration and takes the rest of its inbox, as before
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:old`), 0, 'the enqueue that pushed ended the registration')
  t.equal(await backend.redis.sismember(`${backend.keys.base}pi:fmt1`, 'old'), 0, 'and left the idle set')
  for (const [i, entry] of entries.entries()) {
    const fields = JSON.parse(entry) as string[]
    t.ok(fields.every(f => typeof f === 'string'), 'format 1: an array of strings')
    // how a worker of the older version reads it (codec.ts decodeLeased, payload parsed from its string)
    const [old] = decodeLeased(fields)
    t.match(old, { id: created[i]!.id, queue: 'fmt1', handler: 'h', attempts: 1, maxAttempts: 3 })
    t.same(old!.payload, payloads[i], 'the old reader gets the payload')
    t.same(decodePushedEntry(entry), old, 'this version reads format 1 too (an older producer pushing to it)')
  }

  const waiting = wait(backend, 'fmt2', { workerId: 'new', limit: 5 })
  await registered(backend, 'fmt2', 'new')
  t.equal(await backend.redis.hget(`${backend.keys.base}pw:new`, 'f'), '2', 'this version registers as reading format 2')
  const ids = (await producer.enqueue(payloads.map((payload, i) => task('fmt2', i, { payload })))).map(r => r.id)
  const got = await waiting
  t.same(got.map(g => g.id), ids, 'every task pushed, in order')
  t.same(got.map(g => g.payload), payloads, 'payloads inlined in format 2 come back as enqueued')
  for (const g of got) t.match(g, { queue: 'fmt2', handler: 'h', attempts: 1, maxAttempts: 3, priority: 0, timeoutMs: 1000 })
  for (const g of got) t.same(await backend.completeTasks([{ id: g.id, leaseToken: g.leaseToken }]), ['ok'], 'its lease token completes it')
})

t.test('a format 2 entry holds what a format 1 entry does', async (t) => {
  const entry1 = JSON.stringify(['1700000030000', '000000000007', 'q', 'h', '{"a":[1,"x"]}', '2', '5', '-3', '1000', '1700000000000', '1700000000001', '42'])
  const entry2 = '[2,"1700000030000","000000000007","q","h",{"a":[1,"x"]},"2","5","-3","1000","1700000000000","1700000000001","42"]'
  t.same(decodePushedEntry(entry2), decodePushedEntry(entry1))
  t.match(decodePushedEntry(entry2), { id: '000000000007', payload: { a: [1, 'x'] }, attempts: 2, maxAttempts: 5, priority: -3, leaseToken: '42', leaseExpiresAt: 1700000030000 })
})

t.test('a format 1 entry (an older enqueue, which leaves the worker registered) ends the wait with push_done', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const waiting = wait(backend, 'older', { limit: 5 })
  await registered(backend, 'older')
  // what an older enqueue does: RPUSH a format 1 lease, the registration left in place (n - 1)
  const entry = JSON.stringify(['1700000030000', '000000000007', 'older', 'h', '{"i":7}', '1', '3', '0', '1000', '1700000000000', '1700000000001', '42'])
  await backend.redis.hset(`${backend.keys.base}pw:w1`, 'n', '4')
  await backend.redis.rpush(`${backend.keys.base}pb:w1`, entry)
  const got = await waiting
  t.match(got, [{ id: '000000000007', payload: { i: 7 }, leaseToken: '42' }])
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`, `${backend.keys.base}pb:w1`), 0, 'unregistered by push_done, inbox gone')
  t.equal(await backend.redis.sismember(`${backend.keys.base}pi:older`, 'w1'), 0, 'not idle any more')
})

t.test('a wait that times out or is woken leaves no registration', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  t.same(await wait(backend, 'quiet', { waitMs: 50 }), [])
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`, `${backend.keys.base}pi:quiet`), 0, 'after a timeout')
  const controller = new AbortController()
  const waiting = wait(backend, 'quiet', { waitMs: 10_000, signal: controller.signal })
  await registered(backend, 'quiet')
  controller.abort()
  t.same(await waiting, [])
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`, `${backend.keys.base}pi:quiet`), 0, 'after a wake-up')
})

t.test('a batch pushes at most the slots, then the registration is over: the next batch is left ready', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = await producerOf(t, backend)
  const waiting = wait(backend, 'once', { limit: 3 })
  await registered(backend, 'once')
  await producer.enqueue([task('once', 0), task('once', 1)])
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`), 0, 'unregistered by the enqueue that pushed two of three slots')
  await producer.enqueue([task('once', 2)])
  const got = await waiting
  t.same(got.map(g => (g.payload as { i: number }).i), [0, 1], 'the pushed two, taken in one pop')
  const [stats] = await backend.queueStats(['once'])
  t.match(stats, { ready: 1, processing: 2 })
})

t.test('on a Redis without BLMPOP (before 7.0) a wait pops with BLPOP and push_done takes the rest', async (t) => {
  // a real server refusing BLMPOP with the error an older Redis gives ("unknown command")
  const url = await startPrivateRedis(t, ['--rename-command', 'BLMPOP', ''])
  const { backend, destroy } = await openTestBackend({ url })
  t.teardown(destroy)
  const producer = await producerOf(t, backend, url)
  for (const round of [1, 2]) {
    const waiting = wait(backend, 'old', { limit: 3 })
    await registered(backend, 'old')
    await producer.enqueue([task('old', round * 10), task('old', round * 10 + 1)])
    const got = await waiting
    t.same(got.map(g => (g.payload as { i: number }).i), [round * 10, round * 10 + 1], `round ${round}: both pushed tasks, the second taken by push_done`)
    t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`, `${backend.keys.base}pb:w1`), 0, `round ${round}: no registration or inbox left`)
    t.same(await backend.completeTasks(got.map(g => ({ id: g.id, leaseToken: g.leaseToken }))), ['ok', 'ok'], `round ${round}: their leases hold`)
  }
  t.same(await wait(backend, 'old', { waitMs: 50 }), [], 'a wait that times out')
  t.equal(await backend.redis.exists(`${backend.keys.base}pw:w1`), 0, 'leaves no registration')
})
