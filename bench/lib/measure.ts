import { performance } from 'node:perf_hooks'
import type { LatencySystem, ThroughputSystem } from '../systems/contract.ts'
import type { CallStats } from './call-counter.ts'
import { progress, rate, round } from './report.ts'
import { summarize, type LatencySummary } from './stats.ts'
import { Completion, pause } from './wait.ts'

export interface ThroughputResult {
  tasks: number
  enqueue_ms: number
  enqueue_per_s: number
  /** from starting the workers until every task is durably done */
  process_ms: number
  process_per_s: number
  /** tasks / (enqueue + process): the headline number */
  tasks_per_s: number
  /** CPU this process spent enqueueing (the producer; all of it for an embedded database) */
  enqueue_client_cpu_ms: number
  /** CPU this process (producer and workers) spent while processing */
  process_client_cpu_ms: number
  /** CPU the server spent while processing, where the plan can read it: which side bounds the rate */
  process_server_cpu_ms?: number
  /** server CPU over enqueue and processing together, per task, in microseconds (where the plan can read it) */
  server_cpu_us_per_task?: number
  /** write-ahead log the server wrote over enqueue and processing together, per task (Postgres) */
  server_wal_bytes_per_task?: number
  /** the same, split: bytes written while enqueueing and while processing */
  enqueue_wal_bytes?: number
  process_wal_bytes?: number
  /** the workers' backend calls per method (Switchyard only), to explain the rate */
  backend_calls?: Record<string, CallStats>
}

export interface ThroughputPlan {
  tasks: number
  batchSize: number
  timeoutMs: number
  /** the server's total CPU seconds so far (e.g. Redis INFO cpu), read around each phase */
  serverCpuSeconds?: () => Promise<number>
  /** the server's write-ahead log position in bytes (Postgres), read around each phase */
  serverWalBytes?: () => Promise<number>
}

/**
 * Enqueue N tasks in batches with the workers stopped, then start them and wait
 * until every task is done. Enqueue and processing are timed apart so a system
 * slow at one is visible; the headline rate covers both.
 */
export async function measureThroughput (system: ThroughputSystem, plan: ThroughputPlan): Promise<ThroughputResult> {
  const result = await runThroughput(system, plan)
  if (system.calls) result.backend_calls = system.calls
  return result
}

async function runThroughput (system: ThroughputSystem, plan: ThroughputPlan): Promise<ThroughputResult> {
  const { tasks, batchSize, timeoutMs } = plan
  try {
    await system.setup()
    const serverCpuAtStart = await plan.serverCpuSeconds?.()
    const walAtStart = await plan.serverWalBytes?.()
    const enqueueCpuBefore = process.cpuUsage()
    const enqueueStart = performance.now()
    for (let from = 0; from < tasks; from += batchSize) {
      await system.enqueueBatch(from, Math.min(batchSize, tasks - from))
    }
    const enqueueMs = performance.now() - enqueueStart
    const enqueueCpu = process.cpuUsage(enqueueCpuBefore)
    progress(`${system.label}: enqueued ${tasks} in ${Math.round(enqueueMs)} ms (${rate(tasks, enqueueMs)}/s, client CPU ${Math.round((enqueueCpu.user + enqueueCpu.system) / 1000)} ms)`)

    let handled = 0
    const completion = new Completion()
    const serverCpuBefore = await plan.serverCpuSeconds?.()
    const walBefore = await plan.serverWalBytes?.()
    const clientCpuBefore = process.cpuUsage()
    const processStart = performance.now()
    await system.startWorkers(() => {
      if (++handled >= tasks) completion.nudge()
    })
    await completion.until(`${system.label} to run ${tasks} handlers (ran ${handled})`, () => handled >= tasks, timeoutMs)
    // Handlers ran; completion writes may still be in flight. Poll storage tightly
    // so the measured end is when the last task is durably done.
    await completion.until(`${system.label} to record ${tasks} tasks as done`, () => system.allDone(tasks), timeoutMs, 5)
    const processMs = performance.now() - processStart
    const clientCpu = process.cpuUsage(clientCpuBefore)
    const serverCpuAfter = await plan.serverCpuSeconds?.()
    const walAfter = await plan.serverWalBytes?.()
    const result: ThroughputResult = {
      tasks,
      enqueue_ms: Math.round(enqueueMs),
      enqueue_per_s: rate(tasks, enqueueMs),
      process_ms: Math.round(processMs),
      process_per_s: rate(tasks, processMs),
      tasks_per_s: rate(tasks, enqueueMs + processMs),
      enqueue_client_cpu_ms: Math.round((enqueueCpu.user + enqueueCpu.system) / 1000),
      process_client_cpu_ms: Math.round((clientCpu.user + clientCpu.system) / 1000)
    }
    if (serverCpuBefore !== undefined && serverCpuAfter !== undefined) result.process_server_cpu_ms = Math.round((serverCpuAfter - serverCpuBefore) * 1000)
    if (serverCpuAtStart !== undefined && serverCpuAfter !== undefined) result.server_cpu_us_per_task = round((serverCpuAfter - serverCpuAtStart) * 1e6 / tasks, 1)
    if (walAtStart !== undefined && walBefore !== undefined && walAfter !== undefined) {
      result.enqueue_wal_bytes = walBefore - walAtStart
      result.process_wal_bytes = walAfter - walBefore
      result.server_wal_bytes_per_task = round((walAfter - walAtStart) / tasks, 1)
    }
    const perTask = [
      result.server_cpu_us_per_task === undefined ? null : `${result.server_cpu_us_per_task} µs server CPU`,
      result.server_wal_bytes_per_task === undefined ? null : `${result.server_wal_bytes_per_task} B WAL`
    ].filter(s => s !== null)
    const cpu = `client CPU ${result.process_client_cpu_ms} ms${result.process_server_cpu_ms === undefined ? '' : `, server CPU ${result.process_server_cpu_ms} ms`}${perTask.length === 0 ? '' : `; per task ${perTask.join(', ')}`}`
    progress(`${system.label}: processed ${tasks} in ${result.process_ms} ms (${result.process_per_s}/s, ${cpu}); end to end ${result.tasks_per_s} tasks/s`)
    return result
  } finally {
    await system.teardown()
  }
}

export interface LatencyPlan {
  samples: number
  /** unrecorded samples first, so connection set-up and JIT warm-up are not measured */
  warmup: number
  /** pause between samples so every enqueue lands on idle workers */
  gapMs: number
  timeoutMs: number
}

/** Enqueue single tasks one at a time onto idle workers; time from before the enqueue call to handler start. */
export async function measureLatency (system: LatencySystem, plan: LatencyPlan): Promise<LatencySummary> {
  const started = new Map<number, number>()
  const completion = new Completion()
  try {
    await system.setup()
    await system.startWorkers(sample => {
      started.set(sample, performance.now())
      completion.nudge()
    })
    const samples: number[] = []
    for (let s = 0; s < plan.warmup + plan.samples; s++) {
      const before = performance.now()
      await system.enqueueOne(s)
      await completion.until(`${system.label} to start latency sample ${s}`, () => started.has(s), plan.timeoutMs)
      if (s >= plan.warmup) samples.push(started.get(s)! - before)
      // Jitter keeps samples from phase-locking with any poll interval.
      await pause(plan.gapMs + Math.floor(Math.random() * plan.gapMs))
    }
    const summary = summarize(samples)
    progress(`${system.label}: enqueue→start over ${summary.samples} samples p50 ${summary.p50} ms, p95 ${summary.p95} ms, p99 ${summary.p99} ms`)
    return summary
  } finally {
    await system.teardown()
  }
}
