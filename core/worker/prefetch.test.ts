// Leasing ahead of the handlers: short tasks keep a second lease call in flight,
// tasks waiting for a slot are renewed with the running ones and handed back on stop.
import t from 'tap'
import type { Backend } from '../backend/types.ts'
import { createWorker } from './worker.ts'
import { enqueueMany, gate, openTestBackend, quietLog, waitFor, type TestBackend } from '../../test/worker/support.ts'

let tb: TestBackend
t.before(async () => { tb = await openTestBackend('postgres') })
t.teardown(async () => { await tb.destroy() })

const LEASE_CALLS = new Set(['leaseTasks', 'completeAndLease'])

/** the real backend, reporting how many lease calls (alone or with acks) were in flight at most */
function leaseConcurrency (backend: Backend): { backend: Backend, max: () => number, combined: () => number } {
  let current = 0
  let max = 0
  let combined = 0
  const proxy = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || !LEASE_CALLS.has(prop) || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value
      return async (...args: unknown[]) => {
        max = Math.max(max, ++current)
        if (prop === 'completeAndLease') combined++
        try { return await value.apply(target, args) } finally { current-- }
      }
    }
  })
  return { backend: proxy, max: () => max, combined: () => combined }
}

t.test('short tasks: a second lease call runs while handlers run; every task runs once', async t => {
  const queue = `prefetch-${Date.now()}`
  const total = 400
  await enqueueMany(tb.backend, total, i => ({ queue, handler: 'quick', payload: { i } }))
  const seen = new Map<number, number>()
  const probe = leaseConcurrency(tb.backend)
  const worker = createWorker({
    backend: probe.backend,
    handlers: { quick: (p: { i: number }) => { seen.set(p.i, (seen.get(p.i) ?? 0) + 1) } },
    options: { queues: [queue], concurrency: 5, batchSize: 5, pollMs: 50 },
    log: quietLog
  })
  t.teardown(() => worker.stop())
  await worker.start()
  await waitFor(() => worker.counters.processed === total, `${total} tasks acknowledged`, 30_000)
  await worker.stop()
  t.equal(seen.size, total, 'every task ran')
  t.ok([...seen.values()].every(n => n === 1), 'none ran twice')
  t.equal(worker.counters.leased, total, 'leased exactly once each')
  t.equal(probe.max(), 2, 'two lease calls overlapped, never more')
  t.ok(probe.combined() > 0, `acks rode along with leases (${probe.combined()} combined calls)`)
})

t.test('a backend without completeAndLease: acks and leases go as separate calls', async t => {
  const queue = `prefetch-plain-${Date.now()}`
  const total = 200
  await enqueueMany(tb.backend, total, i => ({ queue, handler: 'quick', payload: { i } }))
  const real = tb.backend
  const plain = new Proxy(real, {
    get (target, prop, receiver) {
      if (prop === 'completeAndLease') return undefined
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const probe = leaseConcurrency(plain)
  const seen = new Set<number>()
  const worker = createWorker({
    backend: probe.backend,
    handlers: { quick: (p: { i: number }) => { seen.add(p.i) } },
    options: { queues: [queue], concurrency: 5, batchSize: 5, pollMs: 50 },
    log: quietLog
  })
  t.teardown(() => worker.stop())
  await worker.start()
  await waitFor(() => worker.counters.processed === total, `${total} tasks acknowledged`, 30_000)
  await worker.stop()
  t.equal(seen.size, total, 'every task ran')
  t.equal(probe.combined(), 0, 'no combined call')
  const [stats] = await real.queueStats([queue])
  t.match(stats, { ready: 0, processing: 0, succeeded: total })
})

t.test('tasks waiting for a slot are handed back on stop without consuming their attempt', async t => {
  const queue = `prefetch-stop-${Date.now()}`
  const hold = gate()
  let blocked = 0
  // enough short tasks first that the worker starts prefetching
  await enqueueMany(tb.backend, 60, () => ({ queue, handler: 'quick' }))
  const worker = createWorker({
    backend: tb.backend,
    handlers: {
      quick: () => {},
      slow: async () => { blocked++; await hold.promise }
    },
    options: { queues: [queue], concurrency: 1, batchSize: 3, pollMs: 20, shutdownGraceMs: 0, leaseMs: 1_000, leaseRenewMs: 100 },
    log: quietLog
  })
  t.teardown(async () => { hold.open(); await worker.stop() })
  await worker.start()
  await waitFor(() => worker.counters.processed === 60, 'the short tasks')
  const slow = await enqueueMany(tb.backend, 3, () => ({ queue, handler: 'slow', maxAttempts: 1 }))
  await waitFor(() => blocked === 1 && worker.counters.leased === 61 + 1, 'one slow task running, one leased behind it')
  // renewals cover the waiting task too: after several lease lengths it is still ours
  await new Promise(resolve => setTimeout(resolve, 1_500))
  t.equal(worker.counters.leaseLost, 0, 'no lease lost while waiting')
  await worker.stop()
  t.equal(worker.counters.released, 2, 'the running and the waiting task were released')
  for (const id of slow) {
    const stored = await tb.backend.getTask(id)
    t.match(stored, { state: 'ready', attempts: 0 }, `task ${id} is ready with its attempt intact`)
  }
})

t.test('acksAwaitLeases: acks wait for the lease calls to carry them; every task runs once', async t => {
  const queue = `prefetch-await-${Date.now()}`
  const total = 600
  await enqueueMany(tb.backend, total, i => ({ queue, handler: 'quick', payload: { i } }))
  const real = tb.backend
  let alone = 0
  let carried = 0
  const declaring = new Proxy(real, {
    get (target, prop, receiver) {
      if (prop === 'capabilities') return { ...target.capabilities, acksAwaitLeases: true }
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      if (prop === 'completeTasks') return async (items: unknown[]) => { alone += items.length; return await value.call(target, items) }
      if (prop === 'completeAndLease') return async (items: unknown[], lease: unknown) => { carried += items.length; return await value.call(target, items, lease) }
      return value.bind(target)
    }
  })
  const seen = new Map<number, number>()
  const worker = createWorker({
    backend: declaring,
    handlers: { quick: (p: { i: number }) => { seen.set(p.i, (seen.get(p.i) ?? 0) + 1) } },
    options: { queues: [queue], concurrency: 5, batchSize: 5, pollMs: 50 },
    log: quietLog
  })
  t.teardown(() => worker.stop())
  await worker.start()
  await waitFor(() => worker.counters.processed === total, `${total} tasks acknowledged`, 30_000)
  await worker.stop()
  t.equal(seen.size, total, 'every task ran')
  t.ok([...seen.values()].every(n => n === 1), 'none ran twice')
  t.equal(alone + carried, total, 'each ack sent once')
  t.ok(carried > alone, `most acks rode on lease calls (${carried} carried, ${alone} alone)`)
  const [stats] = await real.queueStats([queue])
  t.match(stats, { ready: 0, processing: 0, succeeded: total })
})

t.test('deep queue of short tasks: lease calls grow to 8 batches, or to the size the backend declares (deepLeaseCall), at most 20 batches', async t => {
  const largest = async (declared: number | undefined): Promise<number> => {
    const queue = `prefetch-deep-${declared ?? 'default'}-${Date.now()}`
    const total = 400
    await enqueueMany(tb.backend, total, i => ({ queue, handler: 'quick', payload: { i } }))
    let max = 0
    const real = tb.backend
    const capabilities = declared === undefined ? real.capabilities : { ...real.capabilities, deepLeaseCall: declared }
    const backend = new Proxy(real, {
      get (target, prop, receiver) {
        if (prop === 'capabilities') return capabilities
        const value = Reflect.get(target, prop, receiver)
        if (typeof value !== 'function') return value
        if (prop !== 'leaseTasks' && prop !== 'completeAndLease') return value.bind(target)
        return async (...args: unknown[]) => {
          max = Math.max(max, (args[args.length - 1] as { limit: number }).limit)
          return await value.apply(target, args)
        }
      }
    })
    const worker = createWorker({ backend, handlers: { quick: () => {} }, options: { queues: [queue], concurrency: 5, batchSize: 5, pollMs: 50 }, log: quietLog })
    t.teardown(() => worker.stop())
    await worker.start()
    await waitFor(() => worker.counters.processed === total, `${total} tasks acknowledged`, 30_000)
    await worker.stop()
    t.equal(worker.counters.leased, total, 'leased exactly once each')
    return max
  }
  t.equal(await largest(undefined), 40, 'eight batches of 5')
  t.equal(await largest(60), 60, 'the declared size')
  t.equal(await largest(1000), 100, 'a declared size beyond 20 batches: 20 batches (a small worker asks for little)')
})
