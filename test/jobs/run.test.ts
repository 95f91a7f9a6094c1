// Job runs end to end on a real container engine (podman's Docker API) and a real
// Postgres: a run fetches, builds, runs and finishes with its output and events; a
// second run of the same source builds nothing; output is cut at the cap with the
// marker; a timeout, a cancel and a failing exit end the run as they should, and no
// container is left behind by any of them.
import t from 'tap'
import { isFinalRunState } from '../../core/jobs/store.ts'
import { containersOfRun, jobApp, jobTarball, jobDefinition, jobWorld, podmanMissing } from './support.ts'

const missing = await podmanMissing()
if (missing !== null) {
  t.plan(0, `podman is needed for the container job tests: ${missing}`)
} else {
  const world = await jobWorld(t)
  const OUTPUT_CAP = 64 * 1024
  const app = await jobApp(t, world, { outputBytes: OUTPUT_CAP, stopGraceMs: 1000 })

  t.test('a run fetches, builds, runs and succeeds with its output and events; a second run builds nothing', async t => {
    const tarball = await jobTarball(world, 'hello', 'echo "hello from $(id -u)"; echo "to stderr" >&2; echo "$GREETING"')
    const definition = jobDefinition('hello', tarball, { env: ['GREETING=bonjour'] })
    const first = await app.startRun(definition)
    const done = await app.waitFinal(first.id, 120_000)
    t.equal(done.state, 'succeeded', `succeeded (error: ${done.error ?? 'none'})`)
    t.equal(done.exitCode, 0)
    t.equal(done.attempt, 1)
    t.equal(done.imageCached, false, 'the first run built its image')
    t.match(done.imageId, /\S/, 'the image id is recorded')
    t.match(done.containerId, /\S/, 'the container id is recorded')
    t.match(done.sourceSha256, /^[0-9a-f]{64}$/, 'the tarball\'s SHA-256 is recorded')
    t.type(done.durationMs, 'number')
    t.ok(done.finishedAt !== undefined && done.startedAt !== undefined && done.finishedAt >= done.startedAt)

    const events = await app.eventsOf(first.id)
    const types = events.map(event => event.type)
    for (const type of ['job.queued', 'job.fetching', 'job.fetched', 'job.building', 'job.built', 'job.started', 'job.output', 'job.finished']) {
      t.ok(types.includes(type), `${type} was appended`)
    }
    t.ok(types.indexOf('job.fetched') < types.indexOf('job.built') && types.indexOf('job.built') < types.indexOf('job.started') && types.indexOf('job.started') < types.indexOf('job.finished'), 'in order')
    const output = events.filter(event => event.type === 'job.output').map(event => (event.data as { text: string }).text).join('')
    t.match(output, /hello from 65534\n/, 'stdout, from an unprivileged user')
    t.match(output, /to stderr\n/, 'stderr combined')
    t.match(output, /bonjour\n/, 'the definition\'s env reached the container')
    const finished = events.find(event => event.type === 'job.finished')?.data as Record<string, unknown>
    t.equal(finished.state, 'succeeded')
    t.equal(finished.exitCode, 0)
    t.same(await containersOfRun(world, first.id), [], 'no container is left')

    const second = await app.startRun(definition)
    const again = await app.waitFinal(second.id, 60_000)
    t.equal(again.state, 'succeeded')
    t.equal(again.imageCached, true, 'the second run found its image in the cache')
    t.equal(again.imageId, done.imageId, 'the same image')
    const built = (await app.eventsOf(second.id)).find(event => event.type === 'job.built')?.data as Record<string, unknown>
    t.equal(built.imageCached, true)
  })

  t.test('10 MB of output is cut at the cap, with the marker, in bounded events', async t => {
    const tarball = await jobTarball(world, 'chatty', 'head -c 10485760 /dev/zero | tr "\\0" "x"; echo; echo done')
    const run = await app.startRun(jobDefinition('chatty', tarball))
    const done = await app.waitFinal(run.id, 120_000)
    t.equal(done.state, 'succeeded', `succeeded (error: ${done.error ?? 'none'})`)
    t.equal(done.outputTruncated, true, 'the run says its output was cut')
    t.ok((done.outputBytes ?? 0) > OUTPUT_CAP, `the output past the cap was counted (${done.outputBytes ?? 0} bytes)`)
    const texts = (await app.eventsOf(run.id)).filter(event => event.type === 'job.output').map(event => (event.data as { text: string }).text)
    const joined = texts.join('')
    t.ok(texts.every(text => Buffer.byteLength(text) <= 16 * 1024 + 200), 'every output event holds at most 16 KiB (plus the marker)')
    t.equal(joined.slice(0, OUTPUT_CAP), 'x'.repeat(OUTPUT_CAP), 'the first bytes up to the cap')
    t.match(joined.slice(OUTPUT_CAP), /output truncated/, 'then the truncation marker')
    t.ok(Buffer.byteLength(joined) < OUTPUT_CAP + 500, 'nothing past the cap but the marker')
    t.same(await containersOfRun(world, run.id), [], 'no container is left')
  })

  t.test('a run past its timeout is stopped: timed_out, no container left', async t => {
    const tarball = await jobTarball(world, 'sleepy', 'echo started; sleep 300')
    const run = await app.startRun(jobDefinition('sleepy', tarball, { timeoutSeconds: 2 }))
    const done = await app.waitFinal(run.id, 120_000)
    t.equal(done.state, 'timed_out', `timed out (error: ${done.error ?? 'none'})`)
    t.match(done.error, /timeout of 2 s/)
    t.same(await containersOfRun(world, run.id), [], 'no container is left')
    const output = (await app.eventsOf(run.id)).filter(event => event.type === 'job.output').map(event => (event.data as { text: string }).text).join('')
    t.match(output, /started/, 'its output until then is kept')
  })

  t.test('a cancel mid-run stops the container: canceled, no container left', async t => {
    const tarball = await jobTarball(world, 'long', 'echo running; sleep 300')
    const run = await app.startRun(jobDefinition('long', tarball, { retries: 2 }))
    await app.waitRun(run.id, r => r.state === 'running' && r.containerId !== undefined, 'running in a container', 120_000)
    t.equal(await app.requestCancel(run.id), 'cancel_requested', 'CancelJobRun asks the runner to stop it')
    const done = await app.waitFinal(run.id, 60_000)
    t.equal(done.state, 'canceled', `canceled (error: ${done.error ?? 'none'})`)
    t.equal(done.attempt, 1, 'a cancel is not retried')
    t.same(await containersOfRun(world, run.id), [], 'no container is left')
    t.equal(await app.taskSettled(run.taskId), 'succeeded', 'the task carrying a canceled run ends without a retry')
  })

  t.test('a non-zero exit is retried per the definition, then the run fails and its task is dead', async t => {
    const tarball = await jobTarball(world, 'failing', 'echo failing; exit 3')
    const run = await app.startRun(jobDefinition('failing', tarball, { retries: 1 }))
    const done = await app.waitFinal(run.id, 120_000)
    t.equal(done.state, 'failed')
    t.equal(done.exitCode, 3)
    t.equal(done.attempt, 2, 'two attempts')
    t.match(done.error, /exited with code 3/)
    const events = await app.eventsOf(run.id)
    t.equal(events.filter(event => event.type === 'job.retrying').length, 1, 'one job.retrying')
    t.equal(events.filter(event => event.type === 'job.started').length, 2, 'two containers started')
    t.equal(await app.taskSettled(run.taskId), 'dead', 'the task ends dead, visible in the DLQ')
    t.same(await containersOfRun(world, run.id), [], 'no container is left')
    t.ok(isFinalRunState(done.state))
  })
}
