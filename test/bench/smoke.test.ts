// Runs every benchmark in smoke mode as a child process, the way CI exercises
// them: the run must succeed and its last stdout line must be the result JSON.
// Speed is never asserted here; only the shape of the report.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const benches = readdirSync(join(root, 'bench')).filter(f => f.endsWith('.ts') && f !== 'run.ts').map(f => f.slice(0, -3)).sort()
// benchmarks whose smoke run has a test file of its own (startup: several `switchyard start`s;
// job-run: needs podman, job-run.test.ts)
const OWN_SMOKE_TEST = new Set(['startup', 'job-run'])

interface Outcome { code: number | null, stdout: string, stderr: string }

function runBench (name: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), name, '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
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

t.test('the benchmark directory holds benchmarks', async t => {
  t.ok(benches.includes('pg-throughput'), 'pg-throughput exists')
  t.ok(benches.includes('redis-throughput'), 'redis-throughput exists')
  t.ok(benches.includes('gateway-throughput'), 'gateway-throughput exists')
})

for (const name of benches.filter(name => !OWN_SMOKE_TEST.has(name))) {
  t.test(`${name} --smoke ends with its result JSON line`, async t => {
    const { code, stdout, stderr } = await runBench(name, 120_000)
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
