// The job runner's overhead on a container engine (podman's Docker API), in one run:
//   1. RunJob → the run's final state (job.finished is appended with it), for a job
//      whose image is cached, against starting the same image directly through the
//      same Docker API (create with the same hardening, start, wait, read the logs,
//      remove), runs taking turns;
//      p50 of --runs (20) each, ratio printed (target ≤ 1.3×);
//   2. --queued (20) runs queued at once, worker concurrency 4: all finish, and no
//      container of theirs is left behind.
// The Switchyard is a worker on a Postgres server (fresh schema, dropped after) with
// the runtime-docker plugin; the job's source is a tarball in a local directory
// (job-source-tarball, tarball_path): each run copies, checks and unpacks it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tar from 'tar'
import { createSwitchyard, type Switchyard } from '../core/app.ts'
import { loadConfig } from '../core/config/load.ts'
import type { CallContext } from '../core/admin/types.ts'
import type { RequestOf } from '../core/contract/rpcs.ts'
import { JobEvents } from '../core/jobs/events.ts'
import { JobStore, isFinalRunState } from '../core/jobs/store.ts'
import { RUN_LABEL, type JobRun } from '../core/jobs/types.ts'
import { ensureJobBaseImage, podmanMissing, startPodmanService, type PodmanService } from '../test/support/podman.ts'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { assertPostgresReachable, dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'
import { progress, ratio, round } from './lib/report.ts'
import { summarize } from './lib/stats.ts'
import type { BenchResult } from './lib/types.ts'

const TARGET_RATIO = 1.3
const QUEUE = 'bench-jobs'
const POLL_MS = 5

interface Bench {
  sy: Switchyard
  store: JobStore
  events: JobEvents
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('job-run', args, {
    runs: { type: 'string' },
    queued: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    timeout: { type: 'string', default: '600000' }
  })
  const smoke = flags.smoke === true
  const runs = positiveInteger('runs', (flags.runs as string | undefined) ?? (smoke ? '3' : '20'))
  const queued = positiveInteger('queued', (flags.queued as string | undefined) ?? (smoke ? '4' : '20'))
  const concurrency = positiveInteger('concurrency', flags.concurrency as string)
  const timeoutMs = positiveInteger('timeout', flags.timeout as string)

  const missing = await podmanMissing()
  if (missing !== null) throw new Error(`job-run needs podman: ${missing}`)
  await assertPostgresReachable()

  const dir = await mkdtemp(join(tmpdir(), 'sy-bench-jobs-'))
  const schema = freshSchema('bench_jobs')
  progress('starting podman system service')
  const podman = await startPodmanService()
  let sy: Switchyard | null = null
  try {
    const baseImage = await ensureJobBaseImage(podman.env)
    const context = join(dir, 'sources', 'hello')
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), `FROM ${baseImage}\nCMD ["echo", "hello from a job"]\n`)
    const tarballs = join(dir, 'tarballs')
    await mkdir(tarballs)
    const tarball = join(tarballs, 'hello.tar.gz')
    await tar.create({ gzip: true, cwd: context, file: tarball, portable: true }, ['Dockerfile'])

    const socketPath = (podman.docker.modem as unknown as { socketPath: string }).socketPath
    const configFile = join(dir, 'switchyard.yaml')
    await writeFile(configFile, [
      'plugins:',
      '  - name: backend-postgres',
      `    options: { connectionString: "${POSTGRES_URL}", schema: ${schema} }`,
      '  - name: "@switchyard/runtime-docker"',
      `    options: { socketPath: "${socketPath}", stopGrace: 2s }`,
      '  - name: job-source-tarball',
      `    options: { dir: "${tarballs}" }`,
      `queues: { ${QUEUE}: { weight: 1 } }`,
      `worker: { queues: [${QUEUE}], concurrency: ${concurrency}, pollInterval: 50ms }`,
      'scheduler: { enabled: false }',
      'retention: { enabled: false }',
      `jobs: { workdir: "${join(dir, 'work')}" }`,
      'log: { level: warn }',
      ''
    ].join('\n'))
    sy = await createSwitchyard({ loaded: await loadConfig({ file: configFile, env: {} }), demo: false })
    await sy.start()
    const bench: Bench = { sy, store: new JobStore(sy.backend), events: new JobEvents(sy.backend, null) }
    const definition = jobDefinition('bench-hello', tarball)
    await sy.admin.UpsertJob(definition, call())

    progress('building the job image (the first run)')
    const first = await runToEnd(bench, definition.name, timeoutMs)
    if (first.state !== 'succeeded' || first.imageId === undefined) throw new Error(`the first run did not succeed: ${JSON.stringify(first)}`)
    const imageId = first.imageId
    const create = hardenedCreateOptions(imageId)
    await directRun(podman, create) // warm-up of the direct path

    progress(`${runs} cached-image runs through RunJob, and ${runs} direct container runs, taking turns`)
    const jobMs: number[] = []
    const directMs: number[] = []
    const phaseMs: Record<Phase, number[]> = { queued: [], fetch: [], image: [], container: [] }
    for (let i = 0; i < runs; i++) {
      const startedAt = Date.now()
      const started = performance.now()
      const done = await runToEnd(bench, definition.name, timeoutMs)
      const elapsed = performance.now() - started
      if (done.state !== 'succeeded' || done.imageCached !== true || done.attempt !== 1) throw new Error(`run ${done.id} did not succeed from the cache: ${JSON.stringify(done)}`)
      jobMs.push(elapsed)
      for (const [phase, ms] of Object.entries(await phasesOf(bench, done.id, startedAt))) phaseMs[phase as Phase].push(ms)
      directMs.push(await directRun(podman, create))
    }
    const job = summarize(jobMs)
    const direct = summarize(directMs)
    const phases = Object.fromEntries(Object.entries(phaseMs).map(([phase, samples]) => [phase, summarize(samples).p50]))
    progress(`p50 per phase (ms): ${JSON.stringify(phases)}`)
    const overhead = ratio(job.p50, direct.p50)
    progress(`RunJob→run finished p50 ${job.p50} ms, direct container p50 ${direct.p50} ms: ${String(overhead)}× (target ≤ ${TARGET_RATIO}×)`)

    progress(`${queued} runs queued at once, worker concurrency ${concurrency}`)
    const burstStarted = performance.now()
    const burst = await Promise.all(Array.from({ length: queued }, async () => await queueRun(bench, definition.name)))
    const finished = await Promise.all(burst.map(async (runId) => await waitFinal(bench, runId, timeoutMs)))
    const burstMs = performance.now() - burstStarted
    const states: Record<string, number> = {}
    for (const done of finished) states[done.state] = (states[done.state] ?? 0) + 1
    const ids = new Set(finished.map(done => done.id))
    const left = (await podman.docker.listContainers({ all: true, filters: { label: [RUN_LABEL] } }))
      .filter(container => ids.has(container.Labels[RUN_LABEL] ?? ''))
    progress(`${queued} runs finished in ${round(burstMs, 0)} ms (${JSON.stringify(states)}); containers left: ${left.length}`)
    if (left.length > 0) throw new Error(`${left.length} containers of the queued runs were left behind`)
    if (states.succeeded !== queued || finished.some(done => done.attempt !== 1)) throw new Error(`not every queued run succeeded: ${JSON.stringify(states)}`)

    return {
      results: {
        smoke,
        runs,
        engine: 'podman (Docker-compatible API)',
        run_job_to_finished_ms: job,
        direct_container_ms: direct,
        run_job_phases_p50_ms: phases,
        target_ratio: TARGET_RATIO,
        within_target: overhead !== null && overhead <= TARGET_RATIO,
        queued: { runs: queued, concurrency, total_ms: round(burstMs, 1), states, containers_left: left.length }
      },
      ratios: { run_job_vs_direct_p50: overhead }
    }
  } finally {
    await sy?.close().catch((err: unknown) => progress(`closing the app failed: ${String(err)}`))
    await podman.close()
    await dropSchema(schema).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

function jobDefinition (name: string, tarball: string): RequestOf<'UpsertJob'> {
  return {
    name,
    description: 'job-run benchmark',
    source: 'tarball_path',
    tarballPath: tarball,
    queue: QUEUE,
    // an engine hiccup during the one build is retried; measured runs must succeed at once
    retries: 1,
    timeoutSeconds: 120,
    resources: { memory: '64mb', cpus: 1, pids: 64 },
    command: [],
    env: []
  }
}

let calls = 0
function call (): CallContext {
  return { actor: 'CN=bench', requestId: `bench-${++calls}` }
}

/** RunJob: a queued run record, its durable task, job.queued */
async function queueRun (bench: Bench, name: string): Promise<string> {
  return (await bench.sy.admin.RunJob({ name }, call())).run.id
}

async function waitFinal (bench: Bench, runId: string, timeoutMs: number): Promise<JobRun> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const current = await bench.store.getRun(runId)
    if (current !== null && isFinalRunState(current.state)) return current
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish within ${timeoutMs} ms: ${JSON.stringify(current)}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

type Phase = 'queued' | 'fetch' | 'image' | 'container'

/** where a run's time went, from its job.* events: RunJob → fetching → fetched → built → started → finished */
async function phasesOf (bench: Bench, runId: string, startedAt: number): Promise<Record<Phase, number>> {
  // job.finished is appended just after the run record turns final
  const deadline = Date.now() + 5_000
  let events = await bench.events.list({ runId, limit: 1000 })
  while (!events.some(event => event.type === 'job.finished') && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
    events = await bench.events.list({ runId, limit: 1000 })
  }
  const at = (type: string): number => events.find(event => event.type === type)?.time ?? Number.NaN
  return {
    queued: at('job.fetching') - startedAt,
    fetch: at('job.fetched') - at('job.fetching'),
    image: at('job.built') - at('job.fetched'),
    container: at('job.finished') - at('job.started')
  }
}

async function runToEnd (bench: Bench, name: string, timeoutMs: number): Promise<JobRun> {
  return await waitFinal(bench, await queueRun(bench, name), timeoutMs)
}

/** the create options the runtime uses for a job (runtime-docker's hardening), for the direct runs */
function hardenedCreateOptions (image: string): Record<string, unknown> {
  const memory = 64 * 1024 * 1024
  return {
    Image: image,
    User: '65534:65534',
    Labels: { 'io.switchyard.bench': 'direct' },
    HostConfig: {
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=67108864' },
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: 1e9,
      PidsLimit: 64,
      NetworkMode: 'none'
    }
  }
}

/** create, start, wait, read the logs, remove: ms from the create call to the removal */
async function directRun (podman: PodmanService, create: Record<string, unknown>): Promise<number> {
  const started = performance.now()
  const container = await podman.docker.createContainer(create)
  try {
    await container.start()
    const exit = await container.wait() as { StatusCode: number }
    const logs = await container.logs({ stdout: true, stderr: true, follow: false })
    if (exit.StatusCode !== 0 || !logs.toString().includes('hello from a job')) throw new Error(`the direct run failed: exit ${exit.StatusCode}`)
  } finally {
    await container.remove({ force: true })
  }
  return performance.now() - started
}
