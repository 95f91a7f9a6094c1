// Client and server CPU of the Postgres backend's enqueue alone, per task: `--batches`
// batches of `--batch` tasks (payload { i }; `--events on`: with task.enqueued events, as
// a producer appends them; the pg-throughput bench enqueues without) into a fresh schema, after one unmeasured batch. Not a bench/run.ts
// entry; run it directly (several times, alternating the trees compared):
//
//   node --conditions=switchyard-source --import tsx bench/lib/pg-enqueue-probe.ts [--batches 20] [--batch 1000] [--rounds 3]
import type { Backend, NewTask } from '@switchyard/core'
import { normalizeNewTask, DEFAULT_TASK_DEFAULTS } from '../../core/tasks/enqueue.ts'
import { parseFlags, positiveInteger } from './args.ts'
import { loadBackendFactory } from './load.ts'
import { dropSchema, freshSchema, POSTGRES_URL } from './postgres.ts'
import { OwnBackendCpu } from './postgres-usage.ts'

async function main (): Promise<void> {
  const flags = parseFlags('pg-enqueue-probe', process.argv.slice(2), {
    batches: { type: 'string', default: '20' },
    batch: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    events: { type: 'string', default: 'off' }
  })
  const withEvents = flags.events === 'on'
  const batches = positiveInteger('batches', flags.batches as string)
  const size = positiveInteger('batch', flags.batch as string)
  const rounds = positiveInteger('rounds', flags.rounds as string)
  const create = await loadBackendFactory<{ connectionString: string, schema: string, poolSize: number }>('@switchyard/backend-postgres', 'createPostgresBackend')
  const out: Array<Record<string, number>> = []
  for (let r = 0; r < rounds; r++) {
    const schema = freshSchema('bench_probe')
    const backend: Backend = create({ connectionString: POSTGRES_URL, schema, poolSize: 2 })
    try {
      await backend.init()
      await backend.ensureQueues(['bench'])
      const tasks = (from: number): NewTask[] => Array.from({ length: size }, (_, k) => normalizeNewTask({ handler: 'noop', queue: 'bench', payload: { i: from + k } }, DEFAULT_TASK_DEFAULTS))
      const events = (list: NewTask[]): { type: string, data: Array<Record<string, unknown>> } => ({ type: 'task.enqueued', data: list.map(t => ({ queue: t.queue, handler: t.handler })) })
      const warm = tasks(0)
      await backend.enqueue(warm, withEvents ? events(warm) : undefined)
      const sampler = new OwnBackendCpu()
      const server0 = await sampler.seconds()
      const client0 = process.cpuUsage()
      const wall0 = performance.now()
      for (let b = 1; b <= batches; b++) {
        const list = tasks(b * size)
        await backend.enqueue(list, withEvents ? events(list) : undefined)
      }
      const wall = performance.now() - wall0
      const client = process.cpuUsage(client0)
      const server = await sampler.seconds() - server0
      const n = batches * size
      out.push({ client_us_per_task: Math.round((client.user + client.system) / n * 100) / 100, server_us_per_task: Math.round(server * 1e6 / n * 100) / 100, wall_ms: Math.round(wall) })
    } finally {
      await backend.close()
      await dropSchema(schema)
    }
  }
  process.stdout.write(JSON.stringify({ probe: 'pg-enqueue', batches, batch: size, rounds: out }) + '\n')
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1) })
