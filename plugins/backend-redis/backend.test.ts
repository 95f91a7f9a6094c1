// Behaviour of the Redis backend beyond the shared conformance suite: option checks,
// wake-up latency of idle workers, batch splitting, and how failures surface.
import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { isSwitchyardError, type NewTask } from '@switchyard/core'
import { waitFor } from '@switchyard/core/testing'
import { createRedisBackend, resolveOptions, RedisBackendOptionsSchema, SCRIPT_BATCH } from './index.ts'
import { openTestBackend } from './testing.ts'

const task = (queue: string, i = 0): NewTask => ({ queue, handler: 'h', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null })

function codeOf (err: unknown): string | undefined {
  return isSwitchyardError(err) ? err.code : undefined
}

t.test('options: defaults filled, bad fields named', async (t) => {
  const o = resolveOptions({})
  t.match(o, { url: 'redis://127.0.0.1:6379', prefix: 'sy:', commandTimeoutMs: 5000, maxEvents: 10_000, maxAudit: 10_000, allowEvictingMemoryPolicy: false })
  t.equal(RedisBackendOptionsSchema.type, 'object')
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ url: 'http://x' }, 'options.url'],
    [{ prefix: 'a{b}' }, 'options.prefix'],
    [{ commandTimeoutMs: 0 }, 'options.commandTimeoutMs'],
    [{ sentinels: [{ host: 'h', port: 26379 }] }, 'options.sentinelName'],
    [{ nope: true }, 'options.nope']
  ]
  for (const [input, field] of cases) {
    try {
      resolveOptions(input as never)
      t.fail(`${JSON.stringify(input)} accepted`)
    } catch (err) {
      t.equal(codeOf(err), 'VALIDATION_FAILED', JSON.stringify(input))
      t.equal((err as { details?: { field?: string } }).details?.field, field)
    }
  }
})

t.test('an idle worker wakes on a publish within a few ms of the enqueue', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const producer = createRedisBackend({ prefix: backend.keys.base.slice(1, -1) })
  await producer.init()
  t.teardown(() => producer.close())
  let woke: (() => void) | null = null
  const unsubscribe = await backend.subscribeWork!((queue) => { if (queue === 'wake') woke?.() })
  const latencies: number[] = []
  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    const arrived = new Promise<void>((resolve) => { woke = resolve })
    await producer.enqueue([task('wake', i)])
    await arrived
    latencies.push(performance.now() - started)
  }
  await unsubscribe()
  latencies.sort((a, b) => a - b)
  const p50 = latencies[Math.floor(latencies.length / 2)]!
  t.comment(`enqueue→wake latency p50 ${p50.toFixed(2)} ms, max ${latencies.at(-1)!.toFixed(2)} ms`)
  t.ok(p50 < 50, `p50 ${p50.toFixed(2)} ms is a push, not a poll`)
  let late = 0
  const after = await backend.subscribeWork!(() => { late++ })
  await after()
  await producer.enqueue([task('wake')])
  const [leased] = await backend.leaseTasks({ workerId: 'w', queues: ['wake'], limit: 1, leaseMs: 1000 })
  t.ok(leased, 'work is there')
  t.equal(late, 0, 'no calls after unsubscribe')
})

t.test('batches larger than one script call are split and answered in order', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const n = SCRIPT_BATCH * 2 + 17
  const results = await backend.enqueue(Array.from({ length: n }, (_, i) => task('big', i)))
  t.equal(results.length, n)
  t.equal(new Set(results.map((r) => r.id)).size, n, 'unique ids')
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['big'], limit: 1000, leaseMs: 60_000 })
  t.same(leased.map((l) => (l.payload as { i: number }).i), Array.from({ length: 1000 }, (_, i) => i), 'FIFO across the split')
  const more = await backend.leaseTasks({ workerId: 'w', queues: ['big'], limit: 1000, leaseMs: 60_000 })
  const all = [...leased, ...more]
  const acks = await backend.completeTasks(all.map((l) => ({ id: l.id, leaseToken: l.leaseToken })))
  t.equal(acks.filter((a) => a === 'ok').length, 2000)
  const [stats] = await backend.queueStats(['big'])
  t.match(stats, { ready: 17, processing: 0, succeeded: 2000 })
})

// The contract's argument checks run in core (core/backend/argument-guard.test.ts);
// these are the rules of Redis' own storage.
t.test('input this backend cannot take is refused before reaching Redis, naming the field', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const attempts: Array<[() => Promise<unknown>, string]> = [
    [() => backend.leaseTasks({ workerId: 'w', queues: Array.from({ length: 1001 }, (_, i) => `q${i}`), limit: 1, leaseMs: 10 }), 'queues'],
    [() => backend.readEvents({ afterId: 'garbage', limit: 10 }), 'afterId'],
    [() => backend.listAudit({ limit: 10, beforeId: 'garbage' }), 'beforeId']
  ]
  for (const [call, field] of attempts) {
    try {
      await call()
      t.fail(`${field}: accepted`)
    } catch (err) {
      t.equal(codeOf(err), 'VALIDATION_FAILED', field)
      t.equal((err as { details?: { field?: string } }).details?.field, field)
    }
  }
})

t.test('a server that accepts but never answers surfaces as BACKEND_TIMEOUT within commandTimeoutMs', async (t) => {
  const sockets = new Set<Socket>()
  const server = createServer((s) => { sockets.add(s) }) // a black hole: reads, never replies
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close() })
  const port = (server.address() as { port: number }).port
  const backend = createRedisBackend({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 200 })
  t.teardown(() => backend.close())
  const started = Date.now()
  const err = await backend.init().then(() => null, (e: unknown) => e)
  t.equal(codeOf(err), 'BACKEND_TIMEOUT', String(err))
  t.ok(Date.now() - started < 2000, 'bounded by commandTimeoutMs, not a library default')
})

t.test('a refused connection surfaces as BACKEND_UNAVAILABLE', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const backend = createRedisBackend({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 })
  t.teardown(() => backend.close())
  const err = await backend.init().then(() => null, (e: unknown) => e)
  t.ok(['BACKEND_UNAVAILABLE', 'BACKEND_TIMEOUT'].includes(codeOf(err) ?? ''), `got ${codeOf(err)}: ${(err as Error)?.message}`)
})

t.test('a due scheduled task becomes leasable without anyone touching it (promotion inside lease)', async (t) => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const [{ id }] = await backend.enqueue([{ ...task('later'), delayMs: 150 }]) as unknown as [{ id: string }]
  t.equal((await backend.getTask(id))?.state, 'scheduled')
  t.same(await backend.leaseTasks({ workerId: 'w', queues: ['later'], limit: 1, leaseMs: 1000 }), [], 'not before its time')
  const leased = await waitFor(async () => (await backend.leaseTasks({ workerId: 'w', queues: ['later'], limit: 1, leaseMs: 1000 }))[0],
    { timeoutMs: 5000, what: 'the scheduled task to become due' })
  t.equal(leased.id, id)
})
