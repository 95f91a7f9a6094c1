import { parseArgs, type ParseArgsConfig } from 'node:util'

type Options = NonNullable<ParseArgsConfig['options']>

/** Strict flag parsing: an unknown or malformed flag fails with a message naming it. */
export function parseFlags<T extends Options> (bench: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options: { smoke: { type: 'boolean', default: false }, ...options }, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new Error(`${bench}: ${(err as Error).message}`)
  }
}

/** "20000,100000" → [20000, 100000]; each a positive integer */
export function integerList (flag: string, raw: string): number[] {
  const values = raw.split(',').map(s => s.trim()).filter(s => s.length > 0).map(Number)
  if (values.length === 0 || values.some(v => !Number.isInteger(v) || v < 1)) {
    throw new Error(`--${flag}: expected a comma-separated list of positive integers, got "${raw}"`)
  }
  return values
}

export function positiveInteger (flag: string, raw: string): number {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag}: expected a positive integer, got "${raw}"`)
  return value
}

export function nonNegativeInteger (flag: string, raw: string): number {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag}: expected an integer of 0 or more, got "${raw}"`)
  return value
}

export function onOff (flag: string, raw: string): boolean {
  if (raw !== 'on' && raw !== 'off') throw new Error(`--${flag}: expected on or off, got "${raw}"`)
  return raw === 'on'
}

/** the run with the median headline rate, plus every run's rate so the spread is visible */
export function medianRun<T extends { tasks_per_s: number }> (runs: T[]): T & { runs_tasks_per_s: number[] } {
  const sorted = [...runs].sort((a, b) => a.tasks_per_s - b.tasks_per_s)
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, runs_tasks_per_s: runs.map(r => r.tasks_per_s) }
}

/** ["MALLOC_ARENA_MAX=2", ...] → { MALLOC_ARENA_MAX: '2' }; each NAME=VALUE with a shell-style variable name */
export function envAssignments (flag: string, raw: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const assignment of raw) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(assignment)
    if (match === null) throw new Error(`--${flag}: expected NAME=VALUE, got "${assignment}"`)
    env[match[1]!] = match[2]!
  }
  return env
}
