// The admin overview over a backend that offers readOverview (Redis: one pipeline, one
// round trip) answers what the separate calls would, and makes no other backend call;
// AdminOptions.readReuseMs 0 computes every overview afresh; by default an overview or
// queue list is answered again for 100 ms unless the service made a change.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Backend } from '@switchyard/core'
import { createRedisBackend, RedisBackend } from '@switchyard/backend-redis'
import { deleteKeys } from '../../plugins/backend-redis/testing.ts'
import { call, makeDead, makeService, newTask, suffix } from '../../core/admin/test-support.ts'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

async function redisBackend (t: Test): Promise<RedisBackend> {
  const backend = createRedisBackend({ url, prefix: `sy:test:${randomBytes(6).toString('hex')}:` }) as RedisBackend
  t.teardown(async () => {
    try { await deleteKeys(backend.redis, backend.keys.base) } finally { await backend.close() }
  })
  await backend.init()
  return backend
}

/** the backend, counting the calls made through it by method */
function counting (backend: Backend): { backend: Backend, calls: Map<string, number> } {
  const calls = new Map<string, number>()
  const wrapped = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || typeof value !== 'function') return value
      return (...args: unknown[]) => { calls.set(prop, (calls.get(prop) ?? 0) + 1); return value.apply(target, args) }
    }
  })
  return { backend: wrapped, calls }
}

t.test('redis: one readOverview call answers the whole overview', async t => {
  const raw = await redisBackend(t)
  const q = `ov-${suffix()}`
  await makeDead(raw, q, 1)
  await raw.enqueue([newTask(q), newTask(q, { delayMs: 3600_000 }), newTask(q, { handler: 'nobody.runs' })])
  await raw.heartbeatWorker({ id: 'w1', host: 'h', pid: 1, version: 'v', queues: [q], handlers: ['test.handler'], concurrency: 4, inFlight: 2, startedAt: Date.now(), lastHeartbeatAt: Date.now() }, 60_000)
  const { backend, calls } = counting(raw)
  const { service, events } = makeService(t, backend, { readReuseMs: 0 })
  events.emit('task.succeeded', { id: 'x', durationMs: 10 })
  events.emit('task.succeeded', { id: 'y', durationMs: 30 })
  events.emit('task.dead', { id: 'z', durationMs: 20 })
  await events.flush()
  await service.PauseDequeue({}, call())
  await events.flush()

  calls.clear()
  const overview = await service.GetOverview({}, call())
  t.same([...calls.keys()], ['readOverview'], 'the overview made one backend call')
  t.match(overview.totals, { ready: 2, scheduled: 1, dead: 1 })
  t.match(overview.queues.find(queue => queue.name === q), { ready: 2, scheduled: 1, dead: 1 })
  t.ok(overview.queues.some(queue => queue.name === 'critical'), 'a queue named only in config is listed')
  t.match(overview, { activeWorkers: 1, inFlight: 2, coordination: { globalPaused: true } })
  t.match(overview.latency, { samples: 3, avgMs: 20, p95Ms: 30 }, 'latency from the event page read along')
  t.same(overview.unservedHandlers, [{ queue: q, handler: 'nobody.runs' }], 'the pending handler no live worker runs')

  events.emit('task.succeeded', { id: 'w', durationMs: 40 })
  await events.flush()
  await raw.enqueue([newTask(q)])
  calls.clear()
  const again = await service.GetOverview({}, call())
  t.equal(calls.get('readOverview'), 1, 'readReuseMs 0: computed afresh')
  t.match(again.totals, { ready: 3 }, 'a change made past the service shows at once')
  t.match(again.latency, { samples: 4 }, 'the next page continues where the last one ended, without reading an event twice')
})

t.test('the default reuse window answers a repeated overview from the last computation', async t => {
  const raw = await redisBackend(t)
  const { backend, calls } = counting(raw)
  const { service } = makeService(t, backend)
  const first = await service.GetOverview({}, call())
  calls.clear()
  const second = await service.GetOverview({}, call())
  t.equal(calls.size, 0, 'no backend call within the window')
  t.equal(second.generatedAt, first.generatedAt)

  const q = `reuse-${suffix()}`
  await raw.enqueue([newTask(q)])
  const listed = await service.ListQueues({}, call())
  t.ok(listed.queues.some(queue => queue.name === q), 'the queue list is computed on its first call')
  calls.clear()
  t.equal(await service.ListQueues({}, call()), listed, 'and answered again within the window')
  t.equal(calls.size, 0, 'without a backend call')
  await service.PauseQueue({ name: q, paused: true }, call())
  const after = await service.ListQueues({}, call())
  t.match(after.queues.find(queue => queue.name === q), { paused: true }, 'a change this service made shows at once')
  t.equal((await service.GetOverview({}, call())).queues.find(queue => queue.name === q)?.paused, true, 'in the overview too')
})

t.test('readReuseMs must be an integer of 0 or more', async t => {
  const raw = await redisBackend(t)
  t.throws(() => makeService(t, raw, { readReuseMs: -1 }), { code: 'ADMIN_OPTIONS_INVALID', details: { field: 'readReuseMs' } })
})
