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
