import { MAX_CASCADE_REPORT, type CascadedTask } from './types.ts'

// What a backend keeps for Backend.watchCascades: the listeners of this backend object,
// told of the tasks a dependency cascade finished when the call that ran it returns.
// The cascade itself runs inside the backend (a trigger, a script), where the call's
// result has no room for it; its caller, the one place that sees the transition, is
// told through here instead, so each cascade is counted once (metrics history).

export type CascadeListener = (tasks: CascadedTask[]) => void

export class CascadeListeners {
  private readonly listeners = new Set<CascadeListener>()

  /** Backend.watchCascades */
  readonly watch = (listener: CascadeListener): (() => void) => {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** anyone listening: a backend that has to look the cascade up skips the lookup otherwise */
  get active (): boolean {
    return this.listeners.size > 0
  }

  /** tells every listener (at most MAX_CASCADE_REPORT tasks); a listener that throws is skipped, never the call's result */
  report (tasks: readonly CascadedTask[]): void {
    if (tasks.length === 0 || this.listeners.size === 0) return
    const reported = tasks.slice(0, MAX_CASCADE_REPORT)
    for (const listener of this.listeners) {
      try {
        listener(reported)
      } catch {
        // the listener's own failure (it counts in memory): the backend call succeeded
      }
    }
  }
}

/** a cascaded task from a backend's raw row or script reply; null for anything else */
export function cascadedTask (id: unknown, queue: unknown, state: unknown): CascadedTask | null {
  if (typeof id !== 'string' || typeof queue !== 'string' || (state !== 'dead' && state !== 'canceled')) return null
  return { id, queue, state }
}

/** cascaded tasks from a script's flat (id, queue, state) triples (the Redis and BullMQ backends' replies); anything else is left out */
export function cascadedTriples (flat: unknown): CascadedTask[] {
  if (!Array.isArray(flat)) return []
  const out: CascadedTask[] = []
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const task = cascadedTask(flat[i], flat[i + 1], flat[i + 2])
    if (task !== null) out.push(task)
  }
  return out
}
