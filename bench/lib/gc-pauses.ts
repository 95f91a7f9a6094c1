// This process's garbage-collection pauses, each with its start on the wall clock
// (epoch ms, performance.timeOrigin + startTime) so that pauses recorded in one process
// can be laid beside request timings taken in another (lib/tail-attribution.ts).
import { constants, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'

export interface GcPause {
  /** start, epoch ms */
  atMs: number
  ms: number
  kind: 'minor' | 'major' | 'incremental' | 'weakcb'
}

export interface GcPauseSummary {
  count: number
  /** of those, full (mark-compact) collections: what old-generation garbage, promoted or pretenured, costs */
  major: number
  /** summed and longest pause, ms */
  total_ms: number
  max_ms: number
}

function kindOf (entry: PerformanceEntry): GcPause['kind'] {
  const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR) return 'minor'
  if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) return 'incremental'
  if (kind === constants.NODE_PERFORMANCE_GC_WEAKCB) return 'weakcb'
  return 'major'
}

/** records this process's collections from now until stop() */
export function recordGcPauses (): { stop: () => GcPause[] } {
  const pauses: GcPause[] = []
  const take = (entries: PerformanceEntry[]): void => {
    for (const entry of entries) pauses.push({ atMs: performance.timeOrigin + entry.startTime, ms: entry.duration, kind: kindOf(entry) })
  }
  const observer = new PerformanceObserver((list) => { take(list.getEntries()) })
  observer.observe({ entryTypes: ['gc'] })
  return {
    stop: () => {
      take(observer.takeRecords())
      observer.disconnect()
      return pauses
    }
  }
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000

export function summarizePauses (pauses: GcPause[]): GcPauseSummary {
  return { count: pauses.length, major: pauses.filter(p => p.kind === 'major').length, total_ms: round3(pauses.reduce((sum, p) => sum + p.ms, 0)), max_ms: round3(Math.max(0, ...pauses.map(p => p.ms))) }
}
