import { performance } from 'node:perf_hooks'
import type { Backend } from '@switchyard/core'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask } from '../../core/tasks/enqueue.ts'
import { progress, rate } from './report.ts'
import { summarize, type LatencySummary } from './stats.ts'

export interface OverviewPlan {
  queues: number
  totalTasks: number
  enqueueBatch: number
}

export interface OverviewResult extends LatencySummary {
  /** rounds of `samples` calls; the percentiles are the median round's */
  rounds: number
  rounds_p99: number[]
  queues: number
  total_tasks: number
  fill_ms: number
}

/** a backend filled for the overview read, and how long filling took */
export interface FilledBackend {
  label: string
  backend: Backend
  totalTasks: number
  fillMs: number
}

/** Fills `queues` queues with `totalTasks` ready tasks (no workers) and checks the counts. */
export async function fillForOverview (label: string, backend: Backend, plan: OverviewPlan): Promise<FilledBackend> {
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
  return { label, backend, totalTasks: plan.totalTasks, fillMs }
}

/** calls per block: blocks of the filled backends alternate, so drift and noise fall on all of them alike */
const BLOCK_CALLS = 50

/**
 * Times `calls` sequential queueStats() calls (the admin overview's read) on each
 * filled backend, `rounds` times; each round's p50/p95/p99 are taken, and the
 * median round of each is reported (the ten slowest of 1,000 sub-millisecond calls
 * are mostly whatever else the machine did then; one round is a coin toss). Within a
 * round the backends take turns in blocks, in rotating order, after a warm-up. By
 * contract the read costs O(queues), so its latency must not grow with the task count.
 */
export async function measureQueueStats (filled: FilledBackend[], calls: number, rounds: number, queues: number): Promise<OverviewResult[]> {
  for (const { backend } of filled) for (let i = 0; i < Math.min(50, calls); i++) await backend.queueStats()
  const perRound = filled.map(() => [] as LatencySummary[])
  for (let round = 0; round < rounds; round++) {
    const samples = filled.map(() => [] as number[])
    for (let block = 0; samples.some(list => list.length < calls); block++) {
      for (let k = 0; k < filled.length; k++) {
        const at = (k + block + round) % filled.length
        const list = samples[at]!
        const { backend } = filled[at]!
        for (let i = 0; i < BLOCK_CALLS && list.length < calls; i++) {
          const before = performance.now()
          await backend.queueStats()
          list.push(performance.now() - before)
        }
      }
    }
    samples.forEach((list, i) => perRound[i]!.push(summarize(list)))
  }
  return filled.map(({ label, totalTasks, fillMs }, i) => {
    const summaries = perRound[i]!
    const median = (pick: (s: LatencySummary) => number): number => {
      const sorted = summaries.map(pick).sort((a, b) => a - b)
      return sorted[Math.floor((sorted.length - 1) / 2)]!
    }
    const result: OverviewResult = {
      samples: calls,
      rounds,
      p50: median(s => s.p50),
      p95: median(s => s.p95),
      p99: median(s => s.p99),
      max: Math.max(...summaries.map(s => s.max)),
      mean: median(s => s.mean),
      rounds_p99: summaries.map(s => s.p99),
      queues,
      total_tasks: totalTasks,
      fill_ms: Math.round(fillMs)
    }
    progress(`${label}: queueStats() with ${totalTasks} tasks, ${calls} calls x ${rounds} rounds: median p50 ${result.p50} ms, p99 ${result.p99} ms (rounds' p99 ${result.rounds_p99.join(', ')})`)
    return result
  })
}
