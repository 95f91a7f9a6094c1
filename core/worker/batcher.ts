import { performance } from 'node:perf_hooks'
import type { Logger } from './logger.ts'

export interface BatcherOptions<I, O> {
  name: string
  /** one backend call for many items; outcomes in item order */
  send: (items: I[]) => Promise<O[]>
  maxBatch: number
  /** how long the first item of an idle batcher waits for company */
  flushMs: number
  log: Logger
  /** the outcome of items drain() gives up on, for callers that wait on them; absent: they never settle */
  abandoned?: O
  /**
   * While this answers true, items are left for flushVia (another call that carries
   * them) instead of being sent on their own, each for at most maxDeferMs after it
   * arrived; a full batch (maxBatch) and drain() never wait.
   */
  defer?: () => boolean
  maxDeferMs?: number
}

interface Entry<I, O> {
  item: I
  done: (outcome: O) => void
  /** performance.now() when pushed (kept only with a defer option) */
  at: number
}

const RETRY_BASE_MS = 50
const RETRY_MAX_MS = 2_000

/**
 * Collects items (acks, failures) and writes them with one backend call per batch.
 * One call is in flight at a time; whatever arrives meanwhile goes out as the next
 * batch as soon as it returns (group commit), so batches grow with load and a
 * lone item waits at most flushMs. A failed call keeps its items and retries with
 * a growing delay: the backend rejects stale leases, so a retry is always safe.
 */
export class Batcher<I, O> {
  private pending: Array<Entry<I, O>> = []
  private timer: NodeJS.Timeout | null = null
  private inFlight: Promise<void> | null = null
  private failures = 0
  private idleWaiters: Array<() => void> = []
  /** flushVia calls still out */
  private readonly sideCalls = new Set<Promise<void>>()

  constructor (private readonly options: BatcherOptions<I, O>) {}

  get size (): number {
    return this.pending.length
  }

  push (item: I, done: (outcome: O) => void): void {
    this.pending.push({ item, done, at: this.options.defer === undefined ? 0 : performance.now() })
    // while a call is out or a retry is backing off, the armed timer sends what gathers here
    if (this.inFlight !== null || this.failures > 0) return
    if (this.pending.length >= this.options.maxBatch) this.sendNow()
    else if (this.timer === null) this.arm(this.options.flushMs)
  }

  /** ms the oldest pending item may still be left for flushVia; 0: send now */
  private deferFor (): number {
    const { defer, maxDeferMs = 0 } = this.options
    const first = this.pending[0]
    if (defer === undefined || first === undefined || this.pending.length >= this.options.maxBatch || !defer()) return 0
    return Math.max(0, first.at + maxDeferMs - performance.now())
  }

  /**
   * Sends up to maxBatch pending items now through `send` instead of the usual
   * call, even while that one is out (the backend rejects stale leases, so two
   * writes never conflict). False when there is nothing to send or a failure is
   * being backed off from.
   */
  flushVia (send: (items: I[]) => Promise<O[]>): boolean {
    if (this.pending.length === 0 || this.failures > 0) return false
    const batch = this.pending.slice(0, this.options.maxBatch)
    this.pending = this.pending.slice(batch.length)
    if (this.pending.length === 0 && this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    const call: Promise<void> = this.write(batch, send).finally(() => {
      this.sideCalls.delete(call)
      if (this.failures > 0 && this.inFlight === null) this.arm(this.retryDelay())
      this.notifyIdle()
    })
    this.sideCalls.add(call)
    return true
  }

  /**
   * Sends everything pending, retrying failures until done or until deadlineMs
   * passes; returns how many items were given up on.
   */
  async drain (deadlineMs: number): Promise<number> {
    const deadline = Date.now() + deadlineMs
    while (this.pending.length > 0 || this.inFlight !== null || this.sideCalls.size > 0) {
      const left = deadline - Date.now()
      if (left <= 0) break
      if (this.inFlight === null && this.failures === 0) this.sendNow()
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.idleWaiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
    const abandoned = this.pending.length
    if (abandoned > 0) this.options.log.error({ batcher: this.options.name, abandoned }, `worker could not write ${abandoned} ${this.options.name} items before stopping; their leases will expire and be recovered`)
    const given = this.pending
    this.pending = []
    if (this.options.abandoned !== undefined) {
      for (const entry of given) {
        try { entry.done(this.options.abandoned) } catch { /* a listener's failure changes nothing here */ }
      }
    }
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    return abandoned
  }

  private arm (delayMs: number): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      if (this.inFlight !== null) return
      const wait = this.failures > 0 ? 0 : this.deferFor()
      if (wait > 0) this.arm(Math.min(wait, Math.max(1, this.options.flushMs)))
      else this.sendNow()
    }, delayMs)
  }

  private sendNow (): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    if (this.pending.length === 0) { this.notifyIdle(); return }
    const batch = this.pending.length <= this.options.maxBatch ? this.pending : this.pending.slice(0, this.options.maxBatch)
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length)
    this.inFlight = this.write(batch).finally(() => {
      this.inFlight = null
      if (this.failures > 0) {
        this.arm(this.retryDelay())
        this.notifyIdle()
      } else if (this.pending.length > 0) {
        if (this.deferFor() > 0) this.arm(Math.max(1, this.options.flushMs))
        else this.sendNow()
      } else {
        this.notifyIdle()
      }
    })
  }

  private retryDelay (): number {
    return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 10))
  }

  private async write (batch: Array<Entry<I, O>>, send = this.options.send): Promise<void> {
    let outcomes: O[]
    try {
      outcomes = await send(batch.map(entry => entry.item))
      this.failures = 0
    } catch (err) {
      this.failures++
      this.pending = batch.concat(this.pending)
      this.options.log.warn({ err, batcher: this.options.name, items: batch.length, failures: this.failures }, `worker could not write ${this.options.name} batch; retrying`)
      return
    }
    for (let i = 0; i < batch.length; i++) {
      try {
        batch[i]!.done(outcomes[i] as O)
      } catch (err) {
        this.options.log.error({ err, batcher: this.options.name }, 'worker outcome listener threw')
      }
    }
  }

  private notifyIdle (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }
}
