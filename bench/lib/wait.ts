import { setTimeout as delay } from 'node:timers/promises'

/**
 * Resolves when `done()` is true; checks again whenever `nudge` is called and at
 * least every `checkEveryMs`. Rejects with `what` in the message after `timeoutMs`,
 * so a stuck system fails the benchmark instead of hanging it.
 */
export class Completion {
  private wake: (() => void) | null = null

  nudge (): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  async until (what: string, done: () => boolean | Promise<boolean>, timeoutMs: number, checkEveryMs = 50): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await done())) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(left, checkEveryMs))
        this.wake = () => { clearTimeout(timer); resolve() }
      })
    }
  }
}

/** a pause between latency samples, so each enqueue lands on idle workers */
export function pause (ms: number): Promise<void> {
  return delay(ms)
}
