// SSE subscribers for a worker thread: `subscribers` event streams opened with the
// project's own HTTP client (core/transport/http-client.ts) after `afterId`. Each must
// see the same events in the same order: the first to reach position i records the id
// there, every other compares with it (a gap, a duplicate or a reordering shows as a
// mismatch); the parent compares the recorded ids with the event log itself. The
// stream ends for a subscriber at the event that marks the end of the burst.
//
// Messages to the parent: {type:'ready'} once every subscriber saw the start marker
// (so it is connected and caught up), then {type:'done', result}. A {type:'stop'}
// from the parent ends every stream where it is.
import { setMaxListeners } from 'node:events'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { createHttpAdminClient } from '../../core/transport/http-client.ts'
import type { AdminEventT } from '../../core/contract/messages.ts'

export interface SubscriberPlan {
  url: string
  ca: string
  cert: string
  key: string
  subscribers: number
  /** the id before the start marker: every stream replays from there */
  afterId: string
  /** the queue whose queue.paused event marks the start, and the one marking the end */
  startQueue: string
  endQueue: string
  /** streams opened at once (each is a TLS handshake) */
  connectConcurrency: number
  /** the latency histogram's width: 1 ms buckets up to this, one overflow bucket past it */
  histogramMs: number
}

export interface SubscriberResult {
  /** ids from the start marker to the end marker, as the first subscriber to reach each position saw them */
  ids: string[]
  /** subscribers that reached the end marker having seen exactly `ids` */
  complete: number
  /** per failed subscriber, why: a mismatch at a position, a count short, or the stream's error */
  failures: string[]
  failedCount: number
  /** append → receive, every event after the start marker, every subscriber: counts per 1 ms bucket */
  latencyHistogram: number[]
  /** received events in total over all subscribers */
  received: number
  /** this thread's CPU (user + system) from every subscriber being ready to the end, ms; null without /proc */
  threadCpuMs: number | null
  /** this thread's event loop utilization over the same span (near 1: the thread, not the server, set the pace) */
  eventLoopUtilization: number
}

/**
 * CPU time of the calling thread so far, ms (Linux: /proc/thread-self). Read
 * synchronously: an asynchronous read runs on a thread of libuv's pool and would
 * read that thread instead.
 */
function threadCpuMs (): number | null {
  try {
    const text = readFileSync('/proc/thread-self/stat', 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    // utime and stime in USER_HZ (100 per second)
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

const MAX_FAILURES_KEPT = 10

function isMarker (event: AdminEventT, queue: string): boolean {
  return event.type === 'queue.paused' && (event.data as { queue?: unknown } | null)?.queue === queue
}

async function run (plan: SubscriberPlan, port: NonNullable<typeof parentPort>): Promise<SubscriberResult> {
  const client = createHttpAdminClient({ url: plan.url, ca: plan.ca, cert: plan.cert, key: plan.key })
  const abort = new AbortController()
  // every stream listens on the one signal
  setMaxListeners(0, abort.signal)
  port.on('message', (message: { type?: string }) => { if (message.type === 'stop') abort.abort() })
  const ids: string[] = []
  const histogram = new Uint32Array(plan.histogramMs + 1)
  const failures: string[] = []
  let failedCount = 0
  let complete = 0
  let received = 0
  let ready = 0
  const fail = (why: string): void => { failedCount++; if (failures.length < MAX_FAILURES_KEPT) failures.push(why) }
  let cpuAtReady: number | null = null
  let eluAtReady = performance.eventLoopUtilization()
  const noteReady = (): void => {
    if (++ready !== plan.subscribers) return
    cpuAtReady = threadCpuMs()
    eluAtReady = performance.eventLoopUtilization()
    port.postMessage({ type: 'ready' })
  }

  async function subscribe (n: number, opened: () => void): Promise<void> {
    let position = -1
    let started = false
    let openedCalled = false
    const open = (): void => { if (!openedCalled) { openedCalled = true; opened() } }
    try {
      for await (const event of client.events({ afterId: plan.afterId }, { signal: abort.signal, idleTimeoutMs: 120_000 })) {
        if (!started) {
          // events before the start marker (there should be none) are not part of the check
          if (!isMarker(event, plan.startQueue)) continue
          started = true
          open()
          noteReady()
        } else {
          received++
          const ms = Date.now() - Date.parse(event.time)
          histogram[Math.max(0, Math.min(plan.histogramMs, Math.round(ms)))]!++
        }
        position++
        if (position === ids.length) ids.push(event.id)
        else if (ids[position] !== event.id) {
          fail(`subscriber ${n}: at position ${position} got ${event.id} (${event.type}), others got ${ids[position]}`)
          return
        }
        if (isMarker(event, plan.endQueue)) {
          complete++
          return
        }
      }
      if (!abort.signal.aborted) fail(`subscriber ${n}: the stream ended at position ${position} before the end marker`)
      else fail(`subscriber ${n}: stopped by the benchmark at position ${position} (${started ? 'after' : 'before'} the start marker)`)
    } catch (err) {
      fail(`subscriber ${n}: ${(err as Error).message} at position ${position}`)
    } finally {
      open()
      if (!started) noteReady()
    }
  }

  // At most connectConcurrency streams are opening at a time; the next opens when one
  // has seen its first event (its handshake and replay are done).
  const streams: Array<Promise<void>> = []
  let next = 0
  await new Promise<void>((resolve) => {
    let opening = 0
    const launch = (): void => {
      while (opening < plan.connectConcurrency && next < plan.subscribers) {
        opening++
        const n = next++
        streams.push(subscribe(n, () => { opening--; launch() }))
      }
      if (next === plan.subscribers) resolve()
    }
    launch()
  })
  await Promise.all(streams)
  const cpuAtEnd = threadCpuMs()
  const elu = performance.eventLoopUtilization(eluAtReady).utilization
  client.close()
  return {
    ids,
    complete,
    failures,
    failedCount,
    latencyHistogram: Array.from(histogram),
    received,
    threadCpuMs: cpuAtReady === null || cpuAtEnd === null ? null : cpuAtEnd - cpuAtReady,
    eventLoopUtilization: Math.round(elu * 1000) / 1000
  }
}

if (parentPort !== null) {
  const port = parentPort
  run(workerData as SubscriberPlan, port).then((result) => port.postMessage({ type: 'done', result }))
}
