import { performance } from 'node:perf_hooks'
import type { AckOutcome } from '../backend/types.ts'

// ctx.progress(value) in a tight loop must not become one backend write per call. Per
// task the latest value wins, at most one write is in flight, and writes are at least
// intervalMs apart; a value still waiting when the handler succeeds is written before
// the ack, so the succeeded task shows the last progress it reported. Once a write
// finds the lease lost (or the attempt ends another way) further reports are refused.

export interface ProgressReporterOptions {
  /** one backend write of this task's progress (batched with other tasks' by the worker) */
  write: (value: unknown) => Promise<AckOutcome>
  intervalMs: number
  /** a write was stored */
  onWritten: (value: unknown) => void
  /** a write found the lease lost */
  onLeaseLost: () => void
}

/** a copy taken when reported, so a handler that mutates its object afterwards changes nothing already reported */
function snapshot (value: unknown): unknown {
  return typeof value === 'number' ? value : JSON.parse(JSON.stringify(value))
}

export class ProgressReporter {
  private pending: { value: unknown } | null = null
  private writing: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private lastWriteAt = Number.NEGATIVE_INFINITY
  private closed = false
  private finishing = false

  constructor (private readonly options: ProgressReporterOptions) {}

  /** false when the attempt has ended or lost its lease: nothing more is written */
  report (value: unknown): boolean {
    if (this.closed || this.finishing) return false
    this.pending = { value: snapshot(value) }
    this.schedule()
    return true
  }

  /** The handler succeeded: writes what is still waiting now (after the write in flight). */
  async finish (): Promise<void> {
    this.finishing = true
    this.clearTimer()
    if (this.writing !== null) await this.writing
    if (this.pending !== null && !this.closed) {
      this.writeNow()
      await this.writing
    }
    this.close()
  }

  /** The attempt ended otherwise (failed, lease lost, released): nothing waiting is written. */
  close (): void {
    this.closed = true
    this.pending = null
    this.clearTimer()
  }

  private clearTimer (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule (): void {
    if (this.writing !== null || this.timer !== null || this.pending === null || this.closed || this.finishing) return
    const wait = this.lastWriteAt + this.options.intervalMs - performance.now()
    if (wait <= 0) {
      this.writeNow()
      return
    }
    this.timer = setTimeout(() => {
      this.timer = null
      this.schedule()
    }, Math.ceil(wait))
  }

  private writeNow (): void {
    const pending = this.pending
    if (pending === null) return
    this.pending = null
    this.lastWriteAt = performance.now()
    this.writing = this.options.write(pending.value).then(outcome => {
      if (outcome === 'ok') {
        this.options.onWritten(pending.value)
        return
      }
      this.close()
      this.options.onLeaseLost()
    }).catch(() => {
      // a listener threw: the write itself is done, and the worker logs its own listeners' failures
    }).finally(() => {
      this.writing = null
      this.schedule()
    })
  }
}
