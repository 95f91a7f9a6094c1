// Deep list pages on a Postgres backend holding many tasks: the page after N rows by
// OFFSET against the same page through a keyset position (ListTasksRequest.after, what
// the ListTasks/ListDLQ cursor carries), for the newest-first list, the DLQ (dead,
// latest failure first) and the scheduled list (run order, per-queue index ranges).
// Prints one JSON line per list plus the EXPLAIN of the keyset page.
//
//   node --conditions=switchyard-source --import tsx bench/deep-page.ts --tasks 1000000 --depth 500000 [--postgres URL]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { ListTasksRequest, TaskFilter } from '../core/index.ts'
import { createPgClient, createPgliteClient, createPostgresBackendFromClient, type SqlClient, type SqlParam } from '../plugins/backend-postgres/index.ts'
import { FILL_QUEUE, fillTasks } from './lib/fill-tasks.ts'

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '1000000' }, depth: { type: 'string', default: '500000' }, postgres: { type: 'string' }, limit: { type: 'string', default: '100' } } })
const tasks = Number(values.tasks)
const limit = Number(values.limit)
const schema = `sy_bench_deep_${process.pid}`
const dir = values.postgres === undefined ? mkdtempSync(join(tmpdir(), 'sy-deep-page-')) : undefined

/** remembers the last statement, to EXPLAIN the page the backend ran */
function recording (client: SqlClient): { client: SqlClient, last: () => { text: string, params: readonly SqlParam[] } } {
  let last = { text: '', params: [] as readonly SqlParam[] }
  const wrapped = Object.create(client) as SqlClient
  wrapped.query = async <R>(text: string, params?: readonly SqlParam[]): Promise<R[]> => {
    if (text.includes('WITH page AS')) last = { text, params: params ?? [] }
    return await client.query<R>(text, params)
  }
  return { client: wrapped, last: () => last }
}

async function timed<T> (fn: () => Promise<T>): Promise<{ ms: number, value: T }> {
  const started = performance.now()
  const value = await fn()
  return { ms: Math.round((performance.now() - started) * 10) / 10, value }
}

async function main (): Promise<void> {
  const target = dir !== undefined ? { pgliteDir: dir } : { connectionString: values.postgres as string, schema }
  const fill = await fillTasks(target, tasks, done => { if (done % 200_000 === 0 || done === tasks) process.stderr.write(`filled ${done}\n`) })
  const raw = dir !== undefined
    ? await createPgliteClient({ dataDir: dir, statementTimeoutMs: 600_000, settings: {} })
    : await createPgClient({ connectionString: values.postgres as string, poolSize: 2, statementTimeoutMs: 600_000, settings: {} })
  const { client, last } = recording(raw)
  const backend = createPostgresBackendFromClient(client, { schema: dir !== undefined ? 'switchyard' : schema })
  await backend.init()
  try {
    const lists: Array<{ name: string, filter: TaskFilter, count: number }> = [
      { name: 'newest', filter: { queue: FILL_QUEUE }, count: tasks },
      { name: 'dlq', filter: { state: 'dead' }, count: fill.dead },
      { name: 'scheduled', filter: { state: 'scheduled' }, count: Math.floor(tasks * 0.15) }
    ]
    for (const list of lists) {
      // at most the middle of the list, so the rows after the position are as many as before it
      const depth = Math.min(Number(values.depth), Math.floor(list.count / 2))
      const page = (extra: Partial<ListTasksRequest>): Promise<unknown> => backend.listTasks({ ...list.filter, limit, offset: 0, ...extra })
      // the position of row `depth` (how a cursor walked that deep would hold it)
      const marker = await backend.listTasks({ ...list.filter, limit: 1, offset: depth - 1 })
      const after = marker.next as string
      await page({ after }) // warm
      const keyset = await timed(() => page({ after }))
      const plan = await raw.query<Record<string, string>>(`EXPLAIN ${last().text}`, last().params)
      const offset = await timed(() => page({ offset: depth }))
      console.log(JSON.stringify({ bench: 'deep-page', engine: dir !== undefined ? 'pglite' : 'postgres', list: list.name, tasks, depth, limit, keysetMs: keyset.ms, offsetMs: offset.ms }))
      console.log(plan.map(r => Object.values(r)[0]).join('\n'))
    }
  } finally {
    await backend.close()
    if (dir === undefined) await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await raw.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
}

await main()
