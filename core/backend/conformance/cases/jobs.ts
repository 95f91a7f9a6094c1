import { buildJobDefinition } from '../../../jobs/definition.ts'
import { newJobRun } from '../../../jobs/queue-run.ts'
import { JobStore } from '../../../jobs/store.ts'
import { newRunId, type JobDefinition, type JobRun } from '../../../jobs/types.ts'
import { conformanceCaseNeeding, type ConformanceArea } from '../support.ts'

// Job definitions and runs live in the backend's records (collections jobs and
// job_runs): every backend must store them, list definitions by name and runs newest
// first, and keep the runs' compare-and-set, which the runner and CancelJobRun rely on.

const DEFAULTS = { queue: 'default', retries: 0, timeoutSeconds: 600, memoryBytes: 256 * 1024 * 1024, cpus: 1, pids: 128 }

function definition (name: string, now = Date.now()): JobDefinition {
  return buildJobDefinition({ name, source: 'git_tag', repo: 'https://git.example/team/app.git', tag: 'v1.0.0', command: ['make', 'test'], env: ['CI=1'], retries: 2 }, DEFAULTS, now)
}

export const jobsArea: ConformanceArea = {
  name: 'jobs',
  run (t, ctx) {
    const { backend, peer } = ctx
    // job names are lower-case; ctx.name() keeps them unique to this run
    const jobName = (label: string): string => ctx.name(label).toLowerCase().replace(/[^a-z0-9_.-]/g, '-').slice(0, 64)

    conformanceCaseNeeding(t, ctx, ['records'], 'job definitions: upsert, get from another node, list by name, delete', async t => {
      const store = new JobStore(backend)
      const prefix = jobName('defs')
      const names = ['c', 'a', 'b'].map(letter => `${prefix}-${letter}`)
      for (const name of names) await store.putJob(definition(name))
      t.same(await new JobStore(peer).getJob(names[1] as string), definition(names[1] as string, (await store.getJob(names[1] as string))?.createdAt), 'another node reads the same definition')
      const listed = (await store.listJobs(1000)).map(job => job.name).filter(name => name.startsWith(prefix))
      t.same(listed, [...names].sort(), 'listed in name order')
      const afterFirst = (await store.listJobs(1000, names.slice().sort()[0])).map(job => job.name).filter(name => name.startsWith(prefix))
      t.same(afterFirst, [...names].sort().slice(1), 'afterName pages on')
      const changed = { ...definition(names[0] as string), tag: 'v2.0.0' }
      await store.putJob(changed)
      t.equal((await store.getJob(names[0] as string))?.tag, 'v2.0.0', 'an upsert replaces the definition')
      t.equal(await store.deleteJob(names[0] as string), true)
      t.equal(await store.deleteJob(names[0] as string), false, 'deleting again finds nothing')
      t.equal(await store.getJob(names[0] as string), null)
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'job runs: created once, listed newest first, filtered by job', async t => {
      const store = new JobStore(backend)
      const job = definition(jobName('runs'))
      const other = definition(jobName('runs-other'))
      const base = Date.now()
      const runs: JobRun[] = [0, 1, 2].map(i => ({ ...newJobRun(job, 'admin', base + i * 1000), id: newRunId(base + i * 1000) }))
      for (const run of runs) t.equal(await store.createRun(run), true)
      t.equal(await store.createRun(runs[0] as JobRun), false, 'a run id is created once')
      await store.createRun({ ...newJobRun(other, 'admin', base + 500), id: newRunId(base + 500) })
      const listed = await new JobStore(peer).listRuns({ job: job.name, limit: 10 })
      t.same(listed.map(run => run.id), runs.map(run => run.id).reverse(), 'newest first, only the job asked for')
      const page = await store.listRuns({ job: job.name, limit: 10, afterId: listed[0]?.id })
      t.same(page.map(run => run.id), listed.slice(1).map(run => run.id), 'afterId pages on')
      t.match(await store.getRun(runs[1]?.id as string), { job: job.name, state: 'queued', maxAttempts: 3, definition: { tag: 'v1.0.0' } })
    })

    conformanceCaseNeeding(t, ctx, ['records'], 'job runs: compare-and-set updates from two nodes never lose a write', async t => {
      const job = definition(jobName('cas'))
      const run = newJobRun(job, 'admin', Date.now())
      const stores = [new JobStore(backend), new JobStore(peer)]
      await stores[0]?.createRun(run)
      // The runner moves the state while an operator asks to cancel: both changes must land.
      await Promise.all([
        stores[0]?.updateRun(run.id, current => ({ ...current, state: 'running', startedAt: Date.now() })),
        stores[1]?.updateRun(run.id, current => ({ ...current, cancelRequestedAt: Date.now() }))
      ])
      const stored = await stores[0]?.getRun(run.id)
      t.equal(stored?.state, 'running', 'the runner\'s change is kept')
      t.type(stored?.cancelRequestedAt, 'number', 'the cancel request is kept')
      const untouched = await stores[1]?.updateRun(run.id, () => null)
      t.same(untouched, stored, 'a change that returns null writes nothing and answers the stored run')
      t.equal(await stores[0]?.updateRun(`${run.id}-missing`, current => current), null, 'a missing run answers null')
      t.equal(await stores[1]?.deleteRun(run.id), true)
    })
  }
}
