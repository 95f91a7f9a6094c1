import type { Logger } from './logger.ts'

export interface PeriodicOptions {
  name: string
  intervalMs: number
  /** the first run happens after this delay (0: at once) */
  initialDelayMs?: number
  log: Logger
  /** return true to run again right away (there is more to do) */
  run: () => Promise<boolean | void>
}

const MAX_ERROR_DELAY_MS = 5_000

/**
 * Runs a job every intervalMs without overlapping runs. A failing run is logged and
 * retried after a growing delay (capped by the interval and 5 s), so a backend
 * blip slows the job down instead of ending it.
 */
export class Periodic {
  private timer: NodeJS.Timeout | null = null
  private current: Promise<void> | null = null
  private stopped = true
  private failures = 0

  constructor (private readonly options: PeriodicOptions) {}

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule(this.options.initialDelayMs ?? this.options.intervalMs)
  }

  /** run now (or right after the run in progress), then continue on the interval */
  trigger (): void {
    if (this.stopped || this.current !== null) return
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.current
  }

  private schedule (delayMs: number): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      this.current = this.once().finally(() => { this.current = null })
    }, delayMs)
  }

  private async once (): Promise<void> {
    let again = false
    try {
      again = (await this.options.run()) === true
      this.failures = 0
    } catch (err) {
      this.failures++
      this.options.log.warn({ err, job: this.options.name, failures: this.failures }, `worker ${this.options.name} failed; retrying`)
    }
    if (this.stopped) return
    const errorDelay = Math.min(this.options.intervalMs, MAX_ERROR_DELAY_MS, 100 * 2 ** Math.min(this.failures, 10))
    this.schedule(this.failures > 0 ? errorDelay : again ? 0 : this.options.intervalMs)
  }
}
