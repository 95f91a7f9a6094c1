// The scale-out benchmark in smoke mode, as CI runs it: the report's shape (as
// smoke-support.ts checks it for every benchmark), and what it must prove beyond its
// shape: every process count ran every task exactly once, in real worker processes, on
// both backends. One run serves both, since it takes half a minute. Speed is never asserted.
import t from 'tap'
import { runBench } from './smoke-support.ts'

interface Row { processes: number, tasks: number, tasks_run_twice: number, tasks_not_run: number, succeeded: number, handler_runs_per_process: number[], client_cpu_ms: number[], server_busy: number | null }

t.test('scale-out --smoke ends with its result JSON line; each process count ran every task once, in that many processes', async t => {
  const { code, stdout, stderr } = await runBench('scale-out', 240_000)
  t.equal(code, 0, `exit code 0 (stderr: ${stderr.slice(-2000)})`)
  const lines = stdout.trimEnd().split('\n')
  t.ok(lines.length > 1, 'progress lines come before the result')
  t.equal(lines.filter(line => line.startsWith('{')).length, 1, 'exactly one JSON line')
  const last = JSON.parse(lines.at(-1)!) as { bench: string, results: { smoke: boolean, scale_out: Record<string, Record<string, Row>> }, ratios: Record<string, number | null> }
  t.same(Object.keys(last).sort(), ['bench', 'ratios', 'results'], 'exactly the keys bench, results, ratios')
  t.equal(last.bench, 'scale-out')
  t.equal(last.results.smoke, true, 'ran in smoke mode')
  t.same(Object.keys(last.results.scale_out).sort(), ['postgres', 'redis'], 'both default backends ran')
  for (const [backend, rows] of Object.entries(last.results.scale_out)) {
    t.same(Object.keys(rows).sort(), ['1', '2'], `${backend}: the smoke process counts`)
    for (const row of Object.values(rows)) {
      const at = `${backend} x${row.processes}`
      t.equal(row.tasks_run_twice, 0, `${at}: no task ran twice`)
      t.equal(row.tasks_not_run, 0, `${at}: no task was missed`)
      t.equal(row.succeeded, row.tasks, `${at}: the backend counts every task succeeded`)
      t.equal(row.handler_runs_per_process.length, row.processes, `${at}: one report per worker process`)
      t.equal(row.handler_runs_per_process.reduce((a, b) => a + b, 0), row.tasks, `${at}: the processes' handler runs add up to the tasks`)
      t.equal(row.client_cpu_ms.length, row.processes, `${at}: CPU of each process`)
      t.type(row.server_busy, 'number', `${at}: the server's busy share was read`)
    }
    t.type(last.ratios[`${backend}_scaling_2_vs_1`], 'number', `${backend}: the scaling ratio`)
  }
  t.type(last.ratios.redis_processes_to_saturate_estimate, 'number', 'an estimate of the processes one Redis serves')
})
