// A timeline of one pg-throughput run per system, for finding idle gaps, the ramp-up
// and the tail: every node-postgres connection and query of this process is recorded
// (pg.Client's connect and query patched, whichever library made the client), the
// handler runs are timestamped, and the server backends' CPU is read from /proc every
// few ms. Not a bench/run.ts entry; run it directly:
//
//   node --conditions=switchyard-source --import tsx bench/lib/pg-timeline.ts \
//     [--systems postgres,graphile,postgres-limited] [--tasks 20000] [--bucket 50] [--json file]
//
// Prints per system: the phases (setup, enqueue, start of the workers, first and last
// handler, durably done), per bucket of the processing phase the handlers run, the
// queries started by kind, queries in flight, connections open and server CPU; and per
// connection its open time, its queries and its backend's CPU in its first 50 ms.
import { readFile, writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { loadBackendFactory } from './load.ts'
import { measureThroughput } from './measure.ts'
import { dropSchema, freshSchema, POSTGRES_URL } from './postgres.ts'
import { parseFlags, positiveInteger } from './args.ts'
import type { ThroughputSystem } from '../systems/contract.ts'
import { GRAPHILE_THROUGHPUT_TUNING, GraphileThroughput } from '../systems/graphile.ts'
import { SwitchyardThroughput, withFlowLimits, type BackendOpener } from '../systems/switchyard.ts'
import type { Backend } from '@switchyard/core'

interface ConnRec { id: number, pid: number | null, connectStart: number, connectEnd: number | null, queries: number, firstQueryAt: number | null, endedAt: number | null }
interface QueryRec { conn: number, kind: string, start: number, end: number | null, rows: number | null }

const conns: ConnRec[] = []
const queries: QueryRec[] = []
const connOf = new WeakMap<object, ConnRec>()
let recording = false

function kindOf (text: string): string {
  const t = text.replace(/\s+/g, ' ')
  const rules: Array<[RegExp, string]> = [
    [/complete_and_lease\(/, 'complete_and_lease'],
    [/lease_tasks\(/, 'lease_tasks'],
    [/lease_rated\(/, 'lease_rated'],
    [/FROM \S+\.queue_counts/, 'queue_stats'],
    [/SET state = 'succeeded'/, 'complete'],
    [/INSERT INTO \S+\.tasks/, 'enqueue'],
    [/INSERT INTO \S+\.event_pages|append_events|event_pages/, 'events'],
    [/queue_counts|queue_stats/, 'queue_stats'],
    [/flow_limits/, 'flow_limits'],
    [/workers/, 'workers'],
    [/^(BEGIN|COMMIT|ROLLBACK)/, 'txn'],
    [/_private_jobs|get_jobs|complete_jobs|add_jobs|_private_job_queues/, 'graphile:' + (/(get_jobs|complete_jobs|add_jobs)/.exec(t)?.[1] ?? 'jobs')],
    [/LISTEN/, 'listen']
  ]
  for (const [re, name] of rules) if (re.test(t)) return name
  return t.slice(0, 40)
}

function patchPg (): void {
  const proto = pg.Client.prototype as unknown as { connect: (...a: unknown[]) => unknown, query: (...a: unknown[]) => unknown, end: (...a: unknown[]) => unknown, processID?: number }
  const connect = proto.connect
  proto.connect = function (this: object & { processID?: number }, ...args: unknown[]) {
    const rec: ConnRec = { id: conns.length, pid: null, connectStart: performance.now(), connectEnd: null, queries: 0, firstQueryAt: null, endedAt: null }
    if (recording) conns.push(rec)
    connOf.set(this, rec)
    const out = connect.apply(this, args)
    const done = (): void => { rec.connectEnd = performance.now(); rec.pid = this.processID ?? null }
    if (out instanceof Promise) out.then(done, () => {})
    else (this as { once?: (e: string, f: () => void) => void }).once?.('connect', done)
    return out
  }
  const query = proto.query
  proto.query = function (this: object, ...args: unknown[]) {
    const rec = connOf.get(this)
    const first = args[0] as string | { text?: string }
    const text = typeof first === 'string' ? first : (first?.text ?? '')
    const q: QueryRec = { conn: rec?.id ?? -1, kind: kindOf(text), start: performance.now(), end: null, rows: null }
    if (recording && rec !== undefined) {
      queries.push(q)
      rec.queries++
      rec.firstQueryAt ??= q.start
    }
    const finish = (r?: { rowCount?: number }): void => { q.end = performance.now(); q.rows = r?.rowCount ?? null }
    const lastAt = args.length - 1
    if (typeof args[lastAt] === 'function') {
      const cb = args[lastAt] as (err: unknown, res: unknown) => void
      args[lastAt] = (err: unknown, res: { rowCount?: number }) => { finish(res); cb(err, res) }
    }
    const out = query.apply(this, args)
    if (out instanceof Promise) out.then((r: { rowCount?: number }) => { finish(r) }, () => { finish() })
    return out
  }
  const end = proto.end
  proto.end = function (this: object, ...args: unknown[]) {
    const rec = connOf.get(this)
    if (rec !== undefined) rec.endedAt = performance.now()
    return end.apply(this, args)
  }
}

async function ticks (pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (stat === null) return null
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** samples every known backend's CPU ticks (10 ms each) */
class CpuSampler {
  samples: Array<{ at: number, pid: number, ticks: number }> = []
  private timer: NodeJS.Timeout | null = null
  start (everyMs: number): void {
    const tick = async (): Promise<void> => {
      const at = performance.now()
      for (const c of conns) {
        if (c.pid === null) continue
        const t = await ticks(c.pid)
        if (t !== null) this.samples.push({ at, pid: c.pid, ticks: t })
      }
    }
    this.timer = setInterval(() => { void tick() }, everyMs)
  }

  stop (): void { if (this.timer !== null) clearInterval(this.timer) }
}

interface Marks { setupStart: number, enqueueStart: number | null, enqueueEnd: number | null, startWorkers: number | null, workersStarted: number | null, handled: number[], allDoneAt: number | null, teardown: number | null }

function recordingSystem (inner: ThroughputSystem, marks: Marks): ThroughputSystem {
  return {
    get label () { return inner.label },
    async setup () { await inner.setup() },
    async enqueueBatch (from, count) {
      marks.enqueueStart ??= performance.now()
      await inner.enqueueBatch(from, count)
      marks.enqueueEnd = performance.now()
    },
    async startWorkers (onHandled) {
      marks.startWorkers = performance.now()
      await inner.startWorkers(() => { marks.handled.push(performance.now()); onHandled() })
      marks.workersStarted = performance.now()
    },
    async allDone (n) {
      const done = await inner.allDone(n)
      if (done) marks.allDoneAt = performance.now()
      return done
    },
    async teardown () { marks.teardown = performance.now(); await inner.teardown() },
    get calls () { return inner.calls }
  }
}

function r1 (x: number): number { return Math.round(x * 10) / 10 }

export async function main (args: string[]): Promise<void> {
  const flags = parseFlags('pg-timeline', args, {
    systems: { type: 'string', default: 'postgres,graphile,postgres-limited' },
    tasks: { type: 'string', default: '20000' },
    bucket: { type: 'string', default: '50' },
    json: { type: 'string' },
    warm: { type: 'string', default: '1' },
    'cpu-sample-ms': { type: 'string', default: '5' }
  })
  const tasks = positiveInteger('tasks', flags.tasks as string)
  const bucketMs = positiveInteger('bucket', flags.bucket as string)
  const warmRuns = Number(flags.warm)
  patchPg()
  const createPostgresBackend = await loadBackendFactory<{ connectionString: string, schema: string, poolSize: number }>('@switchyard/backend-postgres', 'createPostgresBackend')
  const serverBackend: BackendOpener = async () => {
    const schema = freshSchema('bench_sy')
    const backend: Backend = createPostgresBackend({ connectionString: POSTGRES_URL, schema, poolSize: 10 })
    await backend.init()
    return { backend, destroy: async () => { try { await backend.close() } finally { await dropSchema(schema) } } }
  }
  const workerOptions = { concurrency: 50, batchSize: 50, pollMs: 100 }
  const makers: Record<string, () => ThroughputSystem> = {
    postgres: () => new SwitchyardThroughput('switchyard_postgres', serverBackend, workerOptions, true),
    graphile: () => new GraphileThroughput({ ...GRAPHILE_THROUGHPUT_TUNING }),
    'postgres-limited': () => new SwitchyardThroughput('switchyard_postgres_flow_limited', withFlowLimits(serverBackend), workerOptions, true)
  }
  const out: Record<string, unknown> = {}
  const names = (flags.systems as string).split(',')
  // one unrecorded run of each first (JIT, the server's shared caches)
  for (let w = 0; w < warmRuns; w++) for (const name of names) await measureThroughput(makers[name]!(), { tasks: Math.min(tasks, 2000), batchSize: 1000, timeoutMs: 120_000 })
  for (const name of names) {
    conns.length = 0
    queries.length = 0
    const marks: Marks = { setupStart: performance.now(), enqueueStart: null, enqueueEnd: null, startWorkers: null, workersStarted: null, handled: [], allDoneAt: null, teardown: null }
    recording = true
    const sampler = new CpuSampler()
    const sampleMs = Number(flags['cpu-sample-ms'])
    if (sampleMs > 0) sampler.start(sampleMs)
    const cpu0 = process.cpuUsage()
    const result = await measureThroughput(recordingSystem(makers[name]!(), marks), { tasks, batchSize: 1000, timeoutMs: 120_000 })
    const cpu = process.cpuUsage(cpu0)
    sampler.stop()
    recording = false
    const t0 = marks.startWorkers!
    const rel = (x: number | null): number | null => x === null ? null : r1(x - t0)
    const end = marks.allDoneAt ?? marks.teardown ?? performance.now()
    // per connection: CPU from first sample to last, and in its first 50 ms of queries
    const byPid = new Map<number, Array<{ at: number, ticks: number }>>()
    for (const s of sampler.samples) { const l = byPid.get(s.pid) ?? []; l.push(s); byPid.set(s.pid, l) }
    const tickAt = (pid: number, at: number): number | null => {
      const l = byPid.get(pid)
      if (l === undefined || l.length === 0) return null
      let v = l[0]!.ticks
      for (const s of l) { if (s.at <= at) v = s.ticks; else break }
      return v
    }
    const connRows = conns.map(c => {
      const base = c.pid === null ? null : tickAt(c.pid, c.connectStart)
      const l = c.pid === null ? undefined : byPid.get(c.pid)
      const last = l?.at(-1)?.ticks ?? null
      const first50 = c.pid === null || c.firstQueryAt === null ? null : tickAt(c.pid, c.firstQueryAt + 50)
      const kinds: Record<string, number> = {}
      for (const q of queries) if (q.conn === c.id) kinds[q.kind] = (kinds[q.kind] ?? 0) + 1
      return {
        id: c.id,
        open_ms: rel(c.connectStart),
        connected_ms: rel(c.connectEnd),
        first_query_ms: rel(c.firstQueryAt),
        queries: c.queries,
        cpu_ms_total: base === null || last === null ? null : (last - base) * 10,
        cpu_ms_first_50ms: base === null || first50 === null ? null : (first50 - base) * 10,
        kinds
      }
    })
    const buckets: Array<Record<string, unknown>> = []
    for (let b = Math.floor((marks.enqueueStart! - t0) / bucketMs); b * bucketMs <= end - t0 + bucketMs; b++) {
      const lo = t0 + b * bucketMs
      const hi = lo + bucketMs
      const started: Record<string, number> = {}
      let busyMs = 0
      for (const q of queries) {
        if (q.start >= lo && q.start < hi) started[q.kind] = (started[q.kind] ?? 0) + 1
        const qe = q.end ?? end
        busyMs += Math.max(0, Math.min(qe, hi) - Math.max(q.start, lo))
      }
      let cpuTicks = 0
      for (const [pid] of byPid) {
        const a = tickAt(pid, lo)
        const z = tickAt(pid, hi)
        if (a !== null && z !== null) cpuTicks += z - a
      }
      buckets.push({
        t: b * bucketMs,
        handled: marks.handled.filter(h => h >= lo && h < hi).length,
        in_flight: r1(busyMs / bucketMs),
        conns: conns.filter(c => c.connectStart < hi && (c.endedAt === null || c.endedAt >= lo)).length,
        server_cpu_ms: cpuTicks * 10,
        started
      })
    }
    const summary = {
      system: name,
      tasks_per_s: result.tasks_per_s,
      enqueue_ms: result.enqueue_ms,
      process_ms: result.process_ms,
      client_cpu_ms_whole_run: Math.round((cpu.user + cpu.system) / 1000),
      marks: {
        setup_ms: rel(marks.setupStart),
        enqueue: [rel(marks.enqueueStart), rel(marks.enqueueEnd)],
        workers_started_ms: rel(marks.workersStarted),
        first_handled_ms: rel(marks.handled[0] ?? null),
        handled_10pct_ms: rel(marks.handled[Math.floor(tasks * 0.1)] ?? null),
        handled_50pct_ms: rel(marks.handled[Math.floor(tasks * 0.5)] ?? null),
        handled_90pct_ms: rel(marks.handled[Math.floor(tasks * 0.9)] ?? null),
        last_handled_ms: rel(marks.handled.at(-1) ?? null),
        all_done_ms: rel(marks.allDoneAt)
      },
      query_kinds: Object.fromEntries([...new Set(queries.map(q => q.kind))].map(k => {
        const l = queries.filter(q => q.kind === k)
        const ms = l.reduce((s, q) => s + ((q.end ?? end) - q.start), 0)
        return [k, { n: l.length, mean_ms: r1(ms / l.length), in_processing: l.filter(q => q.start >= t0).length }]
      })),
      connections: connRows,
      buckets,
      backend_calls: result.backend_calls
    }
    out[name] = summary
    console.log(`\n=== ${name}: ${result.tasks_per_s} tasks/s, enqueue ${result.enqueue_ms} ms, process ${result.process_ms} ms`)
    console.log('marks (ms from startWorkers):', JSON.stringify(summary.marks))
    // for --cpu-prof: the processing window on the profiler's clock (CLOCK_MONOTONIC, µs)
    const toMono = (x: number): number => Math.round(Number(process.hrtime.bigint() / 1000n) - (performance.now() - x) * 1000)
    console.log(`profile window (µs): enqueue ${toMono(marks.enqueueStart!)} ${toMono(marks.enqueueEnd!)} process ${toMono(t0)} ${toMono(end)}`)
    console.log('queries:', JSON.stringify(summary.query_kinds))
    console.log('boot queries (conn, kind, start, end ms from startWorkers) until the first handler + 30 ms:')
    for (const q of queries) if (q.start >= t0 - 1 && q.start <= (marks.handled[0] ?? t0) + 30) console.log(`   c${q.conn} ${q.kind.slice(0, 30).padEnd(30)} ${r1(q.start - t0)} -> ${q.end === null ? '?' : r1(q.end - t0)}`)
    console.log('tail queries (from the last handler - 20 ms):')
    for (const q of queries) if (q.start >= (marks.handled.at(-1) ?? end) - 20) console.log(`   c${q.conn} ${q.kind.slice(0, 30).padEnd(30)} ${r1(q.start - t0)} -> ${q.end === null ? '?' : r1(q.end - t0)}`)
    console.log('connections:')
    for (const c of connRows) console.log('  ', JSON.stringify(c))
    console.log('buckets (t ms, handled, in-flight queries, conns, server CPU ms, queries started):')
    for (const b of buckets) console.log(`  ${String(b.t).padStart(6)} ${String(b.handled).padStart(6)} ${String(b.in_flight).padStart(5)} ${String(b.conns).padStart(3)} ${String(b.server_cpu_ms).padStart(4)} ${JSON.stringify(b.started)}`)
  }
  if (typeof flags.json === 'string') await writeFile(flags.json, JSON.stringify(out))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(() => setTimeout(() => process.exit(0), 500), (err: unknown) => { console.error(err); process.exit(1) })
}
