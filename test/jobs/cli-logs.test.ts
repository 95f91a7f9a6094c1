// `switchyard jobs logs` on a real run: a `switchyard start` whose worker runs jobs on
// podman (runtime-docker) from a tarball in a directory of the test's own; the CLI
// prints the container's output as it came (chunks may end mid-line) between the
// run's steps, with --follow through the event stream until the run's job.finished;
// `jobs artifact` reads the run's artifacts (artifact-store-fs) through the gateway.
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tar from 'tar'
import { startDeployment } from '../cli/deployment.ts'
import { ensureJobBaseImage, podmanMissing, startPodmanService } from '../support/podman.ts'

const missing = await podmanMissing()
if (missing !== null) t.plan(0, `skipped: ${missing}`)
else await suite()

async function suite (): Promise<void> {
  t.setTimeout(600_000)
  const podman = await startPodmanService()
  t.teardown(() => podman.close())
  const baseImage = await ensureJobBaseImage(podman.env)
  const d = await startDeployment(t, {
    extraPlugins: [
      '  - name: runtime-docker',
      `    options: { socketPath: "${podman.socketPath}", stopGrace: 2s }`,
      '  - name: job-source-tarball',
      '    options: { dir: tarballs }',
      '  - name: artifact-store-fs'
    ]
  })

  t.test('jobs logs prints the output text between the steps; --follow ends at job.finished', async t => {
    const context = join(d.dir, 'context')
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage}\nCOPY job.sh /job.sh\nCMD ["sh", "/job.sh"]\n`)
    // the deployment's directory makes the image new to this test run
    await writeFile(join(context, 'job.sh'), `# ${d.dir}\necho "first line"\nsleep 2\nprintf "second line, no newline"\necho " to stderr" >&2\n`)
    await mkdir(join(d.dir, 'tarballs'), { recursive: true })
    await tar.create({ gzip: true, cwd: context, file: join(d.dir, 'tarballs', 'logs.tar.gz'), portable: true }, await readdir(context))
    const file = join(d.dir, 'logs-job.yaml')
    await writeFile(file, 'name: cli-logs\nsource: tarball_path\ntarballPath: logs.tar.gz\ntimeoutSeconds: 120\nresources: { memory: 64mb }\n')
    t.match(await d.json(['jobs', 'apply', '-f', file]), { job: { name: 'cli-logs' } })
    const { run } = await d.json<{ run: { id: string } }>(['jobs', 'run', 'cli-logs'])

    const followed = await d.cli(['jobs', 'logs', 'cli-logs', '--run', run.id, '--follow'])
    t.equal(followed.code, 0, followed.stderr)
    t.match(followed.stdout, /job\.queued[\s\S]*job\.started[^\n]*\nfirst line\nsecond line, no newline to stderr\n[^\n]* job\.finished [^\n]* succeeded\n$/, 'the output as the container wrote it, then job.finished on a line of its own')

    const listed = await d.cli(['jobs', 'logs', 'cli-logs', '--run', run.id])
    t.equal(listed.code, 0, listed.stderr)
    t.match(listed.stdout, /\nfirst line\nsecond line, no newline to stderr\n[^\n]* job\.finished /, 'the stored events read the same')
    const json = await d.json<{ events: Array<{ type: string, data: { text?: string } }> }>(['jobs', 'logs', 'cli-logs', '--run', run.id])
    t.equal(json.events.filter(event => event.type === 'job.output').map(event => event.data.text).join(''), 'first line\nsecond line, no newline to stderr\n', '--json keeps the events as they are')

    // the run's artifacts through the gateway: the source archive (the default) and output.log
    const archive = await readFile(join(d.dir, 'tarballs', 'logs.tar.gz'))
    t.match(await d.json(['jobs', 'artifact', 'cli-logs']), { runId: run.id, artifact: { name: 'source.tar', size: archive.length, sha256: createHash('sha256').update(archive).digest('hex') } })
    const saved = await d.cli(['jobs', 'artifact', 'cli-logs', '--run', run.id, '--artifact', 'output.log', '-o', 'output.log'])
    t.equal(saved.code, 0, saved.stderr)
    t.equal(await readFile(join(d.dir, 'output.log'), 'utf8'), 'first line\nsecond line, no newline to stderr\n', '-o wrote the output log')
  })
}
