// Bytes this process allocates per call, a measure that does not move with the load:
// the growth of the V8 heap over a short window of calls in which no garbage collection
// ran (a collection frees what the window allocated, so such a window is discarded),
// the median over the windows kept. And, to say where the bytes go, V8's sampling heap
// profiler with collected objects included, summed by allocating function.
import { Session } from 'node:inspector/promises'
import { PerformanceObserver } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'

export interface AllocationPerCall {
  /** median heap growth per call over the windows without a collection, bytes */
  bytes_per_call: number
  /** windows kept (no collection) of those run */
  windows_kept: number
  windows_run: number
}

/**
 * Runs `windows` windows of `perWindow` calls (`runWindow(perWindow)` makes them) and
 * answers the median heap growth per call over the windows no collection fell into.
 * Throws when no window stays free of collections (make the windows shorter).
 */
export async function allocationPerCall (runWindow: (calls: number) => Promise<void>, perWindow: number, windows: number): Promise<AllocationPerCall> {
  let collections = 0
  const observer = new PerformanceObserver((list) => { collections += list.getEntries().length })
  observer.observe({ entryTypes: ['gc'] })
  const perCall: number[] = []
  try {
    for (let w = 0; w < windows; w++) {
      const before = collections
      const heapBefore = process.memoryUsage().heapUsed
      await runWindow(perWindow)
      const heapAfter = process.memoryUsage().heapUsed
      // gc entries arrive asynchronously: let those of this window come in before judging it
      await nextTurn()
      collections += observer.takeRecords().length
      if (collections === before && heapAfter >= heapBefore) perCall.push((heapAfter - heapBefore) / perWindow)
    }
  } finally {
    observer.disconnect()
  }
  if (perCall.length === 0) throw new Error(`allocation: a collection fell into each of ${windows} windows of ${perWindow} calls; use shorter windows`)
  perCall.sort((a, b) => a - b)
  return { bytes_per_call: Math.round(perCall[Math.floor(perCall.length / 2)]!), windows_kept: perCall.length, windows_run: windows }
}

interface SamplingNode {
  callFrame: { functionName: string, url: string, lineNumber: number }
  selfSize: number
  children: SamplingNode[]
}

export interface AllocationSite {
  /** function (file:line) */
  site: string
  bytes_per_call: number
}

/** `calls` calls made by `run` under the sampling heap profiler: the `top` functions by bytes allocated per call */
export async function allocationSites (run: () => Promise<void>, calls: number, top: number): Promise<AllocationSite[]> {
  const session = new Session()
  session.connect()
  try {
    await session.post('HeapProfiler.enable')
    await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    await run()
    const { profile } = await session.post('HeapProfiler.stopSampling') as unknown as { profile: { head: SamplingNode } }
    const bySite = new Map<string, number>()
    const stack: SamplingNode[] = [profile.head]
    while (stack.length > 0) {
      const node = stack.pop()!
      if (node.selfSize > 0) {
        const { functionName, url, lineNumber } = node.callFrame
        const file = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(core|bench|plugins)\//, '$1/')
        const site = `${functionName === '' ? '(anonymous)' : functionName} (${file === '' ? 'native' : file}:${lineNumber + 1})`
        bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
      }
      stack.push(...node.children)
    }
    return [...bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([site, bytes]) => ({ site, bytes_per_call: Math.round(bytes / calls) }))
  } finally {
    await session.post('HeapProfiler.disable').catch(() => {})
    session.disconnect()
  }
}
