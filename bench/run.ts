// Entry point: `npm run bench -- <name> [--flags]`. Loads bench/<name>.ts, runs it,
// and ends stdout with exactly one JSON line {"bench","results","ratios"}.
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { BenchRun } from './lib/types.ts'

const here = dirname(fileURLToPath(import.meta.url))

function available (): string[] {
  return readdirSync(here).filter(f => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts')).map(f => f.slice(0, -3)).sort()
}

async function main (): Promise<number> {
  const [name, ...args] = process.argv.slice(2)
  const names = available()
  if (name === undefined || !names.includes(name)) {
    process.stderr.write(`usage: npm run bench -- <name> [--smoke] [--flags]\nbenchmarks: ${names.join(', ')}\n`)
    return 2
  }
  const mod = await import(pathToFileURL(join(here, `${name}.ts`)).href) as { run?: BenchRun }
  if (typeof mod.run !== 'function') throw new Error(`bench/${name}.ts does not export run(args)`)
  const { results, ratios } = await mod.run(args)
  process.stdout.write(`${JSON.stringify({ bench: name, results, ratios })}\n`)
  return 0
}

// A client library that leaves a handle open must not turn a finished run into a hang.
function exitSoon (code: number): void {
  process.exitCode = code
  setTimeout(() => {
    process.stderr.write('bench: handles still open 5 s after the run; exiting\n')
    process.exit(code)
  }, 5_000).unref()
}

main().then(exitSoon, (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  exitSoon(1)
})
