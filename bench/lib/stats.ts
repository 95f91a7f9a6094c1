import { round } from './report.ts'

export interface LatencySummary {
  samples: number
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

/** nearest-rank percentile over an ascending array */
function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** milliseconds in, milliseconds out (3 decimals) */
export function summarize (samplesMs: number[]): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  const total = sorted.reduce((sum, v) => sum + v, 0)
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.length === 0 ? Number.NaN : total / sorted.length)
  }
}
