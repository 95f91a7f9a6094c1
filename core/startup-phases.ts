// Where the time of a start-up goes: named phases, each the time since the previous
// mark, measured from the process's own start (performance.now() counts from it), so
// Node's bootstrap and the CLI's module loading are the first phase. `switchyard
// start` logs them in one record once it is up; the startup benchmark reads it.

const MAX_PHASES = 32

export class StartupPhases {
  readonly #marks: Array<{ name: string, at: number }> = []

  /** the phase `name` ends now (it began at the previous mark, or at process start) */
  mark (name: string): void {
    if (this.#marks.length < MAX_PHASES) this.#marks.push({ name, at: performance.now() })
  }

  /** each phase's duration in ms, in order; a repeated name adds up */
  durations (): Record<string, number> {
    const out: Record<string, number> = {}
    let previous = 0
    for (const { name, at } of this.#marks) {
      out[name] = Math.round(((out[name] ?? 0) + at - previous) * 10) / 10
      previous = at
    }
    return out
  }

  /** ms from process start to the last mark */
  totalMs (): number {
    return Math.round((this.#marks.at(-1)?.at ?? 0) * 10) / 10
  }
}
