// Where the slow requests of a latency run went: each request above a threshold is
// laid beside the collections of the service's process and of the client's process
// (both on the wall clock, lib/gc-pauses.ts) and counted under the ones whose pause
// overlapped it. "neither" is the rest: the backend, the network stack, or waiting for a
// core. Attribution by overlap, not cause: a pause inside a slow request explains at
// most its own length.
import type { GcPause } from './gc-pauses.ts'

export interface TailAttribution {
  threshold_ms: number
  /** requests slower than the threshold */
  over: number
  /** of those, overlapped by a pause of the service's process only, the client's only, both, neither */
  service_gc: number
  client_gc: number
  both_gc: number
  neither: number
}

function overlaps (startMs: number, endMs: number, pauses: GcPause[]): boolean {
  return pauses.some(p => p.atMs < endMs && p.atMs + p.ms > startMs)
}

/** `startsAtMs[i]` (epoch ms) and `samplesMs[i]` are request i's start and latency */
export function attributeTail (startsAtMs: number[], samplesMs: number[], serviceGc: GcPause[], clientGc: GcPause[], thresholdMs: number): TailAttribution {
  const result: TailAttribution = { threshold_ms: thresholdMs, over: 0, service_gc: 0, client_gc: 0, both_gc: 0, neither: 0 }
  for (let i = 0; i < samplesMs.length; i++) {
    const ms = samplesMs[i]!
    if (ms <= thresholdMs) continue
    result.over++
    const start = startsAtMs[i]!
    const service = overlaps(start, start + ms, serviceGc)
    const client = overlaps(start, start + ms, clientGc)
    if (service && client) result.both_gc++
    else if (service) result.service_gc++
    else if (client) result.client_gc++
    else result.neither++
  }
  return result
}
