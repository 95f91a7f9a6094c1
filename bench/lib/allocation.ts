// Bytes this process allocates per call, a measure that does not move with the load:
// the growth of the V8 heap over a short window of calls in which no garbage collection
// ran (a collection frees what the window allocated, so such a window is discarded),
// the median over the windows kept. And, to say where the bytes go, V8's sampling heap
// profiler with collected objects included, summed by allocating function.
import { Session } from 'node:inspector/promises'
import { PerformanceObserver } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

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

/** a young-generation collection on demand (V8's gc extension, exposed for this process from now on) */
function minorCollection (): () => void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void
  return () => { gc({ type: 'minor' }) }
}

/**
 * Samples allocations while `run` runs, then answers the profile's nodes. With
 * `survivorsOnly`, objects a young-generation collection freed are left out, and two
 * such collections at the end free the young garbage of the last calls: what is left
 * is what lived through a scavenge, copied and then promoted to the old generation,
 * the part of the garbage that makes a scavenge long and a full collection come sooner.
 */
async function sampledAllocations (run: () => Promise<void>, survivorsOnly: boolean): Promise<SamplingNode> {
  const collectYoung = survivorsOnly ? minorCollection() : null
  const session = new Session()
  session.connect()
  try {
    await session.post('HeapProfiler.enable')
    await session.post('HeapProfiler.startSampling', { samplingInterval: survivorsOnly ? 128 : 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivorsOnly })
    await run()
    if (collectYoung !== null) { collectYoung(); collectYoung() }
    const { profile } = await session.post('HeapProfiler.stopSampling') as unknown as { profile: { head: SamplingNode } }
    return profile.head
  } finally {
    await session.post('HeapProfiler.disable').catch(() => {})
    session.disconnect()
  }
}

function bySite (head: SamplingNode): Map<string, number> {
  const sites = new Map<string, number>()
  const stack: SamplingNode[] = [head]
  while (stack.length > 0) {
    const node = stack.pop()!
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame
      const file = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(core|bench|plugins)\//, '$1/')
      const site = `${functionName === '' ? '(anonymous)' : functionName} (${file === '' ? 'native' : file}:${lineNumber + 1})`
      sites.set(site, (sites.get(site) ?? 0) + node.selfSize)
    }
    stack.push(...node.children)
  }
  return sites
}

function topSites (sites: Map<string, number>, calls: number, top: number): AllocationSite[] {
  return [...sites.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([site, bytes]) => ({ site, bytes_per_call: Math.round(bytes / calls) }))
}

/** `calls` calls made by `run` under the sampling heap profiler: the `top` functions by bytes allocated per call */
export async function allocationSites (run: () => Promise<void>, calls: number, top: number): Promise<AllocationSite[]> {
  return topSites(bySite(await sampledAllocations(run, false)), calls, top)
}

export interface SurvivorBytes {
  /** bytes per call that lived through a young-generation collection (sampled, so an estimate to within a few %) */
  bytes_per_call: number
  sites: AllocationSite[]
}

/**
 * `calls` calls made by `run`: the bytes per call that survived a scavenge, and the
 * `top` functions that allocated them. A request that keeps nothing should leave only
 * the objects that happened to be in flight at a scavenge: tens of bytes per call.
 */
export async function survivorBytes (run: () => Promise<void>, calls: number, top: number): Promise<SurvivorBytes> {
  const sites = bySite(await sampledAllocations(run, true))
  let total = 0
  for (const bytes of sites.values()) total += bytes
  return { bytes_per_call: Math.round(total / calls), sites: topSites(sites, calls, top) }
}
