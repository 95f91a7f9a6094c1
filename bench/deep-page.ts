// Deep list pages on a Postgres backend holding many tasks: the page after N rows by
// OFFSET against the same page through a keyset position (ListTasksRequest.after, what
// the ListTasks/ListDLQ cursor carries), for the newest-first list, the DLQ (dead,
// latest failure first) and the scheduled list (run order, per-queue index ranges).
// Prints each list's times and the EXPLAIN of its keyset page as progress, and the
// keyset/offset times with their ratios in the result line.
//
//   npm run bench -- deep-page [--tasks 1000000] [--depth 500000] [--limit 100] [--postgres URL] [--smoke]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ListTasksRequest, TaskFilter } from '../core/index.ts'
import { createPgClient, createPgliteClient, createPostgresBackendFromClient, type SqlClient, type SqlParam } from '../plugins/backend-postgres/index.ts'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { FILL_QUEUE, fillTasks } from './lib/fill-tasks.ts'
import { progress, ratio } from './lib/report.ts'
import type { BenchResult } from './lib/types.ts'


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

export async function run (args: string[]): Promise<BenchResult> {
  const values = parseFlags('deep-page', args, {
    tasks: { type: 'string', default: '1000000' },
    depth: { type: 'string', default: '500000' },
    postgres: { type: 'string' },
    limit: { type: 'string', default: '100' }
  })
  // --smoke: a small fill on PGlite, enough to prove the run works end to end
  const tasks = values.smoke ? 4000 : positiveInteger('tasks', values.tasks)
  const depthWanted = values.smoke ? 1000 : positiveInteger('depth', values.depth)
  const limit = positiveInteger('limit', values.limit)
  const schema = `sy_bench_deep_${process.pid}`
  const dir = values.postgres === undefined ? mkdtempSync(join(tmpdir(), 'sy-deep-page-')) : undefined
  const engine = dir !== undefined ? 'pglite' : 'postgres'
  const results: Record<string, unknown> = { smoke: values.smoke, engine, tasks, limit }
  const ratios: Record<string, number | null> = {}
  const target = dir !== undefined ? { pgliteDir: dir } : { connectionString: values.postgres as string, schema }
  const fill = await fillTasks(target, tasks, done => { if (done % 200_000 === 0 || done === tasks) progress(`filled ${done}`) })
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
      const depth = Math.min(depthWanted, Math.floor(list.count / 2))
      const page = (extra: Partial<ListTasksRequest>): Promise<unknown> => backend.listTasks({ ...list.filter, limit, offset: 0, ...extra })
      // the position of row `depth` (how a cursor walked that deep would hold it)
      const marker = await backend.listTasks({ ...list.filter, limit: 1, offset: depth - 1 })
      const after = marker.next as string
      await page({ after }) // warm
      const keyset = await timed(() => page({ after }))
      const plan = await raw.query<Record<string, string>>(`EXPLAIN ${last().text}`, last().params)
      const offset = await timed(() => page({ offset: depth }))
      progress(`${engine} ${list.name} at depth ${depth}: keyset ${keyset.ms} ms, offset ${offset.ms} ms; keyset plan:\n${plan.map(r => Object.values(r)[0]).join('\n')}`)
      results[list.name] = { depth, keyset_ms: keyset.ms, offset_ms: offset.ms }
      ratios[`${list.name}_offset_vs_keyset`] = ratio(offset.ms, keyset.ms)
    }
  } finally {
    await backend.close()
    if (dir === undefined) await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await raw.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
  return { results, ratios }
}
