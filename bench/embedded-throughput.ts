// End-to-end tasks/s of embedded job queues with their data in files on disk, in
// one run: Switchyard on PGlite (the embedded default) against the SQLite-based Node
// queues a user would pick instead: plainjob (on better-sqlite3 12) and Sidequest on
// its SQLite backend, each tuned per its own docs (see the comment at the top of each
// file in bench/systems/). liteque is not among them: every release (0.8.0 the newest)
// claims jobs inside a better-sqlite3 transaction given an async function, which
// better-sqlite3 rejects since 11.10.0 ("Transaction function cannot return a
// promise"), so on the better-sqlite3 npm installs with it today its runner throws on
// the first dequeue. Same workload for all: N no-op tasks
// enqueued in batches with the workers stopped, then processed until every one is
// durably done; then enqueue→start latency of single tasks on idle workers.
import { tmpdir } from 'node:os'
import { integerList, medianRun, onOff, parseFlags, positiveInteger } from './lib/args.ts'
import { loadBackendFactory } from './lib/load.ts'
import { measureLatency, measureThroughput, type ThroughputResult } from './lib/measure.ts'
import { progress, ratio } from './lib/report.ts'
import type { LatencySummary } from './lib/stats.ts'
import { TempDir } from './lib/temp-dir.ts'
import type { BenchResult } from './lib/types.ts'
import type { LatencySystem, ThroughputSystem } from './systems/contract.ts'
import { PlainjobLatency, PlainjobThroughput, plainjobTuning } from './systems/plainjob.ts'
import { sidequestTuning } from './systems/sidequest.ts'
import { SidequestSqliteLatency, SidequestSqliteThroughput } from './systems/sidequest-sqlite.ts'
import { SwitchyardLatency, SwitchyardThroughput, type BackendOpener } from './systems/switchyard.ts'
import type { WorkerOptionsInput } from '../core/worker/index.ts'

interface PostgresOptions { embedded?: { dataDir?: string, optimizeWasm?: boolean, thread?: 'worker' | 'main' } }

/**
 * switchyard-pglite runs what a user gets by default (V8 baseline code only for
 * PGlite's WebAssembly, `embedded.optimizeWasm` false); switchyard-pglite-optimized
 * lets V8 tier PGlite up (`optimizeWasm: true`), measured beside it on request.
 * switchyard-pglite runs PGlite on the main thread (`embedded.thread: main`, the
 * default); switchyard-pglite-thread runs it on a thread of its own (`thread: worker`).
 */
const SYSTEMS = ['switchyard-pglite', 'plainjob', 'sidequest-sqlite', 'switchyard-pglite-optimized', 'switchyard-pglite-thread'] as const
const DEFAULT_SYSTEMS = ['switchyard-pglite', 'plainjob', 'sidequest-sqlite'] as const
type SystemName = typeof SYSTEMS[number]
const PEERS = ['plainjob', 'sidequest_sqlite'] as const

const RESULT_KEY: Record<SystemName, string> = {
  'switchyard-pglite': 'switchyard_pglite',
  'switchyard-pglite-optimized': 'switchyard_pglite_optimized',
  'switchyard-pglite-thread': 'switchyard_pglite_thread',
  plainjob: 'plainjob',
  'sidequest-sqlite': 'sidequest_sqlite'
}

function systemList (raw: string): SystemName[] {
  const names = raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
  const bad = names.filter(n => !(SYSTEMS as readonly string[]).includes(n))
  if (names.length === 0 || bad.length > 0) throw new Error(`--systems: expected a comma-separated subset of ${SYSTEMS.join(',')}, got "${raw}"`)
  return names as SystemName[]
}

type RepeatedThroughput = ThroughputResult & { runs_tasks_per_s: number[] }

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('embedded-throughput', args, {
    tasks: { type: 'string' },
    systems: { type: 'string', default: DEFAULT_SYSTEMS.join(',') },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '50' },
    'plainjob-workers': { type: 'string' },
    'task-events': { type: 'string', default: 'on' },
    'latency-samples': { type: 'string' },
    repeat: { type: 'string' },
    timeout: { type: 'string', default: '600000' }
  })
  const smoke = flags.smoke === true
  const sizes = integerList('tasks', (flags.tasks as string | undefined) ?? (smoke ? '200' : '5000'))
  const systems = systemList(flags.systems as string)
  const batchSize = positiveInteger('batch', flags.batch as string)
  const concurrency = positiveInteger('concurrency', flags.concurrency as string)
  // default: as many plainjob workers as the others' concurrency (faster than one here)
  const plainjobWorkers = positiveInteger('plainjob-workers', (flags['plainjob-workers'] as string | undefined) ?? String(concurrency))
  const taskEvents = onOff('task-events', flags['task-events'] as string)
  const latencySamples = positiveInteger('latency-samples', (flags['latency-samples'] as string | undefined) ?? (smoke ? '10' : '300'))
  const repeat = positiveInteger('repeat', (flags.repeat as string | undefined) ?? (smoke ? '1' : '3'))
  const timeoutMs = positiveInteger('timeout', flags.timeout as string)

  const createPostgresBackend = await loadBackendFactory<PostgresOptions>('@switchyard/backend-postgres', 'createPostgresBackend')
  // PGlite with its data directory on disk, as `switchyard start` keeps it in ./.switchyard/
  const pgliteOnDisk = (optimizeWasm: boolean, thread: 'worker' | 'main' = 'main'): BackendOpener => async () => {
    const dir = new TempDir('pglite')
    const backend = createPostgresBackend({ embedded: { dataDir: dir.file('data'), optimizeWasm, thread } })
    try {
      await backend.init()
    } catch (err) {
      await backend.close().catch(() => {})
      dir.remove()
      throw err
    }
    return { backend, destroy: async () => { try { await backend.close() } finally { dir.remove() } } }
  }
  // The same knobs as pg-throughput: leases as large as the free slots, acks batched.
  const workerOptions: WorkerOptionsInput = { concurrency, batchSize: Math.min(concurrency, 1000), pollMs: 100 }
  const pjTuning = plainjobTuning(plainjobWorkers)
  const sqTuning = sidequestTuning(concurrency)

  progress(`embedded-throughput: sizes ${sizes.join(',')}, systems ${systems.join(',')}, enqueue batch ${batchSize}, data files in a fresh directory under ${tmpdir()} each run; switchyard concurrency ${concurrency} (task events ${taskEvents ? 'on' : 'off'}), plainjob ${pjTuning.workers} worker(s) polling ${pjTuning.pollIntervalMs} ms, sidequest concurrency ${sqTuning.concurrency} polling ${sqTuning.jobPollingInterval} ms; ${repeat} round(s), median reported`)

  const makeThroughput: Record<SystemName, () => ThroughputSystem> = {
    'switchyard-pglite': () => new SwitchyardThroughput('switchyard_pglite', pgliteOnDisk(false), workerOptions, taskEvents),
    'switchyard-pglite-optimized': () => new SwitchyardThroughput('switchyard_pglite_optimized', pgliteOnDisk(true), workerOptions, taskEvents),
    'switchyard-pglite-thread': () => new SwitchyardThroughput('switchyard_pglite_thread', pgliteOnDisk(false, 'worker'), workerOptions, taskEvents),
    plainjob: () => new PlainjobThroughput(pjTuning),
    'sidequest-sqlite': () => new SidequestSqliteThroughput(sqTuning)
  }
  const makeLatency: Record<SystemName, () => LatencySystem> = {
    'switchyard-pglite': () => new SwitchyardLatency('switchyard_pglite', pgliteOnDisk(false), workerOptions, taskEvents),
    'switchyard-pglite-optimized': () => new SwitchyardLatency('switchyard_pglite_optimized', pgliteOnDisk(true), workerOptions, taskEvents),
    'switchyard-pglite-thread': () => new SwitchyardLatency('switchyard_pglite_thread', pgliteOnDisk(false, 'worker'), workerOptions, taskEvents),
    plainjob: () => new PlainjobLatency(pjTuning),
    'sidequest-sqlite': () => new SidequestSqliteLatency(sqTuning)
  }

  const throughput: Record<string, Record<string, RepeatedThroughput>> = {}
  for (const n of sizes) {
    const plan = { tasks: n, batchSize, timeoutMs }
    const runs = new Map<SystemName, ThroughputResult[]>(systems.map(s => [s, []]))
    for (let round = 0; round < repeat; round++) {
      // Rotate who goes first so drift in machine load does not favour one system.
      for (let k = 0; k < systems.length; k++) {
        const system = systems[(k + round) % systems.length]!
        runs.get(system)!.push(await measureThroughput(makeThroughput[system](), plan))
      }
    }
    const row: Record<string, RepeatedThroughput> = {}
    for (const [system, list] of runs) row[RESULT_KEY[system]] = medianRun(list)
    throughput[String(n)] = row
  }

  // Every peer polls (no wake-up on enqueue) at the interval set above; Switchyard on
  // PGlite is woken by an in-process NOTIFY.
  const latencyPlan = { samples: latencySamples, warmup: smoke ? 3 : 20, gapMs: 10, timeoutMs: 10_000 }
  const latency: Record<string, LatencySummary> = {}
  for (const system of systems) latency[RESULT_KEY[system]] = await measureLatency(makeLatency[system](), latencyPlan)

  const ratios: Record<string, number | null> = {}
  for (const n of sizes) {
    const row = throughput[String(n)]!
    const peerRates = PEERS.map(p => row[p]?.tasks_per_s).filter((r): r is number => r !== undefined)
    const fastest = peerRates.length === 0 ? undefined : Math.max(...peerRates)
    // the target: Switchyard on PGlite at least 1.0x the fastest peer
    ratios[`switchyard_pglite_vs_fastest_peer_${n}`] = ratio(row.switchyard_pglite?.tasks_per_s, fastest)
    for (const peer of PEERS) ratios[`switchyard_pglite_vs_${peer}_${n}`] = ratio(row.switchyard_pglite?.tasks_per_s, row[peer]?.tasks_per_s)
    ratios[`switchyard_pglite_optimized_vs_default_${n}`] = ratio(row.switchyard_pglite_optimized?.tasks_per_s, row.switchyard_pglite?.tasks_per_s)
    ratios[`switchyard_pglite_thread_vs_default_${n}`] = ratio(row.switchyard_pglite_thread?.tasks_per_s, row.switchyard_pglite?.tasks_per_s)
    // Every system here keeps its database inside this process, so the process' CPU while
    // processing is all it spends: per task, it is the fairer comparison on a busy machine
    // (below 1: Switchyard spends less).
    for (const peer of PEERS) ratios[`switchyard_pglite_vs_${peer}_process_cpu_per_task_${n}`] = ratio(row.switchyard_pglite?.process_client_cpu_ms, row[peer]?.process_client_cpu_ms)
    // the same for the enqueue phase (process CPU while enqueueing; the median run's)
    for (const peer of PEERS) ratios[`switchyard_pglite_vs_${peer}_enqueue_cpu_per_task_${n}`] = ratio(row.switchyard_pglite?.enqueue_client_cpu_ms, row[peer]?.enqueue_client_cpu_ms)
    ratios[`switchyard_pglite_optimized_vs_default_process_cpu_per_task_${n}`] = ratio(row.switchyard_pglite_optimized?.process_client_cpu_ms, row.switchyard_pglite?.process_client_cpu_ms)
    ratios[`switchyard_pglite_thread_vs_default_process_cpu_per_task_${n}`] = ratio(row.switchyard_pglite_thread?.process_client_cpu_ms, row.switchyard_pglite?.process_client_cpu_ms)
  }
  ratios.switchyard_pglite_tasks_per_s = throughput[String(Math.max(...sizes))]!.switchyard_pglite?.tasks_per_s ?? null
  for (const peer of PEERS) ratios[`switchyard_pglite_vs_${peer}_latency_p50`] = ratio(latency.switchyard_pglite?.p50, latency[peer]?.p50)

  for (const [key, value] of Object.entries(ratios)) progress(`${key}: ${value ?? 'n/a'}`)
  return {
    results: {
      smoke,
      config: { enqueueBatch: batchSize, repeat, switchyard: { ...workerOptions, taskEvents, dataDir: 'on disk (temp dir)', optimizeWasm: false, thread: 'main' }, plainjob: pjTuning, sidequestSqlite: sqTuning },
      throughput,
      latency_ms: latency
    },
    ratios
  }
}
