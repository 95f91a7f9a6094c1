import t, { type Test } from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { LeasedTask, NewTask } from '@switchyard/core'
import { testBackend, type TestBackend } from './test-support.ts'
import type { BullMQBackend } from './backend.ts'

// Switchyard's kept counts (lua/lib/kept-counts.lua): pending and dead jobs by handler
// per queue, changed by every Switchyard script in the run that moves the job. After
// each round of many kinds of transitions they must equal a full scan of BullMQ's
// structures, and pendingHandlers / dlqStats must answer what the scan says.

const QUEUES = ['ka', 'kb']
const HANDLERS = ['h0', 'h1', 'h2', 'h3']

type ByQueue = Record<string, Record<string, number>>

async function setup (t: Test): Promise<TestBackend> {
  return await testBackend(t, 'sykept', { queues: QUEUES })
}

/** a deterministic pseudo-random sequence, so a failure can be replayed */
function sequence (seed: number): () => number {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x / 2147483648
  }
}

/** pending and dead jobs by name per queue, from every job id in BullMQ's (and Switchyard's parked) structures */
async function scan (redis: Redis, prefix: string): Promise<{ pending: ByQueue, dead: ByQueue }> {
  const pending: ByQueue = {}
  const dead: ByQueue = {}
  for (const q of QUEUES) {
    const base = `${prefix}:${q}:`
    const ids = [
      ...await redis.lrange(`${base}wait`, 0, -1),
      ...await redis.lrange(`${base}paused`, 0, -1),
      ...await redis.zrange(`${base}prioritized`, 0, -1),
      ...await redis.zrange(`${base}delayed`, 0, -1)
    ]
    for (const name of await redis.smembers(`${prefix}::sy:parkedh:${q}`)) ids.push(...await redis.zrange(`${prefix}::sy:parked:${q}:${name}`, 0, -1))
    pending[q] = await namesOf(redis, base, ids)
    dead[q] = await namesOf(redis, base, await redis.zrange(`${base}failed`, 0, -1))
  }
  return { pending, dead }
}

async function namesOf (redis: Redis, base: string, ids: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const id of ids) {
    const name = await redis.hget(base + id, 'name')
    if (name !== null) counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

async function kept (redis: Redis, prefix: string): Promise<{ pending: ByQueue, dead: ByQueue }> {
  const read = async (kind: string, q: string): Promise<Record<string, number>> =>
    Object.fromEntries(Object.entries(await redis.hgetall(`${prefix}::sy:${kind}:${q}`)).map(([name, n]) => [name, Number(n)]))
  const pending: ByQueue = {}
  const dead: ByQueue = {}
  for (const q of QUEUES) {
    pending[q] = await read('hp', q)
    dead[q] = await read('hd', q)
  }
  return { pending, dead }
}

async function assertExact (t: Test, backend: BullMQBackend, redis: Redis, prefix: string, after: string): Promise<void> {
  const [scanned, counted] = [await scan(redis, prefix), await kept(redis, prefix)]
  t.same(counted, scanned, `${after}: the kept counts equal a full scan`)
  const pairs = (await backend.pendingHandlers({ queues: QUEUES, limit: 1000 })).map(p => `${p.queue}/${p.handler}`).sort()
  const expected = QUEUES.flatMap(q => Object.keys(scanned.pending[q] ?? {}).map(name => `${q}/${name}`)).sort()
  t.same(pairs, expected, `${after}: pendingHandlers names every pending (queue, handler)`)
  const stats = await backend.dlqStats()
  const byHandler: Record<string, number> = {}
  for (const q of QUEUES) for (const [name, n] of Object.entries(scanned.dead[q] ?? {})) byHandler[name] = (byHandler[name] ?? 0) + n
  t.same(stats.byHandler, byHandler, `${after}: dlqStats by handler equals the scan`)
}

t.test('kept counts stay exact over many transitions of every kind', async t => {
  const { backend, redis, prefix } = await setup(t)
  const random = sequence(7)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  const task = (extra: Partial<NewTask> = {}): NewTask => ({
    queue: pick(QUEUES), handler: pick(HANDLERS), payload: {}, maxAttempts: 1 + Math.floor(random() * 3), priority: Math.floor(random() * 10),
    timeoutMs: 60_000, runAt: null, delayMs: random() < 0.2 ? 60_000 : 0, idempotencyKey: null, ...extra
  })
  const ids = (await backend.enqueue(Array.from({ length: 300 }, () => task()))).map(r => r.id)
  await assertExact(t, backend, redis, prefix, 'enqueue')

  const lease = async (limit: number, handlers?: string[], leaseMs = 60_000, workerId = 'w1'): Promise<LeasedTask[]> =>
    await backend.leaseTasks({ workerId, queues: QUEUES, limit, leaseMs, ...(handlers === undefined ? {} : { handlers }) })

  // leases that park other handlers' jobs, acks, acks that fetch the next job, retries now and later, dead-letters
  const parkedLease = await lease(40, ['h1'])
  const leased = [...parkedLease, ...await lease(60)]
  t.ok(leased.length > 50, 'jobs were leased')
  await assertExact(t, backend, redis, prefix, 'lease (with parking)')
  const [acks, fetching, retryNow, retryLater, dead, rest] = [leased.slice(0, 15), leased.slice(15, 25), leased.slice(25, 35), leased.slice(35, 45), leased.slice(45, 55), leased.slice(55)]
  await backend.completeTasks(acks.map(l => ({ id: l.id, leaseToken: l.leaseToken, result: null })))
  const fetched = await backend.completeAndLease(fetching.map(l => ({ id: l.id, leaseToken: l.leaseToken })), { workerId: 'w1', queues: [fetching[0]?.queue ?? 'ka'], limit: 10, leaseMs: 60_000 })
  t.ok(fetched.leased.length > 0, 'acks fetched next jobs')
  await backend.failTasks(retryNow.map(l => ({ id: l.id, leaseToken: l.leaseToken, error: { message: 'again' }, retryDelayMs: 0 })))
  await backend.failTasks(retryLater.map(l => ({ id: l.id, leaseToken: l.leaseToken, error: { message: 'later' }, retryDelayMs: 30_000 })))
  await backend.failTasks(dead.map(l => ({ id: l.id, leaseToken: l.leaseToken, error: { message: 'fatal' }, retryDelayMs: null })))
  await assertExact(t, backend, redis, prefix, 'ack, ack with fetch, retry, dead-letter')

  // release, expired leases recovered (some on their last attempt), a worker's leases released
  await backend.releaseTasks(rest.slice(0, 3).map(l => ({ id: l.id, leaseToken: l.leaseToken })))
  const short = await lease(30, undefined, 1)
  await new Promise(resolve => setTimeout(resolve, 50))
  const recovered = await backend.recoverExpiredLeases(1000)
  t.ok(recovered.requeued.length + recovered.dead.length >= short.length, 'expired leases recovered')
  await lease(20, undefined, 60_000, 'w2')
  await backend.releaseWorkerLeases({ workerId: 'w2', limit: 1000 })
  await assertExact(t, backend, redis, prefix, 'release, recovery, worker release')

  // operator actions: cancel, replay of dead tasks into another queue, delete, run now, reschedule, move
  for (const id of ids.slice(100, 110)) await backend.cancelTask(id)
  await backend.requeueTasks({ filter: { state: 'dead', limit: 5 }, fromStates: ['dead'], queue: 'kb' })
  await backend.requeueTasks({ filter: { state: 'dead', limit: 3 }, fromStates: ['dead'] })
  await backend.deleteTasks({ ids: ids.slice(110, 130), fromStates: ['ready', 'scheduled', 'retrying', 'dead', 'succeeded', 'canceled'] })
  await backend.applyTaskAction({ action: { kind: 'run_now' }, filter: { state: 'scheduled', limit: 10 } })
  await backend.applyTaskAction({ action: { kind: 'reschedule', runAt: Date.now() + 600_000, priority: 3 }, filter: { state: 'ready', limit: 10 } })
  await backend.applyTaskAction({ action: { kind: 'reschedule', maxAttempts: 5 }, filter: { state: 'retrying', limit: 3 } })
  await backend.applyTaskAction({ action: { kind: 'move', queue: 'kb' }, filter: { queue: 'ka', limit: 10 } })
  await backend.applyTaskAction({ action: { kind: 'move', queue: 'ka' }, filter: { queue: 'kb', state: 'dead', limit: 3 } })
  await backend.applyTaskAction({ action: { kind: 'cancel' }, filter: { state: 'scheduled', limit: 5 } })
  await assertExact(t, backend, redis, prefix, 'cancel, replay, delete, run now, reschedule, move')

  // dependencies: children blocked on a parent, released by its success or failed with a dead parent
  const [parentOk, parentDead] = (await backend.enqueue([task({ queue: 'ka', handler: 'p', priority: 1000, delayMs: 0 }), task({ queue: 'ka', handler: 'p', priority: 999, maxAttempts: 1, delayMs: 0 })])).map(r => r.id) as [string, string]
  await backend.enqueue([
    ...Array.from({ length: 4 }, () => task({ dependsOn: [parentOk] })),
    ...Array.from({ length: 2 }, () => task({ dependsOn: [parentDead], onParentFailure: 'dead' })),
    ...Array.from({ length: 2 }, () => task({ dependsOn: [parentDead], onParentFailure: 'cancel' }))
  ])
  await assertExact(t, backend, redis, prefix, 'children blocked')
  const parents = await lease(100, ['p'])
  const okLease = parents.find(l => l.id === parentOk)
  const deadLease = parents.find(l => l.id === parentDead)
  t.ok(okLease !== undefined && deadLease !== undefined, 'both parents leased')
  await backend.completeTasks([{ id: parentOk, leaseToken: okLease?.leaseToken ?? '' }])
  await backend.failTasks([{ id: parentDead, leaseToken: deadLease?.leaseToken ?? '', error: { message: 'no' }, retryDelayMs: null }])
  await assertExact(t, backend, redis, prefix, 'children released or failed with their parents')

  // BullMQ pause (wait -> paused), replace of a keyed task, pruning, and draining everything
  await backend.setQueuePaused('ka', true)
  await backend.enqueue([task({ queue: 'ka', idempotencyKey: 'key-1' }), task({ queue: 'ka', priority: 0, idempotencyKey: 'key-2' })])
  await backend.enqueue([task({ queue: 'ka', handler: 'h3', idempotencyKey: 'key-1', idempotencyMode: 'replace', delayMs: 120_000 })])
  await assertExact(t, backend, redis, prefix, 'paused queue, replace')
  await backend.setQueuePaused('ka', false)
  await backend.pruneFinished({ state: 'dead', finishedOlderThanMs: 0, limit: 7 })
  await backend.applyTaskAction({ action: { kind: 'run_now' }, filter: { state: 'scheduled', limit: 1000 } })
  await backend.applyTaskAction({ action: { kind: 'run_now' }, filter: { state: 'retrying', limit: 1000 } })
  for (let round = 0; round < 50; round++) {
    const batch = await lease(100)
    if (batch.length === 0) break
    await backend.completeTasks(batch.map(l => ({ id: l.id, leaseToken: l.leaseToken })))
  }
  await assertExact(t, backend, redis, prefix, 'pruned and drained')
  const drained = await kept(redis, prefix)
  t.same(drained.pending, { ka: {}, kb: {} }, 'nothing pending is left counted')
})

t.test('jobs other BullMQ code moved: the counts no longer add up and the readers look at the jobs instead', async t => {
  const { backend, redis, prefix } = await setup(t)
  const producer = new Queue('ka', { connection: redis, prefix })
  t.teardown(async () => { await producer.close() })
  await backend.enqueue([{ queue: 'ka', handler: 'mine', payload: {}, maxAttempts: 1, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null }])
  await producer.add('theirs', { n: 1 })
  t.same((await backend.pendingHandlers({ queues: ['ka'], limit: 10 })).map(p => p.handler).sort(), ['mine', 'theirs'], 'a plain producer\'s job is still seen')
  t.same(await redis.hgetall(`${prefix}::sy:hp:ka`), { mine: '1' }, 'only Switchyard\'s own add is counted')

  // dead jobs without kept counts (stored before the counts existed): dlqStats examines them
  const [leased] = await backend.leaseTasks({ workerId: 'w', queues: ['ka'], limit: 1, leaseMs: 60_000, handlers: ['mine'] })
  await backend.failTasks([{ id: leased?.id ?? '', leaseToken: leased?.leaseToken ?? '', error: { message: 'no' }, retryDelayMs: null }])
  t.same((await backend.dlqStats()).byHandler, { mine: 1 }, 'counted')
  await redis.del(`${prefix}::sy:hd:ka`)
  t.same((await backend.dlqStats()).byHandler, { mine: 1 }, 'without the counts: the same, from the jobs')
})

t.test('a fresh enqueue counts each job under its own name, in script calls of one name and of many', async t => {
  const { backend, redis, prefix } = await setup(t)
  // 250 tasks: the add calls (100 jobs each) hold many names, one name, then many again
  const names = Array.from({ length: 250 }, (_, i) => i >= 100 && i < 200 ? 'h1' : HANDLERS[i % 3] as string)
  await backend.enqueue(names.map(handler => ({ queue: 'ka', handler, payload: {}, maxAttempts: 1, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null })))
  const expected: Record<string, number> = {}
  for (const name of names) expected[name] = (expected[name] ?? 0) + 1
  t.same((await scan(redis, prefix)).pending.ka, expected, 'the jobs stored under those names')
  t.same(await kept(redis, prefix).then(k => k.pending.ka), expected, 'counted as stored')
})
