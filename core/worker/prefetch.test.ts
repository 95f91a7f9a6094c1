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

type Method = (...args: any[]) => Promise<unknown>
/** the real backend seen through a proxy: capabilities replaced, and the named methods
 *  wrapped (the wrapper gets the real method bound to the backend) or removed (null) */
function wrapBackend (real: Backend, change: { capabilities?: Partial<Backend['capabilities']>, methods?: Record<string, ((original: Method) => Method) | null> }): Backend {
  const capabilities = change.capabilities === undefined ? undefined : { ...real.capabilities, ...change.capabilities }
  return new Proxy(real, {
    get (target, prop, receiver) {
      if (prop === 'capabilities' && capabilities !== undefined) return capabilities
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      const wrap = typeof prop === 'string' ? change.methods?.[prop] : undefined
      if (wrap === null) return undefined
      const bound = value.bind(target) as Method
      return wrap === undefined ? bound : wrap(bound)
    }
  })
}

/** the real backend, reporting how many lease calls (alone or with acks) were in flight at most */
function leaseConcurrency (backend: Backend): { backend: Backend, max: () => number, combined: () => number } {
  let current = 0
  let max = 0
  let combined = 0
  const counted = (prop: string) => (original: Method): Method => async (...args) => {
    max = Math.max(max, ++current)
    if (prop === 'completeAndLease') combined++
    try { return await original(...args) } finally { current-- }
  }
  const methods = Object.fromEntries([...LEASE_CALLS].map(prop => [prop, counted(prop)]))
  return { backend: wrapBackend(backend, { methods }), max: () => max, combined: () => combined }
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
  const plain = wrapBackend(real, { methods: { completeAndLease: null } })
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
  const declaring = wrapBackend(real, {
    capabilities: { acksAwaitLeases: true },
    methods: {
      completeTasks: original => async (items: unknown[]) => { alone += items.length; return await original(items) },
      completeAndLease: original => async (items: unknown[], lease: unknown) => { carried += items.length; return await original(items, lease) }
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
    const sized = (original: Method): Method => async (...args) => {
      max = Math.max(max, (args[args.length - 1] as { limit: number }).limit)
      return await original(...args)
    }
    const backend = wrapBackend(real, {
      ...(declared === undefined ? {} : { capabilities: { deepLeaseCall: declared } }),
      methods: { leaseTasks: sized, completeAndLease: sized }
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
