// Concurrent single-task producers against a real Postgres server (not a test): P
// loops each enqueue one task at a time through core's one enqueue path, with the
// event log on (each created task logs task.enqueued, in the enqueue statement when
// the backend declares enqueueEvents), for S seconds; reports tasks/s. This is the
// load a lock held until commit would serialise. Usage:
//   node --import tsx plugins/backend-postgres/scripts/producers.ts [producers] [seconds]
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { EventLog } from '../../../core/events/event-log.ts'
import { DEFAULT_TASK_DEFAULTS } from '../../../core/tasks/enqueue.ts'
import { createEnqueuer } from '../../../core/tasks/enqueuer.ts'
import { createPostgresBackend } from '../index.ts'

const url = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const producers = Number(process.argv[2] ?? 16)
const seconds = Number(process.argv[3] ?? 10)
const schema = `sy_bench_${randomBytes(4).toString('hex')}`

const backend = createPostgresBackend({ connectionString: url, schema, poolSize: producers + 2 })
await backend.init()
try {
  const events = new EventLog(backend)
  const enqueuer = createEnqueuer({ backend, events, observe: null, defaults: DEFAULT_TASK_DEFAULTS })
  let done = 0
  const end = Date.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(Array.from({ length: producers }, async (_, p) => {
    while (Date.now() < end) {
      await enqueuer.enqueue([{ queue: 'bench', handler: 'noop', payload: { p } }])
      done++
    }
  }))
  const elapsedMs = performance.now() - started
  await events.close()
  const logged = (await backend.readEvents({ afterId: null, limit: 1 })).length
  console.log(JSON.stringify({ producers, seconds, tasksPerSec: Math.round(done / (elapsedMs / 1000)), atomicEvents: backend.capabilities.enqueueEvents === true, logged: logged > 0 }))
} finally {
  await backend.close()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
}
