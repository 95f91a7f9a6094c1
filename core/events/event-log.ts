import type { AppendEventsOptions, Backend, EventInput } from '../backend/types.ts'

// Task transitions happen thousands of times a second; appending each event on its
// own would double the backend round trips of the hot path. Events are buffered and
// appended in batches, and flushed on close so none are lost on a clean shutdown.

const NO_ANSWER: AppendEventsOptions = { answer: false }

export interface EventLogOptions {
  flushIntervalMs?: number
  maxBatch?: number
  /** events buffered beyond this are dropped (and counted) rather than growing memory without bound */
  maxBuffered?: number
  onError?: (err: unknown) => void
}

export class EventLog {
  private buffer: EventInput[] = []
  private timer: NodeJS.Timeout | null = null
  private flushing: Promise<void> = Promise.resolve()
  private readonly flushIntervalMs: number
  private readonly maxBatch: number
  private readonly maxBuffered: number
  private readonly onError: (err: unknown) => void
  dropped = 0
  /**
   * whether the backend keeps an event log: read once, since emit runs for every task
   * transition and the backend a worker holds is wrapped in proxies (timeouts, checks)
   */
  readonly enabled: boolean

  constructor (private readonly backend: Backend, options: EventLogOptions = {}) {
    this.enabled = backend.capabilities.eventLog
    this.flushIntervalMs = options.flushIntervalMs ?? 50
    this.maxBatch = options.maxBatch ?? 500
    this.maxBuffered = options.maxBuffered ?? 50_000
    this.onError = options.onError ?? (() => {})
  }

  emit (type: string, data: unknown): void {
    if (!this.enabled) return
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++
      return
    }
    this.buffer.push({ type, data })
    if (this.buffer.length >= this.maxBatch) void this.flush()
    else if (this.timer === null) this.timer = setTimeout(() => { void this.flush() }, this.flushIntervalMs)
  }

  /** appends everything buffered so far; resolves when it is stored */
  flush (): Promise<void> {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    const batch = this.buffer
    this.buffer = []
    const previous = this.flushing
    this.flushing = previous.then(async () => {
      for (let i = 0; i < batch.length; i += this.maxBatch) {
        try {
          // nothing here reads the stored events: the backend need not build them
          await this.backend.appendEvents(batch.slice(i, i + this.maxBatch), NO_ANSWER)
        } catch (err) {
          this.onError(err)
        }
      }
    })
    return this.flushing
  }

  async close (): Promise<void> {
    await this.flush()
  }
}
