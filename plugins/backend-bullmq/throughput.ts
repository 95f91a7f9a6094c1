// Quick throughput check on a scratch prefix: enqueue N tasks in batches, then drain
// them with several lease/complete loops. Run: node --import tsx plugins/backend-bullmq/throughput.ts [N] [loops]
import { randomBytes } from 'node:crypto'
import type { NewTask } from '@switchyard/core'
import { createBullMQBackend } from './index.ts'

const total = Number(process.argv[2] ?? 50_000)
const loops = Number(process.argv[3] ?? 4)
const batch = 1000
const backend = createBullMQBackend({ prefix: `sybench${randomBytes(4).toString('hex')}` })
await backend.init()
try {
  const task: NewTask = { queue: 'bench', handler: 'bench.noop', payload: { n: 1 }, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null }
  let started = performance.now()
  for (let i = 0; i < total; i += batch) await backend.enqueue(Array.from({ length: Math.min(batch, total - i) }, () => task))
  const enqueueMs = performance.now() - started
  started = performance.now()
  let done = 0
  await Promise.all(Array.from({ length: loops }, async (_, n) => {
    for (;;) {
      const leased = await backend.leaseTasks({ workerId: `bench-${n}`, queues: ['bench'], limit: 50, leaseMs: 30_000 })
      if (leased.length === 0) return
      await backend.completeTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken })))
      done += leased.length
    }
  }))
  const drainMs = performance.now() - started
  const rate = (n: number, ms: number): string => `${Math.round(n / (ms / 1000))}/s`
  console.log(`enqueue ${total} in batches of ${batch}: ${Math.round(enqueueMs)} ms (${rate(total, enqueueMs)})`)
  console.log(`lease+complete ${done} with ${loops} loops of 50: ${Math.round(drainMs)} ms (${rate(done, drainMs)})`)
} finally {
  await backend.destroyAllData()
  await backend.close()
}
