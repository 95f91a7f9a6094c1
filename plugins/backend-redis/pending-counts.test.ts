// The per-queue pending counts (ph:<queue>, handler -> ready + scheduled + retrying tasks,
// see lua/lib/common.lua) must equal the truth after any mix of transitions: a seeded
// random run of every operation that moves tasks, checked against a full read of every
// task hash after each step; and the one-time rebuild for data written before the counts.
import t, { type Test } from 'tap'
import { isSwitchyardError, type LeaseRef, type NewTask, type TaskState } from '@switchyard/core'
import { RedisBackend } from './backend.ts'
import { resolveOptions } from './options.ts'
import { scriptSource } from './scripts.ts'
import { openTestBackend, TEST_REDIS_URL } from './testing.ts'

const QUEUES = ['pa', 'pb', 'pc']
const HANDLERS = ['mail', 'sms', 'push', 'fax']
const PENDING = new Set<string>(['ready', 'scheduled', 'retrying'])
const NOT_PROCESSING: TaskState[] = ['ready', 'scheduled', 'retrying', 'blocked', 'dead', 'succeeded', 'canceled']

type Counts = Record<string, Record<string, number>>

/** Park–Miller: the same run every time, so a failure reproduces */
function seeded (seed: number): () => number {
  let s = seed
  return () => { s = (s * 48271) % 2147483647; return s / 2147483647 }
}

/** pending tasks per queue and handler, from every task hash (the all-tasks index names them) */
async function truth (backend: RedisBackend): Promise<Counts> {
  const k = backend.keys
  const ids = await backend.redis.zrange(k.all, 0, -1)
  const pipeline = backend.redis.pipeline()
  for (const id of ids) pipeline.hmget(k.task(id), 's', 'q', 'h')
  const replies = ids.length === 0 ? [] : (await pipeline.exec()) ?? []
  const out: Counts = {}
  for (const [err, value] of replies) {
    if (err !== null) throw err
    const [state, queue, handler] = value as [string | null, string | null, string | null]
    if (state === null || queue === null || handler === null || !PENDING.has(state)) continue
    out[queue] ??= {}
    out[queue][handler] = (out[queue][handler] ?? 0) + 1
  }
  return out
}

/** the counts the scripts keep, for every known queue (queues without pending work left out) */
async function stored (backend: RedisBackend): Promise<Counts> {
  const out: Counts = {}
  for (const queue of await backend.redis.hkeys(backend.keys.queues)) {
    const fields = await backend.redis.hgetall(`${backend.keys.base}ph:${queue}`)
    if (Object.keys(fields).length > 0) out[queue] = Object.fromEntries(Object.entries(fields).map(([h, n]) => [h, Number(n)]))
  }
  return out
}

/** counts, pendingHandlers and queueStats against the truth; true when all agree */
async function agrees (t: Test, backend: RedisBackend, step: string): Promise<boolean> {
  const want = await truth(backend)
  const got = await stored(backend)
  const queues = await backend.redis.hkeys(backend.keys.queues)
  const pairs = (await backend.pendingHandlers({ queues, limit: 1000 })).map(p => `${p.queue}/${p.handler}`).sort()
  const wantPairs = Object.entries(want).flatMap(([q, hs]) => Object.keys(hs).map(h => `${q}/${h}`)).sort()
  const stats = await backend.queueStats()
  const pendingByStats = Object.fromEntries(stats.map(s => [s.name, s.ready + s.scheduled + s.retrying]))
  const pendingByCounts = Object.fromEntries(stats.map(s => [s.name, Object.values(got[s.name] ?? {}).reduce((a, b) => a + b, 0)]))
  const ok = JSON.stringify(sorted(got)) === JSON.stringify(sorted(want)) && JSON.stringify(pairs) === JSON.stringify(wantPairs) &&
    JSON.stringify(pendingByCounts) === JSON.stringify(pendingByStats)
  if (!ok) {
    t.same(got, want, `${step}: counts equal a full read of the tasks`)
    t.same(pairs, wantPairs, `${step}: pendingHandlers equals the pending pairs`)
    t.same(pendingByCounts, pendingByStats, `${step}: counts add up to queueStats' ready + scheduled + retrying`)
  }
  return ok
}

function sorted (c: Counts): Array<[string, Array<[string, number]>]> {
  return Object.entries(c).sort(([a], [b]) => a.localeCompare(b)).map(([q, hs]) => [q, Object.entries(hs).sort(([a], [b]) => a.localeCompare(b))])
}

function newTask (queue: string, handler: string, extra: Partial<NewTask> = {}): NewTask {
  return { queue, handler, payload: {}, maxAttempts: 2, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null, ...extra }
}

t.test('pending counts equal a full read of the tasks after 300 random transitions of every kind', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const rnd = seeded(20261206)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!
  const ids: string[] = []
  const leased = new Map<string, LeaseRef>()
  const some = <T>(items: readonly T[], n: number): T[] => Array.from({ length: Math.min(n, items.length) }, () => pick(items))
  const takeLeased = (n: number): LeaseRef[] => {
    const refs = some([...leased.values()], n)
    for (const ref of refs) leased.delete(ref.id)
    return [...new Map(refs.map(r => [r.id, r])).values()]
  }

  const ops: Record<string, () => Promise<void>> = {
    async enqueue () {
      const tasks = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => {
        const extra: Partial<NewTask> = {}
        const r = rnd()
        if (r < 0.25) extra.delayMs = 60_000
        else if (r < 0.35) extra.runAt = 1 // due at once: scheduled only in name, promoted by the next lease
        if (rnd() < 0.2) { extra.idempotencyKey = `k${Math.floor(rnd() * 10)}`; extra.idempotencyMode = pick(['replace', 'preserve_run_at'] as const) }
        if (rnd() < 0.2 && ids.length > 0) { extra.dependsOn = [...new Set(some(ids, 2))]; extra.onParentFailure = pick(['cancel', 'dead'] as const) }
        return newTask(pick(QUEUES), pick(HANDLERS), extra)
      })
      try {
        for (const r of await backend.enqueue(tasks)) if (r.created) ids.push(r.id)
      } catch (err) {
        // a parent deleted by an earlier step: the whole call is refused
        if (!(isSwitchyardError(err) && err.code === 'VALIDATION_FAILED')) throw err
      }
    },
    async lease () {
      const handlers = rnd() < 0.5 ? undefined : some(HANDLERS, 2)
      const short = rnd() < 0.3
      const got = await backend.leaseTasks({ workerId: pick(['w1', 'w2']), queues: some(QUEUES, 2), limit: 1 + Math.floor(rnd() * 6), leaseMs: short ? 1 : 60_000, ...(handlers === undefined ? {} : { handlers }) })
      for (const l of got) leased.set(l.id, { id: l.id, leaseToken: l.leaseToken })
    },
    async complete () { await backend.completeTasks(takeLeased(3)) },
    async fail () {
      await backend.failTasks(takeLeased(3).map(ref => ({ ...ref, error: { message: 'boom' }, retryDelayMs: pick([null, 0, 60_000]) })))
    },
    async release () { await backend.releaseTasks(takeLeased(2)) },
    async cancel () { if (ids.length > 0) await backend.cancelTask(pick(ids)) },
    async delete () { await backend.deleteTasks({ ids: some(ids, 3), fromStates: NOT_PROCESSING }) },
    async replay () { await backend.requeueTasks({ ids: some(ids, 3), fromStates: ['dead', 'canceled', 'succeeded'], ...(rnd() < 0.3 ? { queue: pick(QUEUES) } : {}) }) },
    async move () { await backend.applyTaskAction({ ids: some(ids, 3), action: { kind: 'move', queue: pick(QUEUES) } }) },
    async runNow () { await backend.applyTaskAction({ ids: some(ids, 3), action: { kind: 'run_now' } }) },
    async reschedule () {
      const runAt = Date.now() + pick([-1000, 60_000])
      await backend.applyTaskAction({ ids: some(ids, 3), action: { kind: 'reschedule', runAt, priority: pick([0, 5]) } })
    },
    async purge () { await backend.applyTaskAction({ filter: { queue: pick(QUEUES), state: pick(['ready', 'scheduled'] as const), limit: 5 }, action: { kind: 'delete' } }) },
    async drain () { await backend.applyTaskAction({ filter: { queue: pick(QUEUES), limit: 5 }, action: { kind: 'cancel' } }) },
    async retryAll () { await backend.applyTaskAction({ filter: { state: 'dead', limit: 5 }, action: { kind: 'retry' } }) },
    async recover () {
      const { requeued, dead } = await backend.recoverExpiredLeases(100)
      for (const id of [...requeued, ...dead]) leased.delete(id)
    },
    async releaseWorker () {
      const { requeued, dead } = await backend.releaseWorkerLeases({ workerId: pick(['w1', 'w2']), limit: 5 })
      for (const id of [...requeued, ...dead]) leased.delete(id)
    },
    async prune () { await backend.pruneFinished({ state: pick(['succeeded', 'canceled', 'dead'] as const), finishedOlderThanMs: 0, limit: 3 }) }
  }
  // enqueue and lease more often, so the keyspace keeps moving
  const schedule = ['enqueue', 'enqueue', 'enqueue', 'lease', 'lease', 'lease', ...Object.keys(ops)]
  const used = new Map<string, number>()
  let failedAt: string | null = null
  for (let step = 1; step <= 300 && failedAt === null; step++) {
    const name = pick(schedule)
    await ops[name]!()
    used.set(name, (used.get(name) ?? 0) + 1)
    if (!await agrees(t, backend, `step ${step} (${name})`)) failedAt = `step ${step} (${name})`
  }
  t.equal(failedAt, null, 'the counts agreed after every step')
  t.equal(used.size, Object.keys(ops).length, `every operation ran (${[...used].map(([n, c]) => `${n} ${c}`).join(', ')})`)
  const pending = Object.values(await truth(backend)).flatMap(hs => Object.values(hs)).reduce((a, b) => a + b, 0)
  t.ok(pending > 0, `pending work was left to count (${pending} tasks, ${ids.length} created)`)
})

t.test('flow-limited leases (parking a saturated handler) and the overview read keep the counts exact', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  await backend.setFlowLimit({ kind: 'handler', name: 'mail' }, { concurrency: 1, rate: null })
  await backend.enqueue([...Array.from({ length: 5 }, () => newTask('fq', 'mail')), newTask('fq', 'sms'), newTask('fq', 'sms', { delayMs: 60_000 })])
  const got = await backend.leaseTasks({ workerId: 'w', queues: ['fq'], limit: 10, leaseMs: 60_000 })
  t.equal(got.filter(l => l.handler === 'mail').length, 1, 'one mail task under its limit, the others parked')
  t.same(await stored(backend), { fq: { mail: 4, sms: 1 } })
  t.ok(await agrees(t, backend, 'after a limited lease'))
  const read = await backend.readOverview({ pendingLimit: 100, events: null })
  t.same(read.pending.map(p => `${p.queue}/${p.handler}`).sort(), ['fq/mail', 'fq/sms'], 'the overview reads the same pairs')
})

t.test('data written before the counts: init rebuilds them once, exact, and sharing the walk', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const k = backend.keys
  await backend.enqueue([
    ...Array.from({ length: 30 }, (_, i) => newTask(QUEUES[i % 3]!, HANDLERS[i % 4]!)),
    ...Array.from({ length: 10 }, (_, i) => newTask('pa', 'later', { delayMs: 60_000 + i }))
  ])
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['pa'], limit: 3, leaseMs: 60_000, handlers: ['mail'] })
  await backend.failTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken, error: { message: 'x' }, retryDelayMs: 60_000 })))
  const want = await truth(backend)
  t.ok(Object.keys(want).length === 3 && want.pa!.later === 10 && want.pa!.mail! > 0, 'ready, parked, scheduled and retrying tasks exist')

  // as an older version left it: no counts, no marker (and one count gone wrong)
  const forget = async (): Promise<void> => {
    for (const q of QUEUES) await backend.redis.del(`${k.base}ph:${q}`)
    await backend.redis.del(k.pendingCounted, k.pendingCursor)
    await backend.redis.hset(`${k.base}ph:pb`, 'ghost', 7)
  }
  await forget()
  const open = (): RedisBackend => new RedisBackend(resolveOptions({ url: TEST_REDIS_URL, prefix: backend.keys.base.slice(1, -1) }))
  const [a, b] = [open(), open()]
  t.teardown(async () => { await a.close(); await b.close() })
  await Promise.all([a.init(), b.init()])
  t.same(sorted(await stored(backend)), sorted(want), 'two processes opening at once: counts rebuilt exactly')
  t.equal(await backend.redis.get(k.pendingCounted), '1', 'marked as counted')
  t.equal(await backend.redis.exists(k.pendingCursor), 0, 'no cursor left')

  // later opens make one call that reads the marker
  await backend.redis.hset(`${k.base}ph:pc`, 'ghost', 1)
  const c = open()
  t.teardown(async () => { await c.close() })
  await c.init()
  t.equal(await backend.redis.hget(`${k.base}ph:pc`, 'ghost'), '1', 'a marked keyspace is not walked again')
  await backend.redis.hdel(`${k.base}ph:pc`, 'ghost')

  // a walk of 7 tasks a page, with transitions of every kind between the pages:
  // tasks behind the cursor are counted by the transition, the others by the walk
  await forget()
  const rnd = seeded(7)
  const ids = await backend.redis.zrange(k.all, 0, -1)
  let pages = 0
  for (;;) {
    const step = pages % 4
    if (step === 0) await backend.enqueue([newTask(QUEUES[pages % 3]!, 'late'), newTask('pb', 'mail', { delayMs: 60_000 })])
    if (step === 1) {
      const got = await backend.leaseTasks({ workerId: 'w', queues: QUEUES, limit: 4, leaseMs: 60_000 })
      await backend.completeTasks(got.slice(0, 2).map(l => ({ id: l.id, leaseToken: l.leaseToken })))
      await backend.failTasks(got.slice(2).map(l => ({ id: l.id, leaseToken: l.leaseToken, error: { message: 'x' }, retryDelayMs: 60_000 })))
    }
    if (step === 2) await backend.applyTaskAction({ ids: [ids[Math.floor(rnd() * ids.length)]!, ids[Math.floor(rnd() * ids.length)]!], action: { kind: 'move', queue: QUEUES[pages % 3]! } })
    if (step === 3) await backend.cancelTask(ids[Math.floor(rnd() * ids.length)]!)
    pages++
    if (await backend.redis.call('EVALSHA', await scriptSha(backend), 1, k.all, k.base, 7) === -1) break
  }
  t.ok(pages > 5, `the walk took ${pages} pages with transitions between them`)
  t.ok(await agrees(t, backend, 'after a walk with transitions between its pages'))
})

/** the sha of pending_rebuild.lua, loaded on the backend's connection */
async function scriptSha (backend: RedisBackend): Promise<string> {
  return await backend.redis.script('LOAD', scriptSource('pending_rebuild')) as string
}
