// Progress goes to stdout as plain lines; the final JSON line is printed by run.ts
// alone, so nothing here may print JSON.

const began = Date.now()

export function progress (message: string): void {
  const elapsed = ((Date.now() - began) / 1000).toFixed(1).padStart(6)
  process.stdout.write(`[bench ${elapsed}s] ${message}\n`)
}

/** tasks per second, rounded to a whole number */
export function rate (count: number, ms: number): number {
  return ms <= 0 ? 0 : Math.round(count / (ms / 1000))
}

/** a / b rounded to 3 places; null when either side is missing or b is zero */
export function ratio (a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null
  return Math.round((a / b) * 1000) / 1000
}

export function round (value: number, places = 3): number {
  const f = 10 ** places
  return Math.round(value * f) / f
}
