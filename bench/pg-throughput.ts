// End-to-end tasks/s on Postgres: Switchyard on PGlite, Switchyard on a Postgres
// server, and graphile-worker, pg-boss and Sidequest (each tuned per its docs) on the
// same server, in one run, with what the server spent per task (CPU of the backends
// serving the run, WAL bytes); then enqueue→start latency on idle workers for the
// server-backed systems.
import { integerList, medianRun, onOff, parseFlags, positiveInteger } from './lib/args.ts'
import { loadBackendFactory } from './lib/load.ts'
import { measureLatency, measureThroughput, type ThroughputResult } from './lib/measure.ts'
import { assertPostgresReachable, dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'
import { backendCpuReadable, OwnBackendCpu, walBytes } from './lib/postgres-usage.ts'
import { progress, ratio } from './lib/report.ts'
import type { LatencySummary } from './lib/stats.ts'
import type { BenchResult } from './lib/types.ts'
import type { ThroughputSystem } from './systems/contract.ts'
import { GRAPHILE_THROUGHPUT_TUNING, GraphileLatency, GraphileThroughput, type GraphileTuning } from './systems/graphile.ts'
import { PgBossLatency, pgBossTuning, PgBossThroughput } from './systems/pgboss.ts'
import { SidequestLatency, sidequestTuning, SidequestThroughput } from './systems/sidequest.ts'
import { SwitchyardLatency, SwitchyardThroughput, withFlowLimits, type BackendOpener } from './systems/switchyard.ts'
import type { WorkerOptionsInput } from '../core/worker/index.ts'

interface PostgresOptions { connectionString?: string, embedded?: { dataDir?: string }, schema?: string, poolSize?: number }

const SYSTEMS = ['pglite', 'postgres', 'graphile', 'pgboss', 'sidequest', 'postgres-limited', 'pglite-limited'] as const
/** the systems a plain run measures; the -limited ones join with --flow-limits on */
const DEFAULT_SYSTEMS = ['pglite', 'postgres', 'graphile', 'pgboss', 'sidequest'] as const
/** the systems that run on the Postgres server (what the server spends is read for these) */
const SERVER_SYSTEMS: readonly SystemName[] = ['postgres', 'graphile', 'pgboss', 'sidequest', 'postgres-limited']
type SystemName = typeof SYSTEMS[number]

function systemList (raw: string): SystemName[] {
  const names = raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
  const bad = names.filter(n => !(SYSTEMS as readonly string[]).includes(n))
  if (names.length === 0 || bad.length > 0) throw new Error(`--systems: expected a comma-separated subset of ${SYSTEMS.join(',')}, got "${raw}"`)
  return names as SystemName[]
}

type RepeatedThroughput = ThroughputResult & { runs_tasks_per_s: number[] }

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('pg-throughput', args, {
    tasks: { type: 'string' },
    systems: { type: 'string', default: DEFAULT_SYSTEMS.join(',') },
    'flow-limits': { type: 'string', default: 'off' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '50' },
    'lease-batch': { type: 'string' },
    'latency-samples': { type: 'string' },
    'pool-size': { type: 'string', default: '10' },
    'pgboss-workers': { type: 'string', default: '5' },
    'pgboss-batch': { type: 'string' },
    'task-events': { type: 'string', default: 'on' },
    repeat: { type: 'string' },
    timeout: { type: 'string', default: '600000' }
  })
  const smoke = flags.smoke === true
  const sizes = integerList('tasks', (flags.tasks as string | undefined) ?? (smoke ? '300' : '20000,100000'))
  const systems = systemList(flags.systems as string)
  // --flow-limits on: each Switchyard system also runs with unsaturated flow limits configured
  if (onOff('flow-limits', flags['flow-limits'] as string)) {
    for (const base of ['postgres', 'pglite'] as const) if (systems.includes(base) && !systems.includes(`${base}-limited`)) systems.push(`${base}-limited`)
  }
  const batchSize = positiveInteger('batch', flags.batch as string)
  const concurrency = positiveInteger('concurrency', flags.concurrency as string)
  const leaseBatch = positiveInteger('lease-batch', (flags['lease-batch'] as string | undefined) ?? String(concurrency))
  const latencySamples = positiveInteger('latency-samples', (flags['latency-samples'] as string | undefined) ?? (smoke ? '20' : '500'))
  const poolSize = positiveInteger('pool-size', flags['pool-size'] as string)
  const timeoutMs = positiveInteger('timeout', flags.timeout as string)
  const repeat = positiveInteger('repeat', (flags.repeat as string | undefined) ?? (smoke ? '1' : '3'))
  const taskEvents = onOff('task-events', flags['task-events'] as string)
  const pgBossWorkers = positiveInteger('pgboss-workers', flags['pgboss-workers'] as string)
  // default: workers x batch = the concurrency of the others
  const pgBossBatch = positiveInteger('pgboss-batch', (flags['pgboss-batch'] as string | undefined) ?? String(Math.ceil(concurrency / pgBossWorkers)))

  const needsServer = systems.some(s => SERVER_SYSTEMS.includes(s))
  if (needsServer) await assertPostgresReachable()
  // the server's CPU per task can be read only when it runs on this machine; WAL always
  const cpuReadable = needsServer && await backendCpuReadable()
  const createPostgresBackend = await loadBackendFactory<PostgresOptions>('@switchyard/backend-postgres', 'createPostgresBackend')

  const serverBackend: BackendOpener = async () => {
    const schema = freshSchema('bench_sy')
    const backend = createPostgresBackend({ connectionString: POSTGRES_URL, schema, poolSize })
    try {
      await backend.init()
    } catch (err) {
      await backend.close().catch(() => {})
      await dropSchema(schema)
      throw err
    }
    return { backend, destroy: async () => { try { await backend.close() } finally { await dropSchema(schema) } } }
  }
  const pgliteBackend: BackendOpener = async () => {
    const backend = createPostgresBackend({ embedded: {} })
    await backend.init()
    return { backend, destroy: () => backend.close() }
  }
  // Same knobs for every Switchyard run: leases as large as the free slots, acks batched.
  const workerOptions: WorkerOptionsInput = { concurrency, batchSize: Math.min(leaseBatch, 1000), pollMs: 100 }
  const graphileTuning: GraphileTuning = { ...GRAPHILE_THROUGHPUT_TUNING }
  const bossTuning = pgBossTuning(pgBossWorkers, pgBossBatch)
  const sqTuning = sidequestTuning(concurrency)

  progress(`pg-throughput: sizes ${sizes.join(',')}, systems ${systems.join(',')}, enqueue batch ${batchSize}, switchyard concurrency ${concurrency} (lease batch ${leaseBatch}, task events ${taskEvents ? 'on' : 'off'}), graphile concurrency ${graphileTuning.concurrency} local queue ${graphileTuning.localQueueSize}, pg-boss ${bossTuning.workers} workers x batch ${bossTuning.batchSize} polling ${bossTuning.pollingIntervalSeconds} s, sidequest concurrency ${sqTuning.concurrency} polling ${sqTuning.jobPollingInterval} ms, ${repeat} round(s), median reported${needsServer ? `; server CPU per task ${cpuReadable ? 'from the backends of this run' : 'not readable (server not on this machine)'}, WAL server-wide` : ''}`)

  const contenders: Array<{ key: SystemName, make: () => ThroughputSystem }> = []
  if (systems.includes('pglite')) contenders.push({ key: 'pglite', make: () => new SwitchyardThroughput('switchyard_pglite', pgliteBackend, workerOptions, taskEvents) })
  if (systems.includes('postgres')) contenders.push({ key: 'postgres', make: () => new SwitchyardThroughput('switchyard_postgres', serverBackend, workerOptions, taskEvents) })
  if (systems.includes('graphile')) contenders.push({ key: 'graphile', make: () => new GraphileThroughput(graphileTuning) })
  if (systems.includes('pgboss')) contenders.push({ key: 'pgboss', make: () => new PgBossThroughput(bossTuning) })
  if (systems.includes('sidequest')) contenders.push({ key: 'sidequest', make: () => new SidequestThroughput(sqTuning) })
  if (systems.includes('postgres-limited')) contenders.push({ key: 'postgres-limited', make: () => new SwitchyardThroughput('switchyard_postgres_flow_limited', withFlowLimits(serverBackend), workerOptions, taskEvents) })
  if (systems.includes('pglite-limited')) contenders.push({ key: 'pglite-limited', make: () => new SwitchyardThroughput('switchyard_pglite_flow_limited', withFlowLimits(pgliteBackend), workerOptions, taskEvents) })
  const resultKey: Record<SystemName, string> = {
    pglite: 'switchyard_pglite',
    postgres: 'switchyard_postgres',
    graphile: 'graphile_worker',
    pgboss: 'pg_boss',
    sidequest: 'sidequest',
    'postgres-limited': 'switchyard_postgres_flow_limited',
    'pglite-limited': 'switchyard_pglite_flow_limited'
  }

  const throughput: Record<string, Record<string, RepeatedThroughput>> = {}
  for (const n of sizes) {
    const plan = { tasks: n, batchSize, timeoutMs }
    // a fresh sampler per run: it sums the CPU of every backend it has seen
    const serverPlan = () => ({ ...plan, ...(cpuReadable ? { serverCpuSeconds: (sampler => () => sampler.seconds())(new OwnBackendCpu()) } : {}), serverWalBytes: walBytes })
    const runs = new Map<SystemName, ThroughputResult[]>(contenders.map(c => [c.key, []]))
    for (let round = 0; round < repeat; round++) {
      // Rotate who goes first so drift in machine load does not favour one system.
      for (let k = 0; k < contenders.length; k++) {
        const contender = contenders[(k + round) % contenders.length]!
        runs.get(contender.key)!.push(await measureThroughput(contender.make(), SERVER_SYSTEMS.includes(contender.key) ? serverPlan() : plan))
      }
    }
    const row: Record<string, RepeatedThroughput> = {}
    for (const [key, list] of runs) row[resultKey[key]] = medianRun(list)
    throughput[String(n)] = row
  }

  // Latency on idle workers: graphile-worker without refetch delay, because that
  // option exists to ignore new-job notifications, which is what this measures.
  const latencyPlan = { samples: latencySamples, warmup: smoke ? 3 : 20, gapMs: 10, timeoutMs: 10_000 }
  const latency: Record<string, LatencySummary> = {}
  if (systems.includes('postgres')) latency.switchyard_postgres = await measureLatency(new SwitchyardLatency('switchyard_postgres', serverBackend, workerOptions, taskEvents), latencyPlan)
  if (systems.includes('graphile')) latency.graphile_worker = await measureLatency(new GraphileLatency({ ...graphileTuning, refetchDelayMs: 0 }), latencyPlan)
  if (systems.includes('pgboss')) latency.pg_boss = await measureLatency(new PgBossLatency(bossTuning), latencyPlan)
  if (systems.includes('sidequest')) latency.sidequest = await measureLatency(new SidequestLatency(sqTuning), latencyPlan)

  const ratios: Record<string, number | null> = {}
  for (const n of sizes) {
    const row = throughput[String(n)]!
    ratios[`switchyard_postgres_vs_graphile_${n}`] = ratio(row.switchyard_postgres?.tasks_per_s, row.graphile_worker?.tasks_per_s)
    ratios[`switchyard_pglite_vs_graphile_${n}`] = ratio(row.switchyard_pglite?.tasks_per_s, row.graphile_worker?.tasks_per_s)
    ratios[`switchyard_postgres_vs_pg_boss_${n}`] = ratio(row.switchyard_postgres?.tasks_per_s, row.pg_boss?.tasks_per_s)
    ratios[`switchyard_postgres_vs_sidequest_${n}`] = ratio(row.switchyard_postgres?.tasks_per_s, row.sidequest?.tasks_per_s)
    // what the server spends per task, Switchyard against each peer (below 1: Switchyard spends less)
    for (const peer of ['graphile_worker', 'pg_boss', 'sidequest'] as const) {
      ratios[`switchyard_postgres_vs_${peer}_server_cpu_per_task_${n}`] = ratio(row.switchyard_postgres?.server_cpu_us_per_task, row[peer]?.server_cpu_us_per_task)
      ratios[`switchyard_postgres_vs_${peer}_wal_bytes_per_task_${n}`] = ratio(row.switchyard_postgres?.server_wal_bytes_per_task, row[peer]?.server_wal_bytes_per_task)
    }
    ratios[`switchyard_postgres_flow_limited_vs_none_${n}`] = ratio(row.switchyard_postgres_flow_limited?.tasks_per_s, row.switchyard_postgres?.tasks_per_s)
    ratios[`switchyard_pglite_flow_limited_vs_none_${n}`] = ratio(row.switchyard_pglite_flow_limited?.tasks_per_s, row.switchyard_pglite?.tasks_per_s)
    ratios[`switchyard_postgres_flow_limited_vs_graphile_${n}`] = ratio(row.switchyard_postgres_flow_limited?.tasks_per_s, row.graphile_worker?.tasks_per_s)
  }
  const largest = throughput[String(Math.max(...sizes))]!
  ratios.pglite_tasks_per_s = largest.switchyard_pglite?.tasks_per_s ?? null
  ratios.switchyard_postgres_vs_graphile_latency_p50 = ratio(latency.switchyard_postgres?.p50, latency.graphile_worker?.p50)
  ratios.switchyard_postgres_latency_p50_ms = latency.switchyard_postgres?.p50 ?? null
  ratios.switchyard_postgres_vs_pg_boss_latency_p50 = ratio(latency.switchyard_postgres?.p50, latency.pg_boss?.p50)
  ratios.switchyard_postgres_vs_sidequest_latency_p50 = ratio(latency.switchyard_postgres?.p50, latency.sidequest?.p50)

  for (const [key, value] of Object.entries(ratios)) progress(`${key}: ${value ?? 'n/a'}`)
  return {
    results: {
      smoke,
      config: { enqueueBatch: batchSize, repeat, switchyard: { ...workerOptions, taskEvents }, graphile: graphileTuning, pgBoss: bossTuning, sidequest: sqTuning, serverCpuPerTask: cpuReadable ? 'backends of this run (/proc)' : null, walPerTask: 'server-wide pg_current_wal_lsn', postgres: POSTGRES_URL.replace(/\/\/[^@]*@/, '//') },
      throughput,
      latency_ms: latency
    },
    ratios
  }
}
