import type { EnqueueInput } from '../tasks/enqueue.ts'

// A slow, steady stream of demo tasks for the embedded default. Every task carries
// `demo: true` in its payload so nobody mistakes it for real work.

export interface DemoTrickleOptions {
  intervalMs: number
  enqueue: (tasks: EnqueueInput[]) => Promise<unknown>
  onError?: (err: unknown) => void
  random?: () => number
}

export function demoBatch (random: () => number): EnqueueInput[] {
  const tasks: EnqueueInput[] = []
  const quick = 1 + Math.floor(random() * 4)
  for (let i = 0; i < quick; i++) tasks.push({ handler: 'noop', queue: 'default', payload: { demo: true } })
  if (random() < 0.6) tasks.push({ handler: 'sleep', queue: 'default', payload: { demo: true, ms: 200 + Math.floor(random() * 1800) } })
  if (random() < 0.3) tasks.push({ handler: 'noop', queue: 'critical', priority: 5, payload: { demo: true } })
  if (random() < 0.1) tasks.push({ handler: 'fail', queue: 'default', maxAttempts: 2, payload: { demo: true, note: 'fails on purpose to show retries and the DLQ' } })
  return tasks
}

export function startDemoTrickle (options: DemoTrickleOptions): () => void {
  const random = options.random ?? Math.random
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    options.enqueue(demoBatch(random))
      .catch((err: unknown) => options.onError?.(err))
      .finally(() => { running = false })
  }, options.intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
