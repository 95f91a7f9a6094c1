// Throughput sanity check: `npx tsx plugins/backend-redis/throughput.ts [tasks] [loops] [batch]`.
// Enqueues in batches, then several lease/complete loops drain the queue; prints tasks/s.
import { randomBytes } from 'node:crypto'
import type { NewTask } from '@switchyard/core'
import { createRedisBackend } from './index.ts'
import type { RedisBackend } from './backend.ts'
import { deleteKeys } from './testing.ts'

const total = Number(process.argv[2] ?? 50_000)
const loops = Number(process.argv[3] ?? 4)
const batch = Number(process.argv[4] ?? 200)
const prefix = `sy:bench:${randomBytes(4).toString('hex')}:`
const backend = createRedisBackend({ prefix }) as RedisBackend
await backend.init()
try {
  const task = (i: number): NewTask => ({ queue: 'bench', handler: 'noop', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null })
  let started = performance.now()
  for (let i = 0; i < total; i += 1000) {
    await backend.enqueue(Array.from({ length: Math.min(1000, total - i) }, (_, j) => task(i + j)))
  }
  const enqueueMs = performance.now() - started
  started = performance.now()
  let done = 0
  await Promise.all(Array.from({ length: loops }, async (_, w) => {
    for (;;) {
      const leased = await backend.leaseTasks({ workerId: `w${w}`, queues: ['bench'], limit: batch, leaseMs: 30_000 })
      if (leased.length === 0) return
      await backend.completeTasks(leased.map((t) => ({ id: t.id, leaseToken: t.leaseToken })))
      done += leased.length
    }
  }))
  const drainMs = performance.now() - started
  console.log(JSON.stringify({
    tasks: total,
    enqueuePerSec: Math.round(total / enqueueMs * 1000),
    leaseCompletePerSec: Math.round(done / drainMs * 1000),
    endToEndPerSec: Math.round(total / (enqueueMs + drainMs) * 1000)
  }))
} finally {
  await deleteKeys(backend.redis, backend.keys.base)
  await backend.close()
}
