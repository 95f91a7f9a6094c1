// Runs one benchmark in smoke mode as a child process, the way CI exercises them, and
// checks its report's shape: the run must succeed and its last stdout line must be
// the result JSON. Speed is never asserted; only the shape of the report.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const HERE = dirname(fileURLToPath(import.meta.url))

/** every benchmark of bench/ (its modules beside run.ts) */
export const BENCHES = readdirSync(join(ROOT, 'bench')).filter(f => f.endsWith('.ts') && f !== 'run.ts').map(f => f.slice(0, -3)).sort()

/** true when test/bench/<name>.test.ts runs the benchmark's smoke mode itself (smoke.test.ts runs the rest) */
export function hasOwnSmokeTest (name: string): boolean {
  return existsSync(join(HERE, `${name}.test.ts`))
}

export interface Outcome { code: number | null, stdout: string, stderr: string }

export function runBench (name: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), name, '--smoke'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`bench ${name} --smoke did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeoutMs)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** `<name> --smoke` ends with its result JSON line (one subtest of t) */
export function smokeTest (t: Test, name: string): void {
  t.test(`${name} --smoke ends with its result JSON line`, async t => {
    const { code, stdout, stderr } = await runBench(name, 240_000)
    t.equal(code, 0, `exit code 0 (stderr: ${stderr.slice(-2000)})`)
    const lines = stdout.trimEnd().split('\n')
    t.ok(lines.length > 1, 'progress lines come before the result')
    const last = JSON.parse(lines.at(-1)!) as { bench: unknown, results: unknown, ratios: unknown }
    t.same(Object.keys(last).sort(), ['bench', 'ratios', 'results'], 'exactly the keys bench, results, ratios')
    t.equal(last.bench, name)
    t.type(last.results, 'object')
    t.type(last.ratios, 'object')
    t.equal(lines.filter(line => line.startsWith('{')).length, 1, 'exactly one JSON line')
    t.equal((last.results as { smoke?: unknown }).smoke, true, 'ran in smoke mode')
  })
}
