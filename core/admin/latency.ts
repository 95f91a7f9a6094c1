import type { Backend, ReadEventsRequest, StoredEvent } from '../backend/types.ts'

// Run latency for the overview comes from the event log: the worker appends
// task.succeeded / task.retrying / task.dead with the handler's `durationMs`. This
// tracker reads the log forward from where it stopped, a bounded number of pages per
// overview, and keeps the most recent samples; so an overview never reads tasks.
// A fresh admin service catches up on an old log over a few overviews.

const SOURCE = 'durationMs of task.succeeded, task.retrying and task.dead events in the event log'

export interface LatencyOptions {
  maxSamples?: number
  windowMs?: number
  pageSize?: number
  pagesPerRefresh?: number
}

export class LatencyTracker {
  private cursor: string | null = null
  private readonly samples: Array<{ at: number, ms: number }> = []
  private refreshing: Promise<void> | null = null
  private readonly maxSamples: number
  private readonly windowMs: number
  private readonly pageSize: number
  private readonly pagesPerRefresh: number

  constructor (private readonly backend: Backend, options: LatencyOptions = {}) {
    this.maxSamples = options.maxSamples ?? 1000
    this.windowMs = options.windowMs ?? 5 * 60_000
    this.pageSize = options.pageSize ?? 1000
    this.pagesPerRefresh = options.pagesPerRefresh ?? 5
  }

  /** reads new events; concurrent overviews share one read */
  refresh (): Promise<void> {
    if (!this.backend.capabilities.eventLog) return Promise.resolve()
    this.refreshing ??= this.read().finally(() => { this.refreshing = null })
    return this.refreshing
  }

  /**
   * The page an overview read made in one backend call (Backend.readOverview) should
   * fetch along; null without an event log or while a read of its own is under way.
   */
  nextPage (): ReadEventsRequest | null {
    if (!this.backend.capabilities.eventLog || this.refreshing !== null) return null
    return { afterId: this.cursor, limit: this.pageSize }
  }

  /**
   * Takes the page read for `request` (from nextPage). A page for a cursor that has moved
   * on since is dropped (its events are read again from the cursor); a full page means
   * more is waiting, and the rest is read as refresh() reads it.
   */
  async accept (request: ReadEventsRequest, page: StoredEvent[]): Promise<void> {
    if (request.afterId !== this.cursor || this.refreshing !== null) return
    this.ingest(page)
    if (page.length >= this.pageSize) await this.refresh()
  }

  private async read (): Promise<void> {
    for (let pages = 0; pages < this.pagesPerRefresh; pages++) {
      const page = await this.backend.readEvents({ afterId: this.cursor, limit: this.pageSize })
      this.ingest(page)
      if (page.length < this.pageSize) return
    }
  }

  private ingest (page: StoredEvent[]): void {
    for (const event of page) {
      const duration = (event.data as { durationMs?: unknown } | null)?.durationMs
      if ((event.type === 'task.succeeded' || event.type === 'task.retrying' || event.type === 'task.dead') &&
        typeof duration === 'number' && Number.isFinite(duration) && duration >= 0) {
        this.samples.push({ at: event.time, ms: duration })
      }
    }
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples)
    this.cursor = page[page.length - 1]?.id ?? this.cursor
  }

  view (now: number): { source: string, samples: number, windowSeconds: number, avgMs?: number, p95Ms?: number } {
    const recent = this.samples.filter(sample => now - sample.at <= this.windowMs).map(sample => sample.ms).sort((a, b) => a - b)
    const base = { source: SOURCE, samples: recent.length, windowSeconds: Math.round(this.windowMs / 1000) }
    if (recent.length === 0) return base
    const avg = recent.reduce((sum, ms) => sum + ms, 0) / recent.length
    const p95 = recent[Math.min(recent.length - 1, Math.ceil(recent.length * 0.95) - 1)] as number
    return { ...base, avgMs: Math.round(avg * 100) / 100, p95Ms: p95 }
  }
}
