// Tasks/s on Redis: Switchyard's Redis backend, its BullMQ backend, raw BullMQ and a
// raw Redis list queue (LMOVE/LREM: the ceiling) against the same Redis in one run; enqueue→start latency on idle workers; and
// the cost of the overview read (queueStats) as the task count grows.
import { integerList, medianRun, nonNegativeInteger, onOff, parseFlags, positiveInteger } from './lib/args.ts'
import { loadBackendFactory } from './lib/load.ts'
import { measureLatency, measureThroughput, type ThroughputResult } from './lib/measure.ts'
import { fillForOverview, measureQueueStats, type FilledBackend, type OverviewResult } from './lib/overview.ts'
import { assertRedisReachable, deleteKeysContaining, freshToken, redisCpuSeconds, REDIS_URL } from './lib/redis.ts'
import { progress, ratio } from './lib/report.ts'
import type { LatencySummary } from './lib/stats.ts'
import type { BenchResult } from './lib/types.ts'
import { BullMQLatency, BullMQThroughput } from './systems/bullmq-raw.ts'
import { RedisListLatency, RedisListThroughput } from './systems/redis-list.ts'
import type { LatencySystem, ThroughputSystem } from './systems/contract.ts'
import { SwitchyardLatency, SwitchyardThroughput, withFlowLimits, type BackendOpener } from './systems/switchyard.ts'
import type { WorkerOptionsInput } from '../core/worker/index.ts'

interface RedisOptions { url: string, prefix: string }

const SYSTEMS = ['redis', 'bullmq', 'bullmq-raw', 'redis-list', 'redis-limited', 'bullmq-limited'] as const
/** the systems a plain run measures; the -limited ones join with --flow-limits on */
const DEFAULT_SYSTEMS = ['redis', 'bullmq', 'bullmq-raw', 'redis-list'] as const
type SystemName = typeof SYSTEMS[number]
const RESULT_KEY: Record<SystemName, string> = {
  redis: 'switchyard_redis',
  bullmq: 'switchyard_bullmq',
  'bullmq-raw': 'bullmq_raw',
  'redis-list': 'redis_list_raw',
  'redis-limited': 'switchyard_redis_flow_limited',
  'bullmq-limited': 'switchyard_bullmq_flow_limited'
}
const OVERVIEW_SYSTEMS = ['redis', 'bullmq'] as const
const OVERVIEW_QUEUES = 10

function subsetOf<T extends string> (flag: string, raw: string, allowed: readonly T[]): T[] {
  const names = raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
  const bad = names.filter(n => !(allowed as readonly string[]).includes(n))
  if (bad.length > 0) throw new Error(`--${flag}: expected a comma-separated subset of ${allowed.join(',')}, got "${raw}"`)
  return names as T[]
}

type RepeatedThroughput = ThroughputResult & { runs_tasks_per_s: number[], runs_server_cpu_us_per_task: Array<number | null> }

/** the median over rounds of a's rate divided by b's in the same round */
function pairedRatio (a: RepeatedThroughput | undefined, b: RepeatedThroughput | undefined): number | null {
  if (a === undefined || b === undefined) return null
  const perRound = a.runs_tasks_per_s.map((rate, i) => ratio(rate, b.runs_tasks_per_s[i])).filter((r): r is number => r !== null).sort((x, y) => x - y)
  return perRound.length === 0 ? null : perRound[Math.floor((perRound.length - 1) / 2)]!
}

/** the median over rounds of a's Redis CPU per task divided by b's in the same round */
function pairedCpuRatio (a: RepeatedThroughput | undefined, b: RepeatedThroughput | undefined): number | null {
  if (a === undefined || b === undefined) return null
  const perRound = a.runs_server_cpu_us_per_task.map((cpu, i) => ratio(cpu, b.runs_server_cpu_us_per_task[i])).filter((r): r is number => r !== null).sort((x, y) => x - y)
  return perRound.length === 0 ? null : perRound[Math.floor((perRound.length - 1) / 2)]!
}

/** the workers' backend calls per task in the median run (each call is one round trip on Redis) */
function roundTripsPerTask (result: RepeatedThroughput | undefined): number | null {
  if (result?.backend_calls === undefined || result.tasks === 0) return null
  const calls = Object.values(result.backend_calls).reduce((sum, c) => sum + c.calls, 0)
  return Math.round(calls / result.tasks * 10_000) / 10_000
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('redis-throughput', args, {
    tasks: { type: 'string' },
    systems: { type: 'string', default: DEFAULT_SYSTEMS.join(',') },
    'flow-limits': { type: 'string', default: 'off' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '50' },
    repeat: { type: 'string' },
    'latency-samples': { type: 'string' },
    // idle time between latency samples, plus up to as much again at random (see measureLatency)
    'latency-gap-ms': { type: 'string', default: '10' },
    'overview-tasks': { type: 'string' },
    'overview-calls': { type: 'string' },
    'overview-rounds': { type: 'string' },
    'overview-systems': { type: 'string', default: OVERVIEW_SYSTEMS.join(',') },
    'task-events': { type: 'string', default: 'on' },
    timeout: { type: 'string', default: '600000' }
  })
  const smoke = flags.smoke === true
  const sizes = integerList('tasks', (flags.tasks as string | undefined) ?? (smoke ? '300' : '50000'))
  const systems = subsetOf('systems', flags.systems as string, SYSTEMS)
  // --flow-limits on: each Switchyard system also runs with unsaturated flow limits configured
  if (onOff('flow-limits', flags['flow-limits'] as string)) {
    for (const base of ['redis', 'bullmq'] as const) if (systems.includes(base) && !systems.includes(`${base}-limited`)) systems.push(`${base}-limited`)
  }
  const batchSize = positiveInteger('batch', flags.batch as string)
  const concurrency = positiveInteger('concurrency', flags.concurrency as string)
  const repeat = positiveInteger('repeat', (flags.repeat as string | undefined) ?? (smoke ? '1' : '5'))
  const latencySamples = positiveInteger('latency-samples', (flags['latency-samples'] as string | undefined) ?? (smoke ? '10' : '300'))
  const latencyGapMs = nonNegativeInteger('latency-gap-ms', flags['latency-gap-ms'] as string)
  const overviewSizes = integerList('overview-tasks', (flags['overview-tasks'] as string | undefined) ?? (smoke ? '100,1000' : '10000,1000000'))
  const overviewCalls = positiveInteger('overview-calls', (flags['overview-calls'] as string | undefined) ?? (smoke ? '50' : '1000'))
  const overviewRounds = positiveInteger('overview-rounds', (flags['overview-rounds'] as string | undefined) ?? (smoke ? '1' : '21'))
  const overviewSystems = subsetOf('overview-systems', flags['overview-systems'] as string, OVERVIEW_SYSTEMS)
  const timeoutMs = positiveInteger('timeout', flags.timeout as string)
  const taskEvents = onOff('task-events', flags['task-events'] as string)

  await assertRedisReachable()
  // Every requested backend must load: a missing package fails the run, never a silent skip.
  const needed = new Set<SystemName>([...systems, ...overviewSystems])
  if (needed.has('redis-limited')) needed.add('redis')
  if (needed.has('bullmq-limited')) needed.add('bullmq')
  const createRedisBackend = needed.has('redis') ? await loadBackendFactory<RedisOptions>('@switchyard/backend-redis', 'createRedisBackend') : null
  const createBullMQBackend = needed.has('bullmq') ? await loadBackendFactory<RedisOptions>('@switchyard/backend-bullmq', 'createBullMQBackend') : null

  const opener = (system: 'redis' | 'bullmq'): BackendOpener => async () => {
    const token = freshToken()
    // backend-redis keys look like {prefix}name; backend-bullmq forbids ':' in its prefix
    const backend = system === 'redis' ? createRedisBackend!({ url: REDIS_URL, prefix: `sy:${token}:` }) : createBullMQBackend!({ url: REDIS_URL, prefix: token })
    try {
      await backend.init()
    } catch (err) {
      await backend.close().catch(() => {})
      await deleteKeysContaining(token)
      throw err
    }
    return { backend, destroy: async () => { try { await backend.close() } finally { await deleteKeysContaining(token) } } }
  }
  const workerOptions: WorkerOptionsInput = { concurrency, batchSize: Math.min(concurrency, 1000), pollMs: 100 }
  const makeThroughput: Record<SystemName, () => ThroughputSystem> = {
    redis: () => new SwitchyardThroughput('switchyard_redis', opener('redis'), workerOptions, taskEvents),
    bullmq: () => new SwitchyardThroughput('switchyard_bullmq', opener('bullmq'), workerOptions, taskEvents),
    'bullmq-raw': () => new BullMQThroughput(concurrency),
    'redis-list': () => new RedisListThroughput(concurrency),
    'redis-limited': () => new SwitchyardThroughput('switchyard_redis_flow_limited', withFlowLimits(opener('redis')), workerOptions, taskEvents),
    'bullmq-limited': () => new SwitchyardThroughput('switchyard_bullmq_flow_limited', withFlowLimits(opener('bullmq')), workerOptions, taskEvents)
  }
  const makeLatency: Record<SystemName, () => LatencySystem> = {
    redis: () => new SwitchyardLatency('switchyard_redis', opener('redis'), workerOptions, taskEvents),
    bullmq: () => new SwitchyardLatency('switchyard_bullmq', opener('bullmq'), workerOptions, taskEvents),
    'bullmq-raw': () => new BullMQLatency(concurrency),
    'redis-list': () => new RedisListLatency(concurrency),
    'redis-limited': () => new SwitchyardLatency('switchyard_redis_flow_limited', withFlowLimits(opener('redis')), workerOptions, taskEvents),
    'bullmq-limited': () => new SwitchyardLatency('switchyard_bullmq_flow_limited', withFlowLimits(opener('bullmq')), workerOptions, taskEvents)
  }

  progress(`redis-throughput: sizes ${sizes.join(',')}, systems ${systems.join(',')}, enqueue batch ${batchSize}, concurrency ${concurrency}, task events ${taskEvents ? 'on' : 'off'}, ${repeat} round(s), median reported`)
  const throughput: Record<string, Record<string, RepeatedThroughput>> = {}
  for (const n of sizes) {
    const plan = { tasks: n, batchSize, timeoutMs, serverCpuSeconds: redisCpuSeconds }
    const runs = new Map<SystemName, ThroughputResult[]>(systems.map(s => [s, []]))
    for (let round = 0; round < repeat; round++) {
      for (let k = 0; k < systems.length; k++) {
        const system = systems[(k + round) % systems.length]!
        runs.get(system)!.push(await measureThroughput(makeThroughput[system](), plan))
      }
    }
    const row: Record<string, RepeatedThroughput> = {}
    for (const [system, list] of runs) row[RESULT_KEY[system]] = { ...medianRun(list), runs_server_cpu_us_per_task: list.map(r => r.server_cpu_us_per_task ?? null) }
    throughput[String(n)] = row
  }

  const latencyPlan = { samples: latencySamples, warmup: smoke ? 3 : 20, gapMs: latencyGapMs, timeoutMs: 10_000 }
  const latency: Record<string, LatencySummary> = {}
  for (const system of systems) latency[RESULT_KEY[system]] = await measureLatency(makeLatency[system](), latencyPlan)

  const overview: Record<string, OverviewResult[]> = {}
  for (const system of overviewSystems) {
    // every size filled at once (own prefixes), then measured in alternating blocks
    const opened: Array<Awaited<ReturnType<BackendOpener>>> = []
    try {
      const filled: FilledBackend[] = []
      for (const total of overviewSizes) {
        const backend = await opener(system)()
        opened.push(backend)
        filled.push(await fillForOverview(RESULT_KEY[system]!, backend.backend, { queues: OVERVIEW_QUEUES, totalTasks: total, enqueueBatch: batchSize }))
      }
      overview[RESULT_KEY[system]] = await measureQueueStats(filled, overviewCalls, overviewRounds, OVERVIEW_QUEUES)
    } finally {
      for (const { destroy } of opened) await destroy()
    }
  }

  const ratios: Record<string, number | null> = {}
  for (const n of sizes) {
    const row = throughput[String(n)]!
    ratios[`switchyard_redis_vs_bullmq_raw_${n}`] = ratio(row.switchyard_redis?.tasks_per_s, row.bullmq_raw?.tasks_per_s)
    ratios[`switchyard_bullmq_vs_bullmq_raw_${n}`] = ratio(row.switchyard_bullmq?.tasks_per_s, row.bullmq_raw?.tasks_per_s)
    ratios[`switchyard_redis_flow_limited_vs_none_${n}`] = ratio(row.switchyard_redis_flow_limited?.tasks_per_s, row.switchyard_redis?.tasks_per_s)
    ratios[`switchyard_bullmq_flow_limited_vs_none_${n}`] = ratio(row.switchyard_bullmq_flow_limited?.tasks_per_s, row.switchyard_bullmq?.tasks_per_s)
    ratios[`switchyard_redis_flow_limited_vs_bullmq_raw_${n}`] = ratio(row.switchyard_redis_flow_limited?.tasks_per_s, row.bullmq_raw?.tasks_per_s)
    // Each round runs every system back to back, so a round's ratio compares runs that
    // shared the machine's state at the time; the median round is less at the mercy of
    // a slow patch than the ratio of medians above (both printed).
    ratios[`switchyard_redis_vs_bullmq_raw_${n}_paired`] = pairedRatio(row.switchyard_redis, row.bullmq_raw)
    ratios[`switchyard_bullmq_vs_bullmq_raw_${n}_paired`] = pairedRatio(row.switchyard_bullmq, row.bullmq_raw)
    // the ceiling: how far the raw list queue is above raw BullMQ, and what share of it each system reaches
    ratios[`redis_list_raw_vs_bullmq_raw_${n}_paired`] = pairedRatio(row.redis_list_raw, row.bullmq_raw)
    ratios[`switchyard_redis_vs_redis_list_raw_${n}_paired`] = pairedRatio(row.switchyard_redis, row.redis_list_raw)
    ratios[`switchyard_bullmq_vs_redis_list_raw_${n}_paired`] = pairedRatio(row.switchyard_bullmq, row.redis_list_raw)
    ratios[`bullmq_raw_vs_redis_list_raw_${n}_paired`] = pairedRatio(row.bullmq_raw, row.redis_list_raw)
    // Redis CPU per task holds better than tasks/s on a loaded machine: how many times the
    // Redis CPU of a Switchyard task raw BullMQ spends, and the list queue's share of ours
    ratios[`bullmq_raw_vs_switchyard_redis_server_cpu_per_task_${n}_paired`] = pairedCpuRatio(row.bullmq_raw, row.switchyard_redis)
    ratios[`redis_list_raw_vs_switchyard_redis_server_cpu_per_task_${n}_paired`] = pairedCpuRatio(row.redis_list_raw, row.switchyard_redis)
    ratios[`switchyard_redis_round_trips_per_task_${n}`] = roundTripsPerTask(row.switchyard_redis)
  }
  ratios.switchyard_redis_latency_p50_ms = latency.switchyard_redis?.p50 ?? null
  ratios.switchyard_redis_vs_bullmq_raw_latency_p50 = ratio(latency.switchyard_redis?.p50, latency.bullmq_raw?.p50)
  ratios.redis_list_raw_latency_p50_ms = latency.redis_list_raw?.p50 ?? null
  ratios.switchyard_redis_vs_redis_list_raw_latency_p50 = ratio(latency.switchyard_redis?.p50, latency.redis_list_raw?.p50)
  // >1 means the overview read got slower with more tasks; O(queues) keeps it near 1
  for (const [key, list] of Object.entries(overview)) {
    const smallest = list[0]
    const largest = list.at(-1)
    if (smallest !== undefined && largest !== undefined && list.length > 1) {
      ratios[`${key}_queue_stats_p50_growth_${smallest.total_tasks}_to_${largest.total_tasks}`] = ratio(largest.p50, smallest.p50)
      ratios[`${key}_queue_stats_p99_growth_${smallest.total_tasks}_to_${largest.total_tasks}`] = ratio(largest.p99, smallest.p99)
    }
  }

  for (const [key, value] of Object.entries(ratios)) progress(`${key}: ${value ?? 'n/a'}`)
  return {
    results: {
      smoke,
      config: { enqueueBatch: batchSize, repeat, concurrency, latencyGapMs, switchyard: { ...workerOptions, taskEvents }, redis: REDIS_URL },
      throughput,
      latency_ms: latency,
      queue_stats_ms: overview
    },
    ratios
  }
}
