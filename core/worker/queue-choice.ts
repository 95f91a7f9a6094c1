export interface WeightedQueue {
  name: string
  weight: number
}

/**
 * A weighted random permutation of the queues (Efraimidis–Spirakis). The backend
 * fills a lease from the first queue, then the next, so the chance that a queue
 * comes first is weight / total weight — that is how weights become shares of
 * dequeues under contention, while an empty first queue costs nothing because the
 * lease falls through to the rest. Queues with a weight of 0 (or not a finite
 * positive number) are left out: an operator uses it to stop dequeuing a queue.
 */
export function weightedQueueOrder (queues: readonly WeightedQueue[], random: () => number = Math.random): string[] {
  const keyed: Array<{ name: string, key: number }> = []
  for (const { name, weight } of queues) {
    if (!(weight > 0) || !Number.isFinite(weight)) continue
    // log(u)/w orders exactly like u^(1/w) without underflow for large weights;
    // 1 - random() is in (0, 1], so log never sees 0.
    keyed.push({ name, key: Math.log(1 - random()) / weight })
  }
  keyed.sort((a, b) => b.key - a.key)
  return keyed.map(entry => entry.name)
}
