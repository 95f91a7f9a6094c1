/**
 * A one-slot signal: wait(ms) ends on timeout or on wake(), whichever is first.
 * A wake() with nobody waiting is remembered, so a signal that arrives while the
 * waiter is busy (e.g. mid-lease) is not lost.
 */
export class Wakeup {
  private waiter: (() => void) | null = null
  private pending = false

  wake (): void {
    const waiter = this.waiter
    if (waiter === null) {
      this.pending = true
      return
    }
    this.waiter = null
    waiter()
  }

  /** end a wait in progress without leaving a remembered wake() behind */
  cancelWait (): void {
    const waiter = this.waiter
    this.waiter = null
    if (waiter !== null) waiter()
  }

  wait (ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false
      return Promise.resolve()
    }
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.waiter = null
        resolve()
      }, ms)
      this.waiter = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}

/** resolves after ms unless one of the wakeups fires first */
export function waitAny (ms: number, ...wakeups: Wakeup[]): Promise<void> {
  if (wakeups.length === 1) return wakeups[0]!.wait(ms)
  // Each wait() registers a timer; the losers are woken so no timer outlives the race.
  return Promise.race(wakeups.map(w => w.wait(ms))).then(() => {
    for (const w of wakeups) w.cancelWait()
  })
}
