// Output of the commands. Text for people (tables padded to their widest cell), or
// with --json one JSON document per line: the RPC's answer as the HTTP gateway
// returns it, so a script can rely on the contract's documented shapes.
import type { CommandInput } from './spec.ts'

export function table (header: string[], rows: string[][]): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return all.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')
}

/** `key: value` lines, keys aligned; absent values are left out */
export function fields (entries: Array<[string, string | number | boolean | undefined | null]>): string {
  const shown = entries.filter((e): e is [string, string | number | boolean] => e[1] !== undefined && e[1] !== null)
  const width = Math.max(0, ...shown.map(([k]) => k.length)) + 1
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)} ${String(v)}`).join('\n')
}

export function wantsJson (input: CommandInput): boolean {
  return input.values.json === true
}

/** with --json: `value` as one line of JSON; otherwise the text `human` renders */
export function emit (input: CommandInput, value: unknown, human: () => string): void {
  input.io.stdout.write((wantsJson(input) ? JSON.stringify(value) : human()) + '\n')
}

export function plural (n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`
}
