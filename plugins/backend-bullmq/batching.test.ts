import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { NewTask } from '@switchyard/core'
import { createBullMQBackend } from './index.ts'

// Work notifications (pub/sub from Switchyard's paths, BullMQ's event streams for
// plain producers) and the batched BullMQ scripts (lease, ack, add: one call per
// batch, BullMQ's own script text per job) against a real Redis.

const URL = 'redis://127.0.0.1:6379'

function task (queue: string, extra: Partial<NewTask> = {}): NewTask {
  return { queue, handler: 'h', payload: { n: 1 }, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null, ...extra }
}

/** resolves when check() holds (polled every 20 ms), or fails at the deadline */
async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** a plain BullMQ Queue (its own connection) on the backend's prefix, closed at teardown */
function plainProducer (t: Test, name: string, prefix: string): Queue {
  const connection = new Redis(URL, { maxRetriesPerRequest: null })
  const producer = new Queue(name, { connection, prefix })
  t.teardown(async () => {
    await producer.close()
    await connection.quit()
  })
  return producer
}

function setup (t: Test, queues: string[] = []) {
  const prefix = `sybatch${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ url: URL, prefix, queues })
  const peer = createBullMQBackend({ url: URL, prefix })
  t.teardown(async () => {
    await backend.destroyAllData()
    await backend.close()
    await peer.close()
  })
  return { prefix, backend, peer }
}

t.test('subscribeWork: a peer enqueue wakes a subscriber with the queue name, promptly; not after unsubscribe', async t => {
  const { backend, peer } = setup(t)
  await Promise.all([backend.init(), peer.init()])
  const woken: Array<{ queue: string, at: number }> = []
  const unsubscribe = await backend.subscribeWork!(queue => { woken.push({ queue, at: performance.now() }) })
  const latencies: number[] = []
  for (let i = 0; i < 20; i++) {
    const queue = `q${i % 3}`
    const seen = woken.length
    const before = performance.now()
    await peer.enqueue([task(queue)])
    await until(`a wake for ${queue}`, () => woken.slice(seen).some(w => w.queue === queue))
    latencies.push((woken.slice(seen).find(w => w.queue === queue) as { at: number }).at - before)
  }
  latencies.sort((a, b) => a - b)
  t.ok(latencies[Math.floor(latencies.length / 2)]! < 50, `median enqueue→wake ${latencies[Math.floor(latencies.length / 2)]!.toFixed(2)} ms (target 1–2 ms on an idle machine)`)

  // a delayed task is not ready: no wake for it
  const seen = woken.length
  await peer.enqueue([task('later', { delayMs: 60_000 })])
  await peer.enqueue([task('now')])
  await until('a wake for "now"', () => woken.slice(seen).some(w => w.queue === 'now'))
  t.notOk(woken.slice(seen).some(w => w.queue === 'later'), 'no wake for a delayed task')

  await unsubscribe()
  const after = woken.length
  await peer.enqueue([task('q0')])
  // the peer's publish has been delivered to every subscriber once this round trip is back
  await peer.now()
  t.equal(woken.length, after, 'no calls after unsubscribe')
})

t.test('subscribeWork: a job added by a plain BullMQ producer wakes a subscriber', async t => {
  const name = 'legacy'
  const { backend, prefix } = setup(t, [name])
  await backend.init()
  const producer = plainProducer(t, name, prefix)
  const woken: string[] = []
  const unsubscribe = await backend.subscribeWork!(queue => { woken.push(queue) })
  t.teardown(unsubscribe)
  await producer.add('email.send', { to: 'ada@example.com' })
  await until('a wake for the plain producer\'s job', () => woken.includes(name))
  t.pass('woken through BullMQ\'s event stream')
  const [leased] = await backend.leaseTasks({ workerId: 'w', queues: [name], limit: 10, leaseMs: 30_000 })
  t.match(leased, { queue: name, handler: 'email.send', payload: { to: 'ada@example.com' } }, 'and the job is leased')
})

t.test('subscribeWork: an enqueue wakes a subscriber once (its PUBLISH), not again through BullMQ\'s stream', async t => {
  const name = 'once'
  const { backend, peer } = setup(t, [name])
  await Promise.all([backend.init(), peer.init()])
  const woken: string[] = []
  const unsubscribe = await backend.subscribeWork!(queue => { woken.push(queue) })
  t.teardown(unsubscribe)
  // the first enqueue registers the queue; from here on its event stream is watched
  await peer.enqueue([task(name)])
  await until('the first wake', () => woken.includes(name))
  await new Promise(resolve => setTimeout(resolve, 300))
  for (let i = 0; i < 5; i++) {
    const seen = woken.length
    await peer.enqueue([task(name), task(name)])
    await until('a wake', () => woken.length > seen)
    // the stream watcher reads the add's "added" and "waiting" entries at once (a blocking XREAD)
    await new Promise(resolve => setTimeout(resolve, 150))
    t.equal(woken.length - seen, 1, `enqueue ${i + 1}: one wake`)
  }
})

t.test('a one-task enqueue is one command: the add call (registering the queue, indexing the id, and with no idle worker to push to, the wake-up)', async t => {
  const name = 'single'
  const { prefix, backend, peer } = setup(t)
  await Promise.all([backend.init(), peer.init()])
  // a bare subscriber: subscribeWork's stream watcher sends commands of its own
  const subscriber = new Redis(URL)
  t.teardown(() => subscriber.disconnect())
  const woken: string[] = []
  subscriber.on('message', (_channel: string, queue: string) => { woken.push(queue) })
  await subscriber.subscribe(backend.keys.work)
  // the script loaded on the connection (its first use is an EVAL), the queue's BullMQ meta written
  await peer.enqueue([task(name)])
  await until('the first wake', () => woken.includes(name))
  woken.length = 0
  const monitor = new Redis(URL, { monitor: true, lazyConnect: true })
  t.teardown(() => monitor.disconnect())
  const monitoring = new Promise<void>(resolve => monitor.once('monitoring', () => resolve()))
  await monitor.connect()
  await monitoring
  const sent: string[][] = []
  // commands from a client socket (not those a script runs) that touch this backend's keys
  const published: string[][] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args.some(arg => arg.includes(prefix))) sent.push(args)
    if (source === 'lua' && args[0]?.toLowerCase() === 'publish' && args[1] === backend.keys.work) published.push(args)
  })
  // a clock sample is due at most once a second: the warm-up sent one (TIME names no key anyway)
  const [result] = await peer.enqueue([task(name)])
  await until('the wake', () => woken.includes(name))
  await until('the monitor to see the add', () => sent.length > 0)
  await new Promise(resolve => setTimeout(resolve, 100))
  monitor.removeAllListeners('monitor')
  t.same(sent.map(args => args[0]!.toLowerCase()), ['evalsha'], 'one script call')
  t.same(published.map(args => args[2]), [name], 'the PUBLISH made by the add script (lua/add-fresh.lua)')
  t.equal(woken.filter(queue => queue === name).length, 1, 'one wake')
  t.match(await backend.getTask(result!.id), { id: result!.id, queue: name, state: 'ready' }, 'found through the index')
  t.match(await backend.queueStats([name]), [{ name, ready: 2 }], 'in a registered queue')
})

t.test('one lease call spans the preferred queues in order, skipping unknown queues, and honours global pause', async t => {
  const { backend } = setup(t)
  await backend.init()
  await backend.enqueue([...Array.from({ length: 3 }, () => task('a')), ...Array.from({ length: 5 }, () => task('b'))])
  await backend.setGlobalPause(true)
  t.same(await backend.leaseTasks({ workerId: 'w', queues: ['a', 'b'], limit: 10, leaseMs: 30_000 }), [], 'nothing while globally paused')
  await backend.setGlobalPause(false)
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['nope', 'a', 'b'], limit: 6, leaseMs: 30_000 })
  t.same(leased.map(l => l.queue), ['a', 'a', 'a', 'b', 'b', 'b'], 'queue a first, then b, up to the limit')
  t.equal(new Set(leased.map(l => l.leaseToken)).size, 6, 'every lease has its own token')
  const now = await backend.now()
  for (const l of leased) t.ok(Math.abs(l.leaseExpiresAt - (now + 30_000)) < 2_000, 'lease expiry on the backend clock')
  const outcomes = await backend.completeTasks([...leased.map(l => ({ id: l.id, leaseToken: l.leaseToken })), { id: (leased[0] as { id: string }).id, leaseToken: 'stale' }])
  t.same(outcomes, ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'lease_lost'], 'one batched ack; a wrong token is lease_lost')
  const stats = await backend.queueStats(['a', 'b'])
  t.match(stats, [{ name: 'a', succeeded: 3, ready: 0 }, { name: 'b', succeeded: 3, ready: 2 }])
})

t.test('batched acks keep BullMQ\'s per-job options: a plain job with removeOnComplete is removed', async t => {
  const name = 'legacy'
  const { backend, prefix } = setup(t, [name])
  await backend.init()
  const producer = plainProducer(t, name, prefix)
  const kept = await producer.add('a', { n: 1 })
  const removed = await producer.add('b', { n: 2 }, { removeOnComplete: true })
  const leased = await backend.leaseTasks({ workerId: 'w', queues: [name], limit: 10, leaseMs: 30_000 })
  t.equal(leased.length, 2)
  t.same(await backend.completeTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken }))), ['ok', 'ok'])
  t.equal(await producer.getJobState(kept.id as string), 'completed', 'a default job is kept as completed')
  t.equal(await producer.getJob(removed.id as string), undefined, 'the removeOnComplete job is gone, as BullMQ does it')
})

t.test('batched fails: dead, immediate retry and backoff retry in one call, with their wake-ups', async t => {
  const { backend, peer } = setup(t)
  await Promise.all([backend.init(), peer.init()])
  await backend.enqueue([task('f', { maxAttempts: 1 }), task('f'), task('f')])
  const [dead, again, later] = await backend.leaseTasks({ workerId: 'w', queues: ['f'], limit: 3, leaseMs: 30_000 }) as unknown as [{ id: string, leaseToken: string }, { id: string, leaseToken: string }, { id: string, leaseToken: string }]
  const woken: string[] = []
  const unsubscribe = await peer.subscribeWork!(queue => { woken.push(queue) })
  t.teardown(unsubscribe)
  const outcomes = await backend.failTasks([
    { id: dead.id, leaseToken: dead.leaseToken, error: { message: 'fatal' }, retryDelayMs: null },
    { id: again.id, leaseToken: again.leaseToken, error: { message: 'flaky' }, retryDelayMs: 0 },
    { id: later.id, leaseToken: later.leaseToken, error: { message: 'busy' }, retryDelayMs: 60_000 },
    { id: later.id, leaseToken: 'stale', error: { message: 'stale' }, retryDelayMs: 0 }
  ])
  t.same(outcomes, ['dead', 'retrying', 'retrying', 'lease_lost'])
  await until('a wake for the immediate retry', () => woken.includes('f'))
  t.match(await backend.getTask(dead.id), { state: 'dead', lastError: 'fatal' })
  t.match(await backend.getTask(again.id), { state: 'ready', attempts: 1, lastError: 'flaky' })
  t.match(await backend.getTask(later.id), { state: 'retrying', lastError: 'busy' })
  const [stats] = await backend.queueStats(['f'])
  t.match(stats, { dead: 1, ready: 1, retrying: 1, scheduled: 0 })
})

t.test('a lease larger than one script call is split, with distinct tasks and tokens', async t => {
  const { backend } = setup(t)
  await backend.init()
  await backend.enqueue(Array.from({ length: 450 }, () => task('big')))
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['big'], limit: 500, leaseMs: 30_000 })
  t.equal(leased.length, 450, 'every ready task, no more')
  t.equal(new Set(leased.map(l => l.id)).size, 450, 'no task twice')
  t.equal(new Set(leased.map(l => l.leaseToken)).size, 450, 'no token twice')
  const outcomes = await backend.completeTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken })))
  t.equal(outcomes.filter(o => o === 'ok').length, 450, 'all acked in batched calls')
})

// A fresh enqueue of several script calls' worth lets each call leave as soon as it is
// built (the first with the event entry): all of it still lands, events first, in order.
t.test('a fresh enqueue larger than one script call: every job added and indexed, its events in order', async t => {
  const { backend } = setup(t)
  await backend.init()
  const tasks = Array.from({ length: 450 }, (_, i) => task(i % 3 === 0 ? 'wide-a' : 'wide-b', { payload: { i } }))
  const events = { type: 'task.enqueued', data: tasks.map((x, i) => ({ queue: x.queue, i })) }
  const results = await backend.enqueue(tasks, events)
  t.equal(new Set(results.map(r => r.id)).size, 450, 'a distinct id each')
  t.match(await backend.queueStats(['wide-a', 'wide-b']), [{ name: 'wide-a', ready: 150 }, { name: 'wide-b', ready: 300 }])
  const logged = await backend.readEvents({ afterId: null, limit: 1000 })
  t.same(logged.map(e => (e.data as { id: string }).id), results.map(r => r.id), 'one event per task, in request order')
  const stored = await Promise.all([results[0]!, results[224]!, results[449]!].map(r => backend.getTask(r.id)))
  t.same(stored.map(s => (s?.payload as { i: number }).i), [0, 224, 449], 'each found by its id')
})

t.test('BullMQ scripts are hoisted only when provably the same program', async t => {
  const { createRequire } = await import('node:module')
  const { hoistDefinitions } = await import('./lua-hoist.ts')
  const scripts = createRequire(import.meta.url)('bullmq/dist/cjs/scripts/index.js') as Record<string, { content: string }>
  for (const name of ['moveToActive', 'moveToFinished', 'retryJob', 'moveToDelayed', 'addStandardJob', 'addPrioritizedJob', 'addDelayedJob']) {
    t.not(hoistDefinitions((scripts[name] as { content: string }).content), null, `${name} of the installed bullmq is hoisted`)
  }
  const usesBodyLocal = 'local rcall = redis.call\nlocal limit = 5\nlocal function over(n)\n  return n > limit\nend\nreturn over(6)'
  t.equal(hoistDefinitions(usesBodyLocal), null, 'a function using a body local stays in place')
  const unindented = 'local rcall = redis.call\nlocal function f()\nreturn 1\nend\nreturn f()'
  t.equal(hoistDefinitions(unindented), null, 'an unexpected layout stays in place')
  const fine = hoistDefinitions('local rcall = redis.call\nlocal function get(k)\n  local v = rcall("GET", k)\n  return { value = v }\nend\nreturn get(KEYS[1]).value')
  t.match(fine, { definitions: /local function get/, body: /return get\(KEYS\[1\]\)\.value/ }, 'a self-contained function is hoisted')
})

/**
 * A backend whose queue "broken" cannot take jobs, and a raw client to look with. A real
 * fault: the queue's job counter is not a number, so BullMQ's add script fails on its
 * first command for that queue (nothing of that job is written).
 */
async function withBrokenQueue (t: Test) {
  const { prefix, backend } = setup(t)
  await backend.init()
  const redis = new Redis(URL)
  t.teardown(() => redis.disconnect())
  await redis.set(`${prefix}:broken:id`, 'not a number')
  return { prefix, backend, redis }
}

t.test('an enqueue that fails in one queue keeps what went in, gives the rest back, and fails loudly', async t => {
  const { prefix, backend, redis } = await withBrokenQueue(t)
  const tasks = [task('fine', { idempotencyKey: 'k-fine' }), task('broken', { idempotencyKey: 'k-broken' }), task('fine'), task('broken')]
  const events = { type: 'task.enqueued', data: tasks.map(x => ({ queue: x.queue })) }
  await t.rejects(backend.enqueue(tasks, events), /not an integer/, 'the enqueue fails with Redis\'s error')
  t.match(await backend.queueStats(['fine', 'broken']), [{ name: 'broken', ready: 0 }, { name: 'fine', ready: 2 }], 'the other queue\'s tasks went in')
  t.equal(await redis.hlen(backend.keys.index), 2, 'only their ids stay claimed')
  const logged = await backend.readEvents({ afterId: null, limit: 100 })
  t.same(logged.map(e => e.data as { queue: string }).map(d => d.queue), ['fine', 'fine'], 'enqueued events only for the tasks that went in')
  t.same(new Set(logged.map(e => (e.data as { id: string }).id)), new Set(Object.keys(await redis.hgetall(backend.keys.index))), 'with their ids')

  await redis.del(`${prefix}:broken:id`)
  const again = await backend.enqueue([task('fine', { idempotencyKey: 'k-fine' }), task('broken', { idempotencyKey: 'k-broken' })])
  t.same(again.map(r => r.created), [false, true], 'a retry: the added key answers its task, the failed key is free')
  t.equal((await backend.getTask(again[1]!.id))?.state, 'ready')
})

// Tasks without keys or parents go out in one round trip (index, events, adds and
// wake-up sent together): a part that fails is undone as the sequential path does.
t.test('an unkeyed enqueue that fails in one queue keeps what went in, with its events, and frees the rest', async t => {
  const { backend, redis } = await withBrokenQueue(t)
  const tasks = [task('fine'), task('broken'), task('fine'), task('broken')]
  const events = { type: 'task.enqueued', data: tasks.map(x => ({ queue: x.queue })) }
  await t.rejects(backend.enqueue(tasks, events), /not an integer/, 'the enqueue fails with Redis\'s error')
  t.match(await backend.queueStats(['fine', 'broken']), [{ name: 'broken', ready: 0 }, { name: 'fine', ready: 2 }], 'the other queue\'s tasks went in')
  const indexed = await redis.hgetall(backend.keys.index)
  t.same(Object.values(indexed), ['fine', 'fine'], 'only their ids stay in the index')
  const logged = await backend.readEvents({ afterId: null, limit: 100 })
  t.same(logged.map(e => (e.data as { queue: string }).queue), ['fine', 'fine'], 'enqueued events only for the tasks that went in')
  t.same(new Set(logged.map(e => (e.data as { id: string }).id)), new Set(Object.keys(indexed)), 'with their ids')
})

t.test('an unkeyed enqueue whose event entry fails takes its jobs back and fails loudly', async t => {
  const { backend } = setup(t)
  await backend.init()
  const redis = new Redis(URL)
  t.teardown(() => redis.disconnect())
  // A real fault: the event stream's key holds a string, so the append's XADD fails
  // while the adds sent with it go through.
  await redis.set(backend.keys.events, 'not a stream')
  const tasks = [task('q'), task('q', { delayMs: 60_000 })]
  await t.rejects(backend.enqueue(tasks, { type: 'task.enqueued', data: [{}, {}] }), /WRONGTYPE/, 'the enqueue fails with Redis\'s error')
  t.match(await backend.queueStats(['q']), [{ name: 'q', ready: 0, scheduled: 0 }], 'no job stays without its event')
  t.equal(await redis.hlen(backend.keys.index), 0, 'no id stays in the index')
  await redis.del(backend.keys.events)
  const [again] = await backend.enqueue([task('q')], { type: 'task.enqueued', data: [{}] })
  t.equal((await backend.getTask(again!.id))?.state, 'ready', 'the next enqueue goes through')
})
