// The shape every system under test takes, so the throughput and latency loops
// are written once and every peer is measured the same way.
import type { CallStats } from '../lib/call-counter.ts'

export interface ThroughputSystem {
  readonly label: string
  /** create storage (schema, prefix) and clients; workers are not running yet */
  setup (): Promise<void>
  /** enqueue tasks [from, from + count) in one batch call */
  enqueueBatch (from: number, count: number): Promise<void>
  /** start processing; `onHandled` is called once per handler run */
  startWorkers (onHandled: () => void): Promise<void>
  /** true once every enqueued task is durably recorded as done */
  allDone (expected: number): Promise<boolean>
  /** stop workers, close clients, drop storage; safe after a partial setup */
  teardown (): Promise<void>
  /** after teardown: the workers' storage round trips per method, where the system can count them */
  readonly calls?: Record<string, CallStats> | null
}

export interface LatencySystem {
  readonly label: string
  setup (): Promise<void>
  /** start idle workers; `onStart(sample)` runs first thing in the handler */
  startWorkers (onStart: (sample: number) => void): Promise<void>
  /** enqueue a single task carrying `sample` */
  enqueueOne (sample: number): Promise<void>
  teardown (): Promise<void>
}
