import { Job, logger as sidequestLogger } from '@sidequest/core'
import { Engine, type EngineConfig } from '@sidequest/engine'
import type pg from 'pg'
import { connect, dropSchema, freshSchema, POSTGRES_URL } from '../lib/postgres.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'

// Sidequest 1.16 on its Postgres backend (@sidequest/postgres-backend, Knex), tuned per
// its documentation for throughput at the same number of tasks in flight:
// - `maxConcurrentJobs` and the bench queue's `concurrency` = the others' concurrency
//   (50): the dispatcher claims as many jobs as there are free slots in one query.
// - `jobPollingInterval` 10 ms (default 100): "decrease this number if you want lower
//   latency at the cost of higher DB load". The dispatcher polls without sleeping
//   while it finds jobs, but sleeps one interval whenever every slot is busy.
// - `fork: false` and `runner: "inline"`: the engine and the jobs run in this process
//   (the documented mode for single-process setups), so no job pays a hop to a worker
//   thread or a child process; it is also the only mode in which the handler can
//   count its runs in this process.
// - Knex pool max 20 (the README's "advanced usage" shows a pool; its default is 10),
//   a connection acquire waits at most 30 s (Knex's default is 60 s).
// - stale-job release and cleanup routines at their defaults (hourly); no graceful
//   shutdown signal handlers (the bench stops the engine itself).
// Enqueue has no bulk call: one `build(...).enqueue()` per job, a batch's calls
// issued at once. Jobs are claimed in batches, then each is moved to running and to
// completed by one UPDATE each. Its own schema (Knex searchPath) per run, dropped after; completed jobs
// stay in sidequest_jobs (cleanup after 30 days), which is how completion is counted.
// Sidequest keeps its engine in module state: one engine at a time in a process.

const QUEUE = 'bench'

export interface SidequestTuning {
  concurrency: number
  jobPollingInterval: number
  poolMax: number
}

export function sidequestTuning (concurrency: number): SidequestTuning {
  return { concurrency, jobPollingInterval: 10, poolMax: 20 }
}

/**
 * Sidequest logs through a winston Console transport on stdout, where the bench's
 * result line must stand alone: its lines go to stderr. (Its dispatcher can be in the
 * middle of a poll when the engine closes; that poll then waits for a connection of
 * the closed pool and logs an error when the acquire times out.)
 */
function sidequestLogsToStderr (): void {
  const levels = { error: true, warn: true, info: true, http: true, verbose: true, debug: true, silly: true }
  for (const transport of sidequestLogger().transports) {
    if ('stderrLevels' in transport) (transport as { stderrLevels: Record<string, boolean> }).stderrLevels = levels
  }
}

/** what the running bench job reports to; set by the system that runs workers */
let onRun: ((payload: unknown) => void) | null = null

/** the no-op job; its module (this file) is what the runner imports to run it */
export class BenchNoopJob extends Job {
  run (payload: unknown): void {
    onRun?.(payload)
  }
}

/** Sidequest's engine over one of its backends; subclasses say which backend and how its storage is dropped. */
export abstract class SidequestEngineBase {
  protected engine: Engine | null = null
  protected created = false

  constructor (protected readonly tuning: SidequestTuning) {}

  protected abstract backendConfig (): EngineConfig['backend']
  /** drop what setup() created; called only after setup() began */
  protected abstract dropStorage (): Promise<void>

  protected config (): EngineConfig {
    return {
      backend: this.backendConfig(),
      queues: [{ name: QUEUE, concurrency: this.tuning.concurrency }],
      maxConcurrentJobs: this.tuning.concurrency,
      jobPollingInterval: this.tuning.jobPollingInterval,
      fork: false,
      runner: 'inline',
      gracefulShutdown: false,
      logger: { level: 'error', json: false }
    }
  }

  async setup (): Promise<void> {
    if (onRun !== null) throw new Error('sidequest: another Sidequest system is still running in this process')
    this.created = true
    this.engine = new Engine()
    await this.engine.configure(this.config())
    sidequestLogsToStderr()
  }

  protected async start (handler: (payload: unknown) => void): Promise<void> {
    onRun = handler
    await this.engine!.start(this.config())
  }

  protected async closeExtra (): Promise<void> {}

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    if (this.engine !== null) await this.engine.close().catch((err: unknown) => errors.push(err))
    onRun = null
    await this.closeExtra().catch((err: unknown) => errors.push(err))
    this.engine = null
    if (this.created) await this.dropStorage()
    if (errors.length > 0) throw new AggregateError(errors, 'sidequest teardown failed')
  }
}

abstract class SidequestBase extends SidequestEngineBase {
  protected readonly schema = freshSchema('bench_sq')

  protected backendConfig (): EngineConfig['backend'] {
    return {
      driver: '@sidequest/postgres-backend',
      config: { connection: POSTGRES_URL, searchPath: [this.schema], pool: { min: 0, max: this.tuning.poolMax, acquireTimeoutMillis: 30_000 } }
    }
  }

  protected dropStorage (): Promise<void> {
    return dropSchema(this.schema)
  }
}

export class SidequestThroughput extends SidequestBase implements ThroughputSystem {
  readonly label = 'sidequest'
  private checker: pg.Client | null = null

  override async setup (): Promise<void> {
    await super.setup()
    this.checker = await connect()
  }

  protected override async closeExtra (): Promise<void> {
    await this.checker?.end()
    this.checker = null
  }

  async enqueueBatch (from: number, count: number): Promise<void> {
    const engine = this.engine!
    await Promise.all(Array.from({ length: count }, (_, k) => engine.build(BenchNoopJob).queue(QUEUE).enqueue({ i: from + k })))
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  async allDone (expected: number): Promise<boolean> {
    const { rows } = await this.checker!.query<{ done: string, failed: string }>(
      `SELECT count(*) FILTER (WHERE state = 'completed') AS done, count(*) FILTER (WHERE state = 'failed') AS failed FROM "${this.schema}".sidequest_jobs WHERE queue = $1`, [QUEUE])
    if (Number(rows[0]!.failed) > 0) throw new Error(`sidequest: ${rows[0]!.failed} no-op jobs failed`)
    return Number(rows[0]!.done) >= expected
  }
}

export class SidequestLatency extends SidequestBase implements LatencySystem {
  readonly label = 'sidequest'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(payload => onStart((payload as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    await this.engine!.build(BenchNoopJob).queue(QUEUE).enqueue({ sample })
  }
}
