// The container job tests' world: podman's Docker API on a socket of the test's own,
// the small BusyBox job base image, a Postgres schema of the test's own, and a
// Switchyard whose worker runs jobs through the runtime-docker plugin from tarballs in
// a directory of the test's own (the job-source-tarball plugin's tarball_path).
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import * as tar from 'tar'
import { createSwitchyard, type Switchyard } from '../../core/app.ts'
import type { StoredEvent } from '../../core/backend/types.ts'
import { loadConfig } from '../../core/config/load.ts'
import { JobEvents } from '../../core/jobs/events.ts'
import type { JobRunnerOptions } from '../../core/jobs/runner-options.ts'
import { JobStore, isFinalRunState } from '../../core/jobs/store.ts'
import { RUN_LABEL, type JobRun } from '../../core/jobs/types.ts'
import type { CallContext } from '../../core/admin/types.ts'
import type { RequestOf } from '../../core/contract/rpcs.ts'
import { dropSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { ensureJobBaseImage, podmanMissing, startPodmanService, type PodmanService } from '../support/podman.ts'

export const JOB_QUEUE = 'jobs'

export { podmanMissing }

export interface JobWorld {
  dir: string
  schema: string
  podman: PodmanService
  socketPath: string
  baseImage: string
  /** writes the config of a Switchyard of this world (for processes spawned by the test too) */
  configFile: (name: string, extraPlugins?: string[]) => Promise<string>
}

/** podman service, base image, schema and directory; all removed when `t` ends */
export async function jobWorld (t: Test): Promise<JobWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-jobs-'))
  const schema = `sy_jobs_${randomBytes(6).toString('hex')}`
  const podman = await startPodmanService()
  t.teardown(async () => {
    await podman.close()
    await dropSchema(schema).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  const baseImage = await ensureJobBaseImage(podman.env)
  const socketPath = (podman.docker.modem as unknown as { socketPath: string }).socketPath
  const configFile = async (name: string, extraPlugins: string[] = []): Promise<string> => {
    const file = join(dir, `${name}.yaml`)
    await writeFile(file, [
      'plugins:',
      '  - name: backend-postgres',
      `    options: { connectionString: "${TEST_POSTGRES_URL}", schema: ${schema} }`,
      '  - name: "@switchyard/runtime-docker"',
      `    options: { socketPath: "${socketPath}", stopGrace: 2s }`,
      '  - name: job-source-tarball',
      `    options: { dir: "${join(dir, 'tarballs')}" }`,
      ...extraPlugins,
      'queues:',
      `  ${JOB_QUEUE}: { weight: 1 }`,
      'worker:',
      `  queues: [${JOB_QUEUE}]`,
      '  concurrency: 4',
      '  pollInterval: 100ms',
      '  leaseTimeout: 4s',
      '  leaseRenewInterval: 1s',
      '  recoveryInterval: 500ms',
      '  heartbeatInterval: 500ms',
      '  shutdownGrace: 1s',
      '  retry: { baseDelay: 10ms, maxDelay: 50ms }',
      'scheduler: { enabled: false }',
      `jobs: { workdir: "${join(dir, 'work')}" }`,
      'log: { level: warn }',
      ''
    ].join('\n'))
    return file
  }
  return { dir, schema, podman, socketPath, baseImage, configFile }
}

/** a tarball under the world's directory: a Dockerfile FROM the base image running `script`, and `files` */
export async function jobTarball (world: JobWorld, name: string, script: string, files: Record<string, string> = {}): Promise<string> {
  const context = join(world.dir, 'sources', name)
  await mkdir(context, { recursive: true })
  await writeFile(join(context, 'Dockerfile'), `FROM ${world.baseImage}\nCOPY job.sh /job.sh\nCMD ["sh", "/job.sh"]\n`)
  // the world's directory in the script makes the source (and so its image) new to this test run
  await writeFile(join(context, 'job.sh'), `# ${world.dir}\n${script}\n`)
  for (const [file, content] of Object.entries(files)) await writeFile(join(context, file), content)
  const tarballs = join(world.dir, 'tarballs')
  await mkdir(tarballs, { recursive: true })
  const file = join(tarballs, `${name}.tar.gz`)
  await tar.create({ gzip: true, cwd: context, file, portable: true }, await readdir(context))
  return file
}

/** an UpsertJob request for a job built from `tarball` (a path inside the world's tarball directory) */
export function jobDefinition (name: string, tarball: string, overrides: Partial<RequestOf<'UpsertJob'>> = {}): RequestOf<'UpsertJob'> {
  return {
    name,
    description: `test job ${name}`,
    source: 'tarball_path',
    tarballPath: tarball,
    queue: JOB_QUEUE,
    retries: 0,
    timeoutSeconds: 60,
    resources: { memory: '64mb', cpus: 1, pids: 64 },
    command: [],
    env: [],
    ...overrides
  } as RequestOf<'UpsertJob'>
}

export interface JobApp {
  sy: Switchyard
  store: JobStore
  events: JobEvents
  /** stores the definition (UpsertJob) and queues a run of it (RunJob) */
  startRun: (definition: RequestOf<'UpsertJob'>) => Promise<JobRun>
  /** CancelJobRun */
  requestCancel: (runId: string) => Promise<string>
  waitRun: (runId: string, until: (run: JobRun) => boolean, what: string, timeoutMs?: number) => Promise<JobRun>
  waitFinal: (runId: string, timeoutMs?: number) => Promise<JobRun>
  eventsOf: (runId: string) => Promise<StoredEvent[]>
  /** the state of a task once it is no longer leased (acks are written in batches, after the run record) */
  taskSettled: (taskId: string) => Promise<string>
}

/** a Switchyard of the world, started; closed when `t` ends */
export async function jobApp (t: Test, world: JobWorld, runner: Partial<JobRunnerOptions> = {}, app: { worker?: boolean, extraPlugins?: string[] } = {}): Promise<JobApp> {
  const loaded = await loadConfig({ file: await world.configFile(`app-${randomBytes(3).toString('hex')}`, app.extraPlugins), env: {} })
  const sy = await createSwitchyard({ loaded, demo: false, ...(app.worker === false ? { worker: false } : {}), jobRunner: { cancelPollMs: 200, reapIntervalMs: 1000, ...runner } })
  t.teardown(async () => { await sy.close() })
  await sy.start()
  const store = new JobStore(sy.backend)
  const events = new JobEvents(sy.backend, null)
  const waitRun = async (runId: string, until: (run: JobRun) => boolean, what: string, timeoutMs = 60_000): Promise<JobRun> => {
    const deadline = Date.now() + timeoutMs
    let last: JobRun | null = null
    for (;;) {
      last = await store.getRun(runId)
      if (last !== null && until(last)) return last
      if (last !== null && isFinalRunState(last.state)) throw new Error(`run ${runId} ended ${last.state} before it was ${what}: ${JSON.stringify(last)}`)
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for run ${runId} to be ${what}; it is ${JSON.stringify(last)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  return {
    sy,
    store,
    events,
    async startRun (definition) {
      await sy.admin.UpsertJob(definition, call())
      const { run } = await sy.admin.RunJob({ name: definition.name }, call())
      return await store.getRun(run.id) as JobRun
    },
    async requestCancel (runId) {
      return (await sy.admin.CancelJobRun({ runId }, call())).outcome
    },
    waitRun,
    waitFinal: async (runId, timeoutMs) => await waitRun(runId, r => isFinalRunState(r.state), 'final', timeoutMs),
    // A run's record turns final just before its job.finished event is appended: once
    // the run is final, wait (bounded) for that event so a test reads the whole story.
    async eventsOf (runId) {
      const deadline = Date.now() + 10_000
      for (;;) {
        const list = await events.list({ runId, limit: 10_000 })
        const run = await store.getRun(runId)
        const final = run !== null && isFinalRunState(run.state)
        if (!final || list.some(event => event.type === 'job.finished') || Date.now() > deadline) return list
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    },
    async taskSettled (taskId) {
      const deadline = Date.now() + 30_000
      for (;;) {
        const task = await sy.backend.getTask(taskId)
        if (task !== null && task.state !== 'processing') return task.state
        if (Date.now() > deadline) return `still ${task?.state ?? 'missing'} after 30 s`
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
  }
}

let calls = 0
function call (): CallContext {
  return { actor: 'CN=job-tests', requestId: `job-tests-${++calls}` }
}

/** containers of a run as the engine lists them (running or not), straight from its API */
export async function containersOfRun (world: JobWorld, runId: string): Promise<string[]> {
  const list = await world.podman.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } })
  return list.map(container => container.Id)
}
