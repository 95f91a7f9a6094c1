import type { EnqueueInput } from '../tasks/enqueue.ts'

// The demo trickle of the embedded default, as the README describes it: every
// demo.interval one batch of two quick `noop` tasks and one `sleep` of 0.2–2 s on the
// default queue; every 5th batch also a high-priority `noop` on the `critical` queue;
// every 10th batch a `fail` task that is retried once and then lands in the DLQ.
// Every task carries `demo: true` in its payload so nobody mistakes it for real work.

export const DEMO_QUEUE = 'default'
export const DEMO_CRITICAL_QUEUE = 'critical'
export const CRITICAL_EVERY = 5
export const FAIL_EVERY = 10

export interface DemoTrickleOptions {
  intervalMs: number
  enqueue: (tasks: EnqueueInput[]) => Promise<unknown>
  onError?: (err: unknown) => void
  /** spreads the sleep durations; default Math.random */
  random?: () => number
}

/** Batch number `n` (from 0) of the trickle. */
export function demoBatch (n: number, random: () => number = Math.random): EnqueueInput[] {
  const tasks: EnqueueInput[] = [
    { handler: 'noop', queue: DEMO_QUEUE, payload: { demo: true } },
    { handler: 'noop', queue: DEMO_QUEUE, payload: { demo: true } },
    { handler: 'sleep', queue: DEMO_QUEUE, payload: { demo: true, ms: 200 + Math.floor(random() * 1800) } }
  ]
  if ((n + 1) % CRITICAL_EVERY === 0) tasks.push({ handler: 'noop', queue: DEMO_CRITICAL_QUEUE, priority: 5, payload: { demo: true } })
  if ((n + 1) % FAIL_EVERY === 0) tasks.push({ handler: 'fail', queue: DEMO_QUEUE, maxAttempts: 2, payload: { demo: true, note: 'fails on purpose to show a retry and the DLQ' } })
  return tasks
}

export function startDemoTrickle (options: DemoTrickleOptions): () => void {
  const random = options.random ?? Math.random
  let running = false
  let n = 0
  const timer = setInterval(() => {
    // A slow backend skips a beat instead of piling batches up.
    if (running) return
    running = true
    options.enqueue(demoBatch(n++, random))
      .catch((err: unknown) => options.onError?.(err))
      .finally(() => { running = false })
  }, options.intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
