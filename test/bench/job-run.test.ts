// The job-run benchmark in smoke mode, as CI runs it: a few cached-image runs against
// direct container runs, and a few queued runs; it must end with its result JSON line.
// Needs podman (.ci/run installs it); speed is never asserted, only the report's shape.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { podmanMissing } from '../support/podman.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const missing = await podmanMissing()

if (missing !== null) {
  t.plan(0, `podman is needed for the job-run benchmark: ${missing}`)
} else {
  t.test('job-run --smoke ends with its result JSON line', async t => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), 'job-run', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`job-run --smoke did not finish in 180 s\n${out}\n${err}`)) }, 180_000)
      child.on('error', e => { clearTimeout(timer); reject(e) })
      child.on('close', c => { clearTimeout(timer); resolve({ code: c, stdout: out, stderr: err }) })
    })
    t.equal(code, 0, `exit code 0 (stderr: ${stderr.slice(-2000)})`)
    const lines = stdout.trimEnd().split('\n')
    const last = JSON.parse(lines.at(-1)!) as { bench: string, results: Record<string, any>, ratios: Record<string, unknown> }
    t.equal(last.bench, 'job-run')
    t.equal(last.results.smoke, true, 'ran in smoke mode')
    t.type(last.ratios.run_job_vs_direct_p50, 'number', 'the ratio to direct container runs')
    t.equal(last.results.queued.containers_left, 0, 'no container left after the queued runs')
    t.equal(lines.filter(line => line.startsWith('{')).length, 1, 'exactly one JSON line')
  })
}
