// Client CPU per enqueued task: normalizeNewTask, then the guarded backend.enqueue, in
// batches of 1000, for a small payload ({ i }) and a ~10 KB one. CPU (process.cpuUsage),
// not time, so it holds up on a shared machine: for A/B runs of the enqueue path (see
// bench/README.md, "encode each payload once"). Ratios: each system's large-payload CPU
// per task over its small-payload CPU.
//
//   npm run bench -- enqueue-cpu [--systems redis,bullmq,postgres] [--tasks 20000]
import { withArgumentChecks, type Backend, type NewTask } from '@switchyard/core'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask } from '../core/tasks/enqueue.ts'
import { createRedisBackend } from '../plugins/backend-redis/index.ts'
import { createBullMQBackend } from '../plugins/backend-bullmq/index.ts'
import { createPostgresBackend } from '../plugins/backend-postgres/index.ts'
import { deleteKeysContaining, freshToken, REDIS_URL } from './lib/redis.ts'
import { dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { progress } from './lib/report.ts'
import type { BenchResult } from './lib/types.ts'

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

const SYSTEMS = ['redis', 'bullmq', 'postgres']

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('enqueue-cpu', args, { systems: { type: 'string', default: SYSTEMS.join(',') }, tasks: { type: 'string' } })
  const smoke = flags.smoke === true
  const systems = (flags.systems as string).split(',').map(s => s.trim()).filter(s => s.length > 0)
  const unknown = systems.filter(s => !SYSTEMS.includes(s))
  if (systems.length === 0 || unknown.length > 0) throw new Error(`--systems: expected some of ${SYSTEMS.join(', ')}, got "${flags.systems as string}"`)
  const tasks = flags.tasks !== undefined ? positiveInteger('tasks', flags.tasks) : smoke ? BATCH : 20_000
  const rows: Array<Record<string, unknown>> = []
  const ratios: Record<string, number | null> = {}
  for (const system of systems) {
    const perKind: Record<string, number> = {}
    for (const kind of Object.keys(PAYLOADS)) {
      progress(`enqueue-cpu: ${system}, ${kind} payload, ${tasks} tasks`)
      const row = await measure(system, kind, tasks)
      rows.push(row)
      perKind[kind] = row.total_cpu_us_per_task as number
    }
    const small = perKind.small ?? 0
    ratios[`${system}_large_over_small_cpu_per_task`] = small > 0 ? Math.round((perKind.large ?? 0) / small * 100) / 100 : null
  }
  return { results: { smoke, tasks, batch: BATCH, runs: rows }, ratios }
}
