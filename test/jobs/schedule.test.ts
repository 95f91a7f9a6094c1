import t from 'tap'
import { makeService, serverBackend, suffix, waitFor } from '../../core/admin/test-support.ts'
import { createScheduler } from '../../core/scheduler/index.ts'
import { registerJobScheduleFactories } from '../../core/jobs/schedule-factory.ts'
import { JobStore } from '../../core/jobs/store.ts'
import { JOB_TASK_HANDLER } from '../../core/jobs/types.ts'

// Jobs are schedule factories (job:<name>) on a real Postgres backend: listed with the
// registered factories, refused for a job that does not exist, and a durable schedule
// of a job queues runs exactly as RunJob does, with trigger schedule:<name>.

const backend = await serverBackend(t)
const scheduler = createScheduler({ backend, options: { autoTick: false, leaderTtlMs: 5_000, misfireGraceMs: 60_000 } })
registerJobScheduleFactories(scheduler.factories, { backend })
t.teardown(async () => { await scheduler.stop() })
const { service } = makeService(t, backend, {}, { scheduler })
const ctx = () => ({ actor: 'CN=admin', requestId: `r-${suffix()}` })
const store = new JobStore(backend)

t.test('a durable schedule of a job queues runs through the run path', async t => {
  const name = `report-${suffix()}`
  const queue = `jobs-${suffix()}`
  await service.UpsertJob({ name, source: 'tarball_url', tarballUrl: 'https://downloads.example/r.tgz', command: [], env: [], queue, retries: 1 }, ctx())

  const factories = await service.ListScheduleFactories({}, ctx())
  t.match(factories.factories.find(f => f.name === `job:${name}`), { durableDefault: true, description: `queues a run of job ${name}` }, 'every stored job is a factory')
  await t.rejects(service.CreateSchedule({ name: `job:missing-${suffix()}`, spec: '* * * * * *' }, ctx()), { code: 'VALIDATION_FAILED', details: { field: 'name' } }, 'no schedule for a job that does not exist')

  // overlap allow: no worker runs the queued runs here, and skip would wait for them
  const created = await service.CreateSchedule({ name: `job:${name}`, spec: '* * * * * *', overlap: 'allow' }, ctx())
  t.equal(created.schedule.durable, true)

  const manual = await service.RunSchedule({ name: `job:${name}` }, ctx())
  const runs = await store.listRuns({ job: name, limit: 10 })
  t.equal(runs.length, 1)
  t.match(runs[0], { state: 'queued', trigger: `schedule:job:${name}`, taskId: manual.taskId, maxAttempts: 2 }, 'RunSchedule queued a run and recorded its task')
  t.match(await backend.getTask(manual.taskId), { handler: JOB_TASK_HANDLER, queue, payload: { runId: runs[0]?.id, job: name } })

  // Durable ticks fire on the leader, once per instant.
  await waitFor(async () => {
    await scheduler.tick()
    const all = await store.listRuns({ job: name, limit: 10 })
    return all.length >= 3 ? all : null
  }, 'two fires of the durable schedule', 10_000)
  const fired = (await store.listRuns({ job: name, limit: 10 })).filter(run => run !== undefined)
  for (const run of fired) {
    t.not(run.taskId, '', `run ${run.id} knows its task`)
    t.equal((await backend.getTask(run.taskId))?.payload && ((await backend.getTask(run.taskId))?.payload as { runId: string }).runId, run.id, 'each task carries its own run')
  }
  t.equal(new Set(fired.map(run => run.taskId)).size, fired.length, 'no two runs share a task')

  await service.DeleteSchedule({ name: `job:${name}` }, ctx())
  await service.DeleteJob({ name }, ctx())
  const orphan = await service.ListScheduleFactories({}, ctx())
  t.notOk(orphan.factories.some(f => f.name === `job:${name}`), 'a deleted job is no factory any more')
})
