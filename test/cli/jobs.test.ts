// `switchyard jobs ...` through a real gateway (see admin-commands.test.ts): a
// definition applied from YAML, run, listed, inspected, canceled and deleted.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startDeployment } from './deployment.ts'

t.setTimeout(600_000)
// the worker serves the default queue only: the job's queue has no worker, so its run stays queued until canceled
const d = await startDeployment(t, { workerQueues: ['default'] })

t.test('jobs: apply -f, list, get, run, runs, status, cancel, logs, artifact, delete', async t => {
  const file = join(d.dir, 'job.yaml')
  // the queue no worker of the deployment serves, so the run stays queued until canceled
  await writeFile(file, [
    'name: cli-report',
    'description: builds the report',
    'source: tarball_url',
    'tarballUrl: https://downloads.example/report-1.0.tar.gz',
    'queue: jobs-cli-idle',
    'retries: 1',
    'env: [MODE=report]',
    'resources: { memory: 128mb }',
    ''
  ].join('\n'))
  t.match(await d.json(['jobs', 'apply', '-f', file]), { created: true, job: { name: 'cli-report', queue: 'jobs-cli-idle', resources: { memoryBytes: 128 * 1024 * 1024 } } })
  t.match(await d.json(['jobs', 'list']), { jobs: [{ name: 'cli-report' }] })
  t.match(await d.json(['jobs', 'get', 'cli-report']), { job: { env: ['MODE=report'], retries: 1 } })

  const { run } = await d.json<{ run: { id: string } }>(['jobs', 'run', 'cli-report'])
  t.match(await d.json(['jobs', 'runs', '--job', 'cli-report']), { runs: [{ id: run.id, state: 'queued' }] })
  t.match(await d.json(['jobs', 'status', run.id]), { run: { id: run.id, trigger: 'admin', maxAttempts: 2 } })
  t.match(await d.json(['jobs', 'logs', 'cli-report', '--run', run.id]), { events: [{ type: 'job.queued' }] })
  t.match(await d.json(['jobs', 'cancel', run.id]), { outcome: 'canceled', run: { state: 'canceled' } })

  const followed = await d.cli(['jobs', 'logs', 'cli-report', '--run', run.id, '--follow'])
  t.equal(followed.code, 0, followed.stderr)
  t.match(followed.stdout, /job\.queued[\s\S]*job\.finished .* canceled/, '--follow prints the history and ends at the run\'s job.finished')

  const artifact = await d.cli(['jobs', 'artifact', 'cli-report'])
  t.not(artifact.code, 0)
  t.match(artifact.stderr, /ARTIFACT_STORE_NOT_CONFIGURED|no artifact store/, 'without an artifact store the command says so')

  const bad = join(d.dir, 'bad.yaml')
  await writeFile(bad, 'name: cli-bad\nsource: tarball_url\ntarballUrl: http://plain.example/a.tgz\n')
  const refused = await d.cli(['jobs', 'apply', '-f', bad])
  t.not(refused.code, 0)
  t.match(refused.stderr, /tarballUrl/, 'a bad definition is refused naming the field')

  t.match(await d.json(['jobs', 'delete', 'cli-report']), { name: 'cli-report', deleted: true })
  t.match(await d.json(['jobs', 'runs', '--job', 'cli-report']), { runs: [{ id: run.id }] }, 'runs outlive their job')
})
