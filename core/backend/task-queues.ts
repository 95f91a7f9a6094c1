import type { Backend } from './types.ts'

// The queue of each of a few task ids, for callers that got ids back from a backend
// call and count per queue (the metrics history's dead letters of lease recovery and
// of an operator's lease release). Backends answer those calls with ids only.

/** ids looked up per call at most; the rest answer null */
export const TASK_QUEUE_LOOKUP_MAX = 500
const CONCURRENCY = 8

/**
 * The queue of each id, in order: null where the task is gone, the lookup failed, or
 * the id is past `max`. Never throws; at most CONCURRENCY reads at a time, each bounded
 * by the backend's own call timeout.
 */
export async function taskQueues (backend: Pick<Backend, 'getTask'>, ids: readonly string[], max = TASK_QUEUE_LOOKUP_MAX): Promise<Array<string | null>> {
  const queues: Array<string | null> = ids.map(() => null)
  const count = Math.min(ids.length, max)
  let next = 0
  const lookUp = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      try {
        queues[i] = (await backend.getTask(ids[i] as string))?.queue ?? null
      } catch {
        // counted without its queue (all queues only)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, lookUp))
  return queues
}
