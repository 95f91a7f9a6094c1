// What crossing threads costs the embedded database's callers: round trips of a
// 50-row read (a lease batch's shape: text, json, timestamps) on PGlite on its own
// thread (`embedded.thread: worker`) and on the main thread (`main`, the default),
// alternated round by round. Per call: wall time, this process' CPU (every thread),
// and the main thread's own CPU (from /proc on Linux: what the event loop spends, the
// rest of the process' CPU is the database thread's). Rows cross by structured clone,
// json as text (plugins/backend-postgres/pglite-protocol.ts).
import { readFileSync } from 'node:fs'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { progress, ratio, round } from './lib/report.ts'
import type { BenchResult } from './lib/types.ts'
import { createPgliteClient } from '../plugins/backend-postgres/pglite-client.ts'

const THREADS = ['worker', 'main'] as const
type Thread = typeof THREADS[number]

/** this thread's CPU in µs (10 ms ticks), or null where /proc is not there */
function mainThreadCpuUs (): number | null {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10_000
  } catch {
    return null
  }
}

interface Round { wall_us_per_call: number, process_cpu_us_per_call: number, main_thread_cpu_us_per_call: number | null }

async function measure (thread: Thread, calls: number, rows: number): Promise<Round> {
  const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, thread })
  try {
    await client.exec(`CREATE TABLE t (id bigserial PRIMARY KEY, queue text, handler text, payload jsonb, state text, attempts int,
      run_at timestamptz DEFAULT now(), created_at timestamptz DEFAULT now(), tenant text, correlation_id text)`)
    await client.query(`INSERT INTO t (queue, handler, payload, state, attempts, tenant, correlation_id)
      SELECT 'default', 'email.send', jsonb_build_object('to', 'user' || g || '@example.com', 'n', g, 'tags', jsonb_build_array('a', 'b')), 'pending', 0, 'acme', md5(g::text)
      FROM generate_series(1, $1::int) g`, [rows])
    const read = 'SELECT * FROM t WHERE attempts = $1 LIMIT $2'
    for (let i = 0; i < Math.min(200, calls); i++) await client.query(read, [0, rows])
    const cpu = process.cpuUsage()
    const mainBefore = mainThreadCpuUs()
    const started = performance.now()
    for (let i = 0; i < calls; i++) await client.query(read, [0, rows])
    const wallMs = performance.now() - started
    const used = process.cpuUsage(cpu)
    const mainAfter = mainThreadCpuUs()
    return {
      wall_us_per_call: round(wallMs * 1000 / calls, 1),
      process_cpu_us_per_call: round((used.user + used.system) / calls, 1),
      main_thread_cpu_us_per_call: mainBefore === null || mainAfter === null ? null : round((mainAfter - mainBefore) / calls, 1)
    }
  } finally {
    await client.close()
  }
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('pglite-thread', args, { calls: { type: 'string' }, rows: { type: 'string', default: '50' }, rounds: { type: 'string' } })
  const smoke = flags.smoke === true
  const calls = positiveInteger('calls', (flags.calls as string | undefined) ?? (smoke ? '50' : '1000'))
  const rows = positiveInteger('rows', flags.rows as string)
  const rounds = positiveInteger('rounds', (flags.rounds as string | undefined) ?? (smoke ? '1' : '3'))
  progress(`pglite-thread: ${rounds} round(s) of ${calls} reads of ${rows} rows, PGlite on its own thread and on the main thread in turn`)
  const runs: Record<Thread, Round[]> = { worker: [], main: [] }
  for (let r = 0; r < rounds; r++) {
    for (const thread of r % 2 === 0 ? THREADS : [...THREADS].reverse()) {
      const result = await measure(thread, calls, rows)
      runs[thread].push(result)
      progress(`${thread}: ${result.wall_us_per_call} µs per call, process CPU ${result.process_cpu_us_per_call} µs, main thread CPU ${result.main_thread_cpu_us_per_call ?? 'n/a'} µs`)
    }
  }
  const summary = (thread: Thread): Round => {
    const mains = runs[thread].map(r => r.main_thread_cpu_us_per_call).filter((v): v is number => v !== null)
    return {
      wall_us_per_call: median(runs[thread].map(r => r.wall_us_per_call)),
      process_cpu_us_per_call: median(runs[thread].map(r => r.process_cpu_us_per_call)),
      main_thread_cpu_us_per_call: mains.length === 0 ? null : median(mains)
    }
  }
  const worker = summary('worker')
  const main = summary('main')
  const ratios = {
    worker_vs_main_wall_per_call: ratio(worker.wall_us_per_call, main.wall_us_per_call),
    worker_vs_main_process_cpu_per_call: ratio(worker.process_cpu_us_per_call, main.process_cpu_us_per_call),
    worker_vs_main_main_thread_cpu_per_call: ratio(worker.main_thread_cpu_us_per_call, main.main_thread_cpu_us_per_call)
  }
  for (const [key, value] of Object.entries(ratios)) progress(`${key}: ${value ?? 'n/a'}`)
  return { results: { smoke, calls, rows, rounds, median: { worker, main }, runs }, ratios }
}
