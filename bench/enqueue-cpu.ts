// Client CPU per enqueued task: normalizeNewTask, then the guarded backend.enqueue, in
// batches of 1000, for a small payload ({ i }) and a ~10 KB one. CPU (process.cpuUsage),
// not time, so it holds up on a shared machine. Not a bench/run.ts entry: a probe for
// A/B runs of the enqueue path (see bench/README.md, "encode each payload once").
//
//   node --conditions=switchyard-source --import tsx bench/enqueue-cpu.ts [redis,bullmq,postgres] [tasks]
import { withArgumentChecks, type Backend, type NewTask } from '@switchyard/core'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask } from '../core/tasks/enqueue.ts'
import { createRedisBackend } from '../plugins/backend-redis/index.ts'
import { createBullMQBackend } from '../plugins/backend-bullmq/index.ts'
import { createPostgresBackend } from '../plugins/backend-postgres/index.ts'
import { deleteKeysContaining, freshToken, REDIS_URL } from './lib/redis.ts'
import { dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'

const BATCH = 1000

/** ~10 KB of JSON: 60 records of strings, numbers, a nested array */
function largePayload (i: number): unknown {
  const items = Array.from({ length: 60 }, (_, k) => ({
    id: `item-${k}`, name: `a product called number ${k}`, price: k * 1.25, qty: k % 7, active: k % 2 === 0,
    tags: ['alpha', 'beta', `t${k}`], dims: { w: k, h: k + 1, d: k + 2 }
  }))
  return { i, customer: { id: 'c-1234', email: 'someone@example.com' }, items }
}

const PAYLOADS: Record<string, (i: number) => unknown> = { small: i => ({ i }), large: largePayload }

interface Opened { backend: Backend, destroy: () => Promise<void> }

async function open (system: string): Promise<Opened> {
  if (system === 'redis' || system === 'bullmq') {
    const token = freshToken()
    const raw = system === 'redis' ? createRedisBackend({ url: REDIS_URL, prefix: `sy:${token}:` }) : createBullMQBackend({ url: REDIS_URL, prefix: token })
    return { backend: withArgumentChecks(raw), destroy: async () => { await raw.close(); await deleteKeysContaining(token) } }
  }
  const schema = freshSchema('bench_enc')
  const raw = createPostgresBackend({ connectionString: POSTGRES_URL, schema })
  return {
    backend: withArgumentChecks(raw),
    destroy: async () => { await raw.close(); await dropSchema(schema) }
  }
}

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system }

async function measure (system: string, payloadKind: string, tasks: number): Promise<Record<string, unknown>> {
  const make = PAYLOADS[payloadKind] as (i: number) => unknown
  const opened = await open(system)
  try {
    await opened.backend.init()
    await opened.backend.ensureQueues(['enc'])
    const batch = (from: number): NewTask[] => Array.from({ length: BATCH }, (_, k) => normalizeNewTask({ handler: 'noop', queue: 'enc', payload: make(from + k) }, DEFAULT_TASK_DEFAULTS))
    await opened.backend.enqueue(batch(0)) // warm-up
    let normalizeUs = 0
    let enqueueUs = 0
    const started = Date.now()
    for (let from = 0; from < tasks; from += BATCH) {
      const a = cpuUs()
      const list = batch(from)
      const b = cpuUs()
      await opened.backend.enqueue(list)
      enqueueUs += cpuUs() - b
      normalizeUs += b - a
    }
    const round = (n: number): number => Math.round(n * 100) / 100
    return {
      system, payload: payloadKind, tasks, payload_bytes: Buffer.byteLength(JSON.stringify(make(0))),
      normalize_cpu_us_per_task: round(normalizeUs / tasks), enqueue_cpu_us_per_task: round(enqueueUs / tasks),
      total_cpu_us_per_task: round((normalizeUs + enqueueUs) / tasks), wall_ms: Date.now() - started
    }
  } finally {
    await opened.destroy()
  }
}

const systems = (process.argv[2] ?? 'redis,bullmq,postgres').split(',')
const tasks = Number(process.argv[3] ?? 20_000)
for (const system of systems) {
  for (const kind of Object.keys(PAYLOADS)) console.log(JSON.stringify({ bench: 'enqueue-cpu', results: await measure(system, kind, tasks) }))
}
