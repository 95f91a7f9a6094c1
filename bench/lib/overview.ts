import { performance } from 'node:perf_hooks'
import type { Backend } from 'switchyard'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask } from '../../core/tasks/enqueue.ts'
import { progress, rate } from './report.ts'
import { summarize, type LatencySummary } from './stats.ts'

export interface OverviewPlan {
  queues: number
  totalTasks: number
  calls: number
  enqueueBatch: number
}

export interface OverviewResult extends LatencySummary {
  queues: number
  total_tasks: number
  fill_ms: number
}

/**
 * Fills `queues` queues with `totalTasks` ready tasks (no workers), then times
 * `calls` sequential queueStats() calls: the admin overview's read. By contract
 * it costs O(queues), so its latency must not grow with the task count.
 */
export async function measureQueueStats (label: string, backend: Backend, plan: OverviewPlan): Promise<OverviewResult> {
  const names = Array.from({ length: plan.queues }, (_, q) => `overview-${q}`)
  await backend.ensureQueues(names)
  const fillStart = performance.now()
  for (let from = 0; from < plan.totalTasks; from += plan.enqueueBatch) {
    const count = Math.min(plan.enqueueBatch, plan.totalTasks - from)
    await backend.enqueue(Array.from({ length: count }, (_, k) =>
      normalizeNewTask({ handler: 'noop', queue: names[(from + k) % names.length], payload: { i: from + k } }, DEFAULT_TASK_DEFAULTS)))
  }
  const fillMs = performance.now() - fillStart
  progress(`${label}: filled ${plan.queues} queues with ${plan.totalTasks} tasks in ${Math.round(fillMs)} ms (${rate(plan.totalTasks, fillMs)}/s)`)

  const stats = await backend.queueStats()
  const ready = stats.filter(s => names.includes(s.name)).reduce((sum, s) => sum + s.ready, 0)
  if (ready !== plan.totalTasks) throw new Error(`${label}: queueStats reports ${ready} ready tasks, expected ${plan.totalTasks}`)

  for (let i = 0; i < Math.min(20, plan.calls); i++) await backend.queueStats()
  const samples: number[] = []
  for (let i = 0; i < plan.calls; i++) {
    const before = performance.now()
    await backend.queueStats()
    samples.push(performance.now() - before)
  }
  const summary = summarize(samples)
  progress(`${label}: queueStats() with ${plan.totalTasks} tasks over ${summary.samples} calls p50 ${summary.p50} ms, p99 ${summary.p99} ms`)
  return { ...summary, queues: plan.queues, total_tasks: plan.totalTasks, fill_ms: Math.round(fillMs) }
}
