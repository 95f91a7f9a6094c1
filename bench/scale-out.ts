// Scale-out: the same N no-op tasks worked by 1, 2 and 4 worker processes (real child
// processes, each a Switchyard worker through the public worker API) on one Postgres
// server and on one Redis. Per process count: tasks/s, the ratio to one process, the
// server's CPU per wall second (for Redis, how busy its one thread was: near 1 it
// bounds the rate), each process's CPU, and a count of handler runs per task proving
// that no task ran (so completed) twice and none was missed.
import { cpus, loadavg } from 'node:os'
import { integerList, onOff, parseFlags, positiveInteger } from './lib/args.ts'
import { assertPostgresReachable, dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'
import { backendCpuReadable, OwnBackendCpu } from './lib/postgres-usage.ts'
import { assertRedisReachable, deleteKeysContaining, freshToken, redisCpuSeconds, REDIS_URL } from './lib/redis.ts'
import { progress, rate, ratio, round } from './lib/report.ts'
import { openBackend, SCALE_OUT_HANDLER, SCALE_OUT_QUEUE, type BackendSpec } from './lib/scale-out-protocol.ts'
import type { BenchResult } from './lib/types.ts'
import { Completion } from './lib/wait.ts'
import { WorkerProcesses, type ProcessReport } from './lib/worker-processes.ts'
import { normalizeNewTask, DEFAULT_TASK_DEFAULTS } from '../core/tasks/enqueue.ts'
import type { Backend } from '@switchyard/core'
import type { WorkerOptionsInput } from '../core/worker/index.ts'

const BACKENDS = ['postgres', 'redis', 'bullmq'] as const
type BackendKind = typeof BACKENDS[number]
const DEFAULT_BACKENDS: readonly BackendKind[] = ['postgres', 'redis']
/** bounds of the waits around the measured phase */
const READY_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 60_000

export interface ScaleOutResult {
  processes: number
  tasks: number
  /** one producer, workers not started */
  enqueue_ms: number
  /** from "go" to every task recorded as succeeded */
  process_ms: number
  /** tasks / process_ms: the number compared across process counts */
  tasks_per_s: number
  tasks_per_s_per_process: number
  /** server CPU seconds per wall second while processing (Redis: its one thread, 1 = saturated; Postgres: cores' worth of backends) */
  server_busy: number | null
  /** server_busy over the machine's cores */
  server_share_of_machine: number | null
  server_cpu_ms: number | null
  /** CPU of each worker process while processing */
  client_cpu_ms: number[]
  /** every worker process's CPU per wall second, summed */
  clients_busy: number
  /** handler runs per process: how the work was shared */
  handler_runs_per_process: number[]
  /** tasks whose handler ran more than once (a duplicate completion needs a duplicate run) */
  tasks_run_twice: number
  tasks_not_run: number
  /** the backend's own succeeded count for the queue afterwards */
  succeeded: number
  machine_load_1m: number
}

function backendList (raw: string): BackendKind[] {
  const names = raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
  const bad = names.filter(n => !(BACKENDS as readonly string[]).includes(n))
  if (names.length === 0 || bad.length > 0) throw new Error(`--backends: expected a comma-separated subset of ${BACKENDS.join(',')}, got "${raw}"`)
  return names as BackendKind[]
}

/** A fresh storage for one run and the way to remove it. */
function freshStorage (kind: BackendKind, poolSize: number): { spec: BackendSpec, remove: () => Promise<unknown> } {
  if (kind === 'postgres') {
    const schema = freshSchema('bench_scale')
    return { spec: { kind, connectionString: POSTGRES_URL, schema, poolSize }, remove: () => dropSchema(schema) }
  }
  const token = freshToken()
  // backend-redis keys look like {prefix}name; backend-bullmq forbids ':' in its prefix
  const prefix = kind === 'redis' ? `sy:${token}:` : token
  return { spec: { kind, url: REDIS_URL, prefix }, remove: () => deleteKeysContaining(token) }
}

async function enqueueAll (backend: Backend, tasks: number, batchSize: number): Promise<void> {
  for (let from = 0; from < tasks; from += batchSize) {
    const count = Math.min(batchSize, tasks - from)
    const batch = Array.from({ length: count }, (_, k) => normalizeNewTask({ handler: SCALE_OUT_HANDLER, queue: SCALE_OUT_QUEUE, payload: { i: from + k } }, DEFAULT_TASK_DEFAULTS))
    const results = await backend.enqueue(batch)
    if (results.length !== count) throw new Error(`scale-out: enqueue of ${count} tasks returned ${results.length} results`)
  }
}

/** the backend's succeeded count once nothing is left to run; null while work remains */
async function succeededWhenDone (backend: Backend): Promise<number | null> {
  const [stats] = await backend.queueStats([SCALE_OUT_QUEUE])
  if (stats === undefined) return null
  if (stats.dead > 0) throw new Error(`scale-out: ${stats.dead} no-op tasks were dead-lettered`)
  return stats.ready + stats.processing + stats.scheduled + stats.retrying === 0 ? stats.succeeded : null
}

/** how many tasks ran more than once, and how many never ran, over task numbers 0..tasks-1 */
function countRuns (reports: ProcessReport[], tasks: number): { twice: number, missing: number } {
  const runs = new Uint32Array(tasks)
  for (const { ids } of reports) {
    for (const i of ids) {
      if (!Number.isInteger(i) || i < 0 || i >= tasks) throw new Error(`scale-out: a handler ran task number ${i}, outside 0..${tasks - 1}`)
      runs[i]!++
    }
  }
  let twice = 0
  let missing = 0
  for (const n of runs) {
    if (n > 1) twice++
    else if (n === 0) missing++
  }
  return { twice, missing }
}

interface RunPlan {
  kind: BackendKind
  processes: number
  tasks: number
  batchSize: number
  poolSize: number
  worker: WorkerOptionsInput
  taskEvents: boolean
  timeoutMs: number
  /** Postgres: the server backends' CPU can be read from /proc */
  pgCpuReadable: boolean
}

async function runOnce (plan: RunPlan): Promise<ScaleOutResult> {
  const { kind, processes, tasks } = plan
  const label = `${kind} x${processes}`
  const storage = freshStorage(kind, plan.poolSize)
  let producer: Backend | null = null
  let workers: WorkerProcesses | null = null
  try {
    producer = await openBackend(storage.spec)
    await producer.ensureQueues([SCALE_OUT_QUEUE])
    const enqueueStart = performance.now()
    await enqueueAll(producer, tasks, plan.batchSize)
    const enqueueMs = performance.now() - enqueueStart
    progress(`${label}: enqueued ${tasks} in ${Math.round(enqueueMs)} ms (${rate(tasks, enqueueMs)}/s)`)

    workers = new WorkerProcesses(processes, { backend: storage.spec, worker: plan.worker, taskEvents: plan.taskEvents })
    await workers.ready(READY_TIMEOUT_MS)
    const pool = workers
    // Postgres: the backends serving the worker processes' connections; Redis: INFO cpu (server-wide)
    const pgCpu = kind === 'postgres' && plan.pgCpuReadable ? new OwnBackendCpu(() => pool.pids) : null
    const serverSeconds = kind === 'postgres' ? (pgCpu === null ? null : () => pgCpu.seconds()) : redisCpuSeconds
    const serverBefore = await serverSeconds?.()
    const load = loadavg()[0]!
    const started = performance.now()
    workers.go()
    await workers.handledAtLeast(tasks, plan.timeoutMs)
    // handlers ran; their acks may still be in flight: poll until storage says done
    let succeeded: number | null = null
    await new Completion().until(`${label}: the backend to record ${tasks} tasks as done`, async () => (succeeded = await succeededWhenDone(producer!)) !== null, plan.timeoutMs, 5)
    const processMs = performance.now() - started
    // read before the workers stop, while their server connections are still open
    const serverAfter = await serverSeconds?.()
    const reports = await workers.stop(STOP_TIMEOUT_MS)

    const { twice, missing } = countRuns(reports, tasks)
    const serverCpuMs = serverBefore === undefined || serverAfter === undefined || serverBefore === null || serverAfter === null ? null : (serverAfter - serverBefore) * 1000
    const cores = cpus().length
    const result: ScaleOutResult = {
      processes,
      tasks,
      enqueue_ms: Math.round(enqueueMs),
      process_ms: Math.round(processMs),
      tasks_per_s: rate(tasks, processMs),
      tasks_per_s_per_process: rate(tasks / processes, processMs),
      server_busy: serverCpuMs === null ? null : round(serverCpuMs / processMs),
      server_share_of_machine: serverCpuMs === null ? null : round(serverCpuMs / processMs / cores),
      server_cpu_ms: serverCpuMs === null ? null : Math.round(serverCpuMs),
      client_cpu_ms: reports.map(r => r.cpuMs),
      clients_busy: round(reports.reduce((sum, r) => sum + r.cpuMs, 0) / processMs),
      handler_runs_per_process: reports.map(r => r.ids.length),
      tasks_run_twice: twice,
      tasks_not_run: missing,
      succeeded: succeeded ?? 0,
      machine_load_1m: round(load, 2)
    }
    progress(`${label}: processed ${tasks} in ${result.process_ms} ms, ${result.tasks_per_s} tasks/s (${result.tasks_per_s_per_process}/s per process); server busy ${result.server_busy ?? 'n/a'} (${result.server_share_of_machine ?? 'n/a'} of ${cores} cores), worker CPU ${result.client_cpu_ms.join('+')} ms (${result.clients_busy} cores); handler runs per process ${result.handler_runs_per_process.join('+')}, run twice ${twice}, not run ${missing}, succeeded ${result.succeeded}; load ${result.machine_load_1m}`)
    if (twice > 0 || missing > 0 || result.succeeded !== tasks) {
      throw new Error(`${label}: ${twice} tasks ran twice, ${missing} never ran, the backend counts ${result.succeeded} succeeded of ${tasks}`)
    }
    return result
  } finally {
    workers?.kill()
    await producer?.close().catch(() => {})
    await storage.remove()
  }
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('scale-out', args, {
    tasks: { type: 'string' },
    processes: { type: 'string' },
    backends: { type: 'string', default: DEFAULT_BACKENDS.join(',') },
    concurrency: { type: 'string', default: '50' },
    batch: { type: 'string', default: '1000' },
    'pool-size': { type: 'string', default: '5' },
    'task-events': { type: 'string', default: 'on' },
    timeout: { type: 'string', default: '1200000' }
  })
  const smoke = flags.smoke === true
  const tasks = positiveInteger('tasks', (flags.tasks as string | undefined) ?? (smoke ? '300' : '100000'))
  const processCounts = integerList('processes', (flags.processes as string | undefined) ?? (smoke ? '1,2' : '1,2,4'))
  const backends = backendList(flags.backends as string)
  const concurrency = positiveInteger('concurrency', flags.concurrency as string)
  const batchSize = positiveInteger('batch', flags.batch as string)
  const poolSize = positiveInteger('pool-size', flags['pool-size'] as string)
  const taskEvents = onOff('task-events', flags['task-events'] as string)
  const timeoutMs = positiveInteger('timeout', flags.timeout as string)

  if (backends.includes('postgres')) await assertPostgresReachable()
  if (backends.some(b => b !== 'postgres')) await assertRedisReachable()
  const pgCpuReadable = backends.includes('postgres') && await backendCpuReadable()
  // the same knobs as pg-throughput and redis-throughput, per process
  const worker: WorkerOptionsInput = { concurrency, batchSize: Math.min(concurrency, 1000), pollMs: 100 }
  const cores = cpus().length
  progress(`scale-out: ${tasks} tasks, ${processCounts.join(',')} worker processes, backends ${backends.join(',')}, per process concurrency ${concurrency}${backends.includes('postgres') ? ` and pool ${poolSize}` : ''}, task events ${taskEvents ? 'on' : 'off'}; ${cores} cores, load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
  if (Math.max(...processCounts) > cores) progress(`scale-out: more worker processes than the ${cores} cores here, which the server shares too: past ${cores} processes the rate cannot grow on this machine`)

  const results: Record<string, Record<string, ScaleOutResult>> = {}
  const ratios: Record<string, number | null> = {}
  for (const kind of backends) {
    const row: Record<string, ScaleOutResult> = {}
    for (const processes of processCounts) {
      row[String(processes)] = await runOnce({ kind, processes, tasks, batchSize, poolSize, worker, taskEvents, timeoutMs, pgCpuReadable })
    }
    results[kind] = row
    const base = row[String(Math.min(...processCounts))]
    for (const processes of processCounts) ratios[`${kind}_scaling_${processes}_vs_${base?.processes}`] = ratio(row[String(processes)]?.tasks_per_s, base?.tasks_per_s)
    if (kind !== 'postgres') {
      // Redis runs scripts on one thread: at the CPU it spent per task, where would it be
      // busy all the time, and how many processes as fast as the smallest run's would that take?
      const largest = row[String(Math.max(...processCounts))]!
      const saturation = largest.server_busy === null || largest.server_busy === 0 ? null : Math.round(largest.tasks_per_s / largest.server_busy)
      ratios[`${kind}_saturation_tasks_per_s_estimate`] = saturation
      ratios[`${kind}_processes_to_saturate_estimate`] = saturation === null || base === undefined ? null : round(saturation / base.tasks_per_s_per_process, 1)
    }
  }
  for (const [key, value] of Object.entries(ratios)) progress(`${key}: ${value ?? 'n/a'}`)
  return {
    results: {
      smoke,
      config: { tasks, processes: processCounts, enqueueBatch: batchSize, worker: { ...worker, taskEvents }, postgresPoolPerProcess: poolSize, serverCpu: { postgres: pgCpuReadable ? 'backends of the worker processes (/proc)' : null, redis: 'INFO cpu (server-wide)' }, cores, postgres: POSTGRES_URL.replace(/\/\/[^@]*@/, '//'), redis: REDIS_URL },
      scale_out: results
    },
    ratios
  }
}
