import { performance } from 'node:perf_hooks'
import type { Backend } from '@switchyard/core'

export interface CallStats {
  calls: number
  /** summed wall time of the calls, ms (calls may overlap) */
  total_ms: number
  /** mean array length of the first argument, where it is an array (batch size) */
  mean_items: number | null
  /** mean array length of the result, where it is an array (e.g. tasks a lease returned) */
  mean_returned: number | null
}

/**
 * Wraps a backend to count round trips per method: how many calls, their time and
 * their batch sizes. This is how the benchmark explains a throughput number.
 */
export function countCalls (backend: Backend): { backend: Backend, report: () => Record<string, CallStats> } {
  const stats = new Map<string, { calls: number, totalMs: number, items: number, batched: number, returned: number, arrays: number }>()
  const wrapped = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        const entry = stats.get(prop) ?? { calls: 0, totalMs: 0, items: 0, batched: 0, returned: 0, arrays: 0 }
        stats.set(prop, entry)
        entry.calls++
        if (Array.isArray(args[0])) { entry.items += args[0].length; entry.batched++ }
        const before = performance.now()
        try {
          const result: unknown = await value.apply(target, args)
          if (Array.isArray(result)) { entry.returned += result.length; entry.arrays++ }
          return result
        } finally {
          entry.totalMs += performance.now() - before
        }
      }
    }
  })
  const report = (): Record<string, CallStats> => Object.fromEntries([...stats].sort((a, b) => b[1].calls - a[1].calls).map(([name, s]) => [name, {
    calls: s.calls,
    total_ms: Math.round(s.totalMs),
    mean_items: s.batched === 0 ? null : Math.round((s.items / s.batched) * 10) / 10,
    mean_returned: s.arrays === 0 ? null : Math.round((s.returned / s.arrays) * 10) / 10
  }]))
  return { backend: wrapped, report }
}
