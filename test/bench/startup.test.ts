// The startup benchmark in smoke mode, as CI runs it: it starts `switchyard start`
// (a new data directory, then again on the existing one), runs `switchyard queues`
// through its gateway, samples its memory, stops it, and ends with its result JSON.
// Speed and memory are never asserted here; only that every phase measured something.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

function runSmoke (timeoutMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), 'startup', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`startup --smoke did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeoutMs)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

const isNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)

t.test('startup --smoke measures every phase and ends with its result JSON line', async t => {
  const { code, stdout, stderr } = await runSmoke(280_000)
  t.equal(code, 0, `exit code 0 (stderr: ${stderr.slice(-2000)})`)
  const lines = stdout.trimEnd().split('\n')
  t.equal(lines.filter(line => line.startsWith('{')).length, 1, 'exactly one JSON line')
  const { bench, results, ratios } = JSON.parse(lines.at(-1)!) as { bench: string, results: Record<string, any>, ratios: Record<string, unknown> }
  t.equal(bench, 'startup')
  t.equal(results.smoke, true, 'ran in smoke mode')
  t.ok(isNumber(results.node_ms?.p50), 'node -e 0 timed')
  t.ok(isNumber(results.first_start?.ready_ms), 'first start timed until its gateway answered')
  t.ok(isNumber(results.restart_ready_ms?.p50), 'start on the existing data directory timed')
  t.ok(isNumber(results.restart_ready_cpu_ms?.p50), 'and its CPU time until ready')
  t.ok(isNumber(results.queues_ms?.p50), 'switchyard queues through the gateway timed')
  t.ok(isNumber(ratios.queues_vs_node), 'queues ratio to node -e 0')
  t.ok(ratios.version_vs_node === null || isNumber(ratios.version_vs_node), 'version ratio is a number, or null with the failure in results')
  t.ok(results.memory?.rss_mb > 0 && results.memory.samples.length >= 2, 'resident memory sampled during the demo')
  t.same(results.targets, { version_vs_node: 3, queues_vs_node: 6, restart_ready_ms: 1500, rss_after_demo_mb: 200 }, 'targets printed with the results')
  t.match(stdout, /summary \(measured \| target\)/, 'a summary with targets next to the measurements')
})
