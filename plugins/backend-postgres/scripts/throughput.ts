// Throughput sanity check against a real Postgres server (not a test): enqueue N
// tasks in batches, then several concurrent loops lease and complete them in
// batches, and report tasks/s. Usage:
//   node --import tsx plugins/backend-postgres/scripts/throughput.ts [tasks] [loops] [batch]
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { NewTask } from '@switchyard/core'
import { createPostgresBackend } from '../index.ts'

const url = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const total = Number(process.argv[2] ?? 20_000)
const loops = Number(process.argv[3] ?? 4)
const batch = Number(process.argv[4] ?? 200)
const schema = `sy_bench_${randomBytes(4).toString('hex')}`
const queue = 'bench'

const backend = createPostgresBackend({ connectionString: url, schema, poolSize: loops + 2 })
await backend.init()
try {
  const task = (i: number): NewTask => ({ queue, handler: 'bench.noop', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null })
  let t0 = performance.now()
  for (let i = 0; i < total; i += 1000) await backend.enqueue(Array.from({ length: Math.min(1000, total - i) }, (_, j) => task(i + j)))
  const enqueueMs = performance.now() - t0

  t0 = performance.now()
  let done = 0
  await Promise.all(Array.from({ length: loops }, async (_, n) => {
    for (;;) {
      const leased = await backend.leaseTasks({ workerId: `bench-${n}`, queues: [queue], limit: batch, leaseMs: 60_000 })
      if (leased.length === 0) return
      const outcomes = await backend.completeTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken })))
      done += outcomes.filter(o => o === 'ok').length
    }
  }))
  const processMs = performance.now() - t0

  // latency: one idle subscriber, enqueue one task at a time, time until it is leased
  const latencies: number[] = []
  let wake: (() => void) | null = null
  const unsubscribe = await backend.subscribeWork!(() => { wake?.() })
  for (let i = 0; i < 200; i++) {
    const woken = new Promise<void>(resolve => { wake = resolve })
    const start = performance.now()
    await backend.enqueue([task(i)])
    await woken
    const [leased] = await backend.leaseTasks({ workerId: 'lat', queues: [queue], limit: 1, leaseMs: 60_000 })
    latencies.push(performance.now() - start)
    if (leased !== undefined) await backend.completeTasks([{ id: leased.id, leaseToken: leased.leaseToken }])
  }
  await unsubscribe()
  latencies.sort((a, b) => a - b)
  const [stats] = await backend.queueStats([queue])
  console.log(JSON.stringify({
    tasks: total,
    loops,
    batch,
    enqueuePerSec: Math.round(total / (enqueueMs / 1000)),
    leaseCompletePerSec: Math.round(done / (processMs / 1000)),
    endToEndPerSec: Math.round(total / ((enqueueMs + processMs) / 1000)),
    enqueueToLeaseP50Ms: Number(latencies[Math.floor(latencies.length / 2)]?.toFixed(2)),
    enqueueToLeaseP95Ms: Number(latencies[Math.floor(latencies.length * 0.95)]?.toFixed(2)),
    succeeded: stats?.succeeded
  }))
} finally {
  await backend.close()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
}
