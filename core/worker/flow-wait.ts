// How long an idle worker waits before it leases again while flow limits are stored.
// A limit holds tasks back without a notification when it frees up: a rate limit
// opens at its next window boundary, a concurrency limit when a task of its scope
// finishes on some worker. So the wait is the time to the next boundary of a stored
// rate window (the window's first start then goes to whoever asks first), and
// otherwise a back-off from FLOW_WAIT_MIN_MS doubling per lease that came back short,
// up to the worker's pollMs. New work still wakes the worker at once.

export const FLOW_WAIT_MIN_MS = 50
/**
 * A boundary wake comes this long after the boundary by the worker's clock: the
 * backend's clock decides the window, and it may run a little behind.
 */
export const FLOW_WINDOW_MARGIN_MS = 5

export interface FlowWaitInput {
  /** the worker's clock, epoch ms */
  now: number
  /** window lengths of the stored rate limits, ms */
  rateWindows: readonly number[]
  /** lease calls in a row that came back short while limits were stored, before this one */
  shortLeases: number
  /** the longest wait without work (the worker's pollMs) */
  maxMs: number
}

export function flowWaitMs (input: FlowWaitInput): number {
  const { now, rateWindows, shortLeases, maxMs } = input
  let wait = FLOW_WAIT_MIN_MS * 2 ** Math.min(Math.max(shortLeases, 0), 20)
  for (const windowMs of rateWindows) {
    if (!(windowMs > 0)) continue
    const boundary = (Math.floor(now / windowMs) + 1) * windowMs
    wait = Math.min(wait, boundary - now + FLOW_WINDOW_MARGIN_MS)
  }
  return Math.max(1, Math.min(wait, maxMs))
}
