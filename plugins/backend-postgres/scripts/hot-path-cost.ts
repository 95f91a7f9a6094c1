// What one task costs the server on the hot path, old schema against new, in one run
// (not a test). One schema per --versions entry on the same server, each migrated up
// to that version ('all': every migration). Each round, in turn rotating which goes
// first: enqueue N tasks by a plain INSERT of 1000 rows, then lease and ack them on
// one connection by lease_tasks() and complete_and_lease() in batches of 50 (no task
// events). Reported per task and phase: CPU of that connection's backend (/proc) and
// WAL bytes (EXPLAIN (ANALYZE, WAL) of every enqueue and of every other lease-and-ack
// call, doubled: the backend's own, not the server's, so other work on a shared server
// does not count). Usage:
//   node --conditions=switchyard-source --import tsx plugins/backend-postgres/scripts/hot-path-cost.ts [--tasks 20000] [--rounds 2] [--versions 21,all,all!] [--limits | --bench-limits]
// --limits stores a flow limit that never saturates (concurrency 1,000,000) in every schema;
// --bench-limits the two of pg-throughput's postgres-limited (the queue's and the handler's:
// concurrency 1,000,000 and 1,000,000,000 starts per second each).
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { loadMigrations, renderMigration } from '../migrate.ts'

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '2' },
    versions: { type: 'string', default: '21,all' },
    limits: { type: 'boolean', default: false },
    'bench-limits': { type: 'boolean', default: false }
  }
})
const tasks = Number(values.tasks)
const rounds = Number(values.rounds)
if (!Number.isInteger(tasks) || tasks < 100 || tasks > 1_000_000) throw new Error('--tasks: an integer from 100 to 1000000')
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds: an integer from 1 to 20')

const url = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const BATCH = 50
const tag = randomBytes(4).toString('hex')
// a version followed by '!' (e.g. all!) stores no limits even with --limits or --bench-limits,
// so limited and unlimited schemas can be paired in one run
const variants = (values.versions ?? '').split(',').slice(0, 5).map((entry, i) => {
  const unlimited = entry.endsWith('!')
  const v = unlimited ? entry.slice(0, -1) : entry
  const upTo = v === 'all' ? Number.MAX_SAFE_INTEGER : Number(v)
  if (!Number.isInteger(upTo) || upTo < 1) throw new Error('--versions: migration versions or all, each optionally followed by !, comma-separated (at most 5)')
  return { name: (v === 'all' ? 'all' : `upto_${v}`) + (unlimited ? '_no_limits' : ''), schema: `sy_cost_${i}_${tag}`, upTo, unlimited }
})

const client = new pg.Client({ connectionString: url, statement_timeout: 120_000, connectionTimeoutMillis: 5000 })
await client.connect()
const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }]
const ticks = Number(process.env.CLK_TCK ?? 100)

/** user + system CPU of this connection's backend, in µs */
function backendCpuUs (): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 1_000_000 / ticks
}

/** runs the statement under EXPLAIN (ANALYZE, WAL); its rows are not needed, its WAL is */
async function walOf (sql: string, params: unknown[]): Promise<number> {
  const { rows } = await client.query(`EXPLAIN (ANALYZE, WAL, TIMING OFF, SUMMARY OFF, FORMAT JSON) ${sql}`, params)
  const plan = (rows[0] as Record<string, Array<{ Plan: Record<string, number> }>>)['QUERY PLAN']?.[0]?.Plan
  return Number(plan?.['WAL Bytes'] ?? 0)
}

async function setUp (v: typeof variants[number]): Promise<void> {
  await client.query(`CREATE SCHEMA "${v.schema}"`)
  for (const m of loadMigrations().filter(m => m.version <= v.upTo)) await client.query(renderMigration(m.sql, v.schema))
  if (v.unlimited) return
  if (values.limits) {
    await client.query(`INSERT INTO "${v.schema}".flow_limits (kind, name, concurrency) VALUES ('queue', 'bench', 1000000)`)
    await client.query(`UPDATE "${v.schema}".settings SET flow_limited = true`)
  } else if (values['bench-limits']) {
    await client.query(`INSERT INTO "${v.schema}".flow_limits (kind, name, concurrency, rate_limit, rate_window_ms)
      VALUES ('queue', 'bench', 1000000, 1000000000, 1000), ('handler', 'bench.noop', 1000000, 1000000000, 1000)`)
    await client.query(`UPDATE "${v.schema}".settings SET flow_limited = true`)
  }
}

interface Cost { enqueueCpu: number, enqueueWal: number, processCpu: number, processWal: number }

async function round (v: typeof variants[number]): Promise<Cost> {
  const s = `"${v.schema}"`
  await client.query(`TRUNCATE ${s}.tasks, ${s}.queue_counts`)
  let cpu = backendCpuUs()
  let enqueueWal = 0
  for (let i = 0; i < tasks; i += 1000) {
    enqueueWal += await walOf(`INSERT INTO ${s}.tasks (queue, handler, payload, max_attempts, priority, timeout_ms, run_at, payload_size, state)
      SELECT 'bench', 'bench.noop', jsonb_build_object('i', g), 3, 0, 60000, now(), 8, 'ready' FROM generate_series(1, $1::int) AS g`, [Math.min(1000, tasks - i)])
  }
  const enqueueCpu = backendCpuUs() - cpu
  cpu = backendCpuUs()
  let processWal = 0
  let leased = (await client.query<{ id: string, lease_token: string }>(
    `SELECT id, lease_token FROM ${s}.lease_tasks($1::text[], $2::int, 'w', 60000, $3::text[], true)`, [['bench'], BATCH, ['bench.noop']])).rows
  let done = 0
  while (leased.length > 0) {
    const params = [leased.map(l => l.id), leased.map(l => l.lease_token), leased.map(() => null), ['bench'], BATCH, 'w', 60000, ['bench.noop'], true]
    const call = `SELECT id, lease_token FROM ${s}.complete_and_lease($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int, $6::text, $7::float8, $8::text[], $9::boolean)`
    // every other call runs under EXPLAIN for its WAL, so both halves of the CPU sample see the same mix
    if (done % (2 * BATCH) === 0) {
      processWal += 2 * await walOf(call, params)
      // the call under EXPLAIN returned nothing: lease what it leased by reading them back
      leased = (await client.query<{ id: string, lease_token: string }>(
        `SELECT id::text, lease_token::text FROM ${s}.tasks WHERE state = 'processing' AND worker_id = 'w' ORDER BY id`)).rows
    } else {
      leased = (await client.query<{ id: string, lease_token: string }>(call, params)).rows.filter(r => r.id !== null)
    }
    done += BATCH
  }
  const processCpu = backendCpuUs() - cpu
  const [counts] = (await client.query<{ ok: boolean }>(`SELECT (SELECT coalesce(sum(n), 0) FROM ${s}.queue_counts WHERE state = 'succeeded') = $1
    AND (SELECT count(*) FROM ${s}.tasks WHERE state = 'succeeded') = $1
    AND (SELECT coalesce(sum(n), 0) FROM ${s}.queue_counts WHERE state <> 'succeeded') = 0 AS ok`, [tasks])).rows
  if (counts?.ok !== true) throw new Error(`${v.name}: counters or states do not add up after the round`)
  return { enqueueCpu, enqueueWal, processCpu, processWal }
}

try {
  for (const v of variants) await setUp(v)
  const results = new Map<string, Cost[]>(variants.map(v => [v.name, []]))
  for (let r = 0; r < rounds; r++) {
    const order = [...variants.slice(r % variants.length), ...variants.slice(0, r % variants.length)]
    for (const v of order) {
      const cost = await round(v)
      results.get(v.name)?.push(cost)
      console.error(`[hot-path-cost] round ${r + 1} ${v.name}: ${JSON.stringify(perTask(cost))}`)
    }
  }
  const summary = Object.fromEntries([...results].map(([name, costs]) => [name, median(costs.map(perTask))]))
  console.log(JSON.stringify({ bench: 'hot-path-cost', results: { tasks, rounds, batch: BATCH, limits: values['bench-limits'] ? 'bench' : values.limits, per_task_median: summary } }))
} finally {
  for (const v of variants) await client.query(`DROP SCHEMA IF EXISTS "${v.schema}" CASCADE`)
  await client.end()
}

function perTask (c: Cost): Record<string, number> {
  const r = (x: number): number => Math.round(x / tasks * 10) / 10
  return { enqueue_cpu_us: r(c.enqueueCpu), enqueue_wal_b: r(c.enqueueWal), process_cpu_us: r(c.processCpu), process_wal_b: r(c.processWal) }
}

function median (rows: Array<Record<string, number>>): Record<string, number> {
  const keys = Object.keys(rows[0] ?? {})
  return Object.fromEntries(keys.map(k => {
    const xs = rows.map(r => r[k] as number).sort((a, b) => a - b)
    return [k, xs[Math.floor(xs.length / 2)] as number]
  }))
}
