// Fills any backend through its own enqueue path (for Redis and BullMQ: the backend's
// Lua scripts, so every counter the overview reads is kept by the code that keeps it in
// production). Tasks go round-robin over the queues; every third waits 30 days ahead
// (scheduled), the rest is ready. No worker runs, so nothing moves while reads
// are measured.
import type { Backend } from '@switchyard/core'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask } from '../../core/tasks/enqueue.ts'

/** every this many filled tasks one is scheduled 30 days ahead; the rest is ready */
export const SCHEDULED_EVERY = 3
const BATCH = 1000
const THIRTY_DAYS_MS = 30 * 24 * 3600_000

export interface EnqueueFillResult { tasks: number, ready: number, scheduled: number, ms: number }

export async function fillByEnqueue (backend: Backend, queues: string[], count: number, onProgress: (done: number) => void): Promise<EnqueueFillResult> {
  if (queues.length === 0) throw new Error('fill: give at least one queue')
  await backend.ensureQueues(queues)
  const started = Date.now()
  const runAt = started + THIRTY_DAYS_MS
  let scheduled = 0
  for (let from = 0; from < count; from += BATCH) {
    const size = Math.min(BATCH, count - from)
    const tasks = Array.from({ length: size }, (_, k) => {
      const i = from + k
      const later = i % SCHEDULED_EVERY === 0
      if (later) scheduled++
      return normalizeNewTask({ handler: 'bench.unserved', queue: queues[i % queues.length], payload: { i }, ...(later ? { runAt } : {}) }, DEFAULT_TASK_DEFAULTS)
    })
    await backend.enqueue(tasks)
    if ((from + size) % 100_000 === 0 || from + size === count) onProgress(from + size)
  }
  return { tasks: count, ready: count - scheduled, scheduled, ms: Date.now() - started }
}
