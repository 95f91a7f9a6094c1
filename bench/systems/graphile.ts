import { Logger, makeWorkerUtils, run, runMigrations, type Runner, type WorkerUtils } from 'graphile-worker'
import type { LatencySystem, ThroughputSystem } from './contract.ts'
import type pg from 'pg'
import { connect, dropSchema, freshSchema, POSTGRES_URL } from '../lib/postgres.ts'

// graphile-worker tuned the way its performance page recommends for throughput:
// a local queue of 500 fetched in one query, batched completion/failure writes,
// concurrency 24 with a pool one larger, bulk addJobs for enqueue, and Node time
// (Node and Postgres share a host clock here, which is the condition for it).

const silent = new Logger(() => () => {})
const TASK = 'noop'

export interface GraphileTuning {
  concurrency: number
  localQueueSize: number
  /** refetchDelay.durationMs; 0 turns refetch delay off */
  refetchDelayMs: number
  pollIntervalMs: number
  completeJobBatchDelay: number
}

export const GRAPHILE_THROUGHPUT_TUNING: GraphileTuning = {
  concurrency: 24,
  localQueueSize: 500,
  refetchDelayMs: 10,
  pollIntervalMs: 100,
  completeJobBatchDelay: 0
}

function workerPreset (schema: string, tuning: GraphileTuning) {
  return {
    worker: {
      connectionString: POSTGRES_URL,
      schema,
      concurrentJobs: tuning.concurrency,
      maxPoolSize: tuning.concurrency + 1,
      pollInterval: tuning.pollIntervalMs,
      useNodeTime: true,
      completeJobBatchDelay: tuning.completeJobBatchDelay,
      failJobBatchDelay: tuning.completeJobBatchDelay,
      localQueue: {
        size: tuning.localQueueSize,
        ...(tuning.refetchDelayMs > 0 ? { refetchDelay: { durationMs: tuning.refetchDelayMs } } : {})
      },
      logger: silent
    }
  }
}

abstract class GraphileBase {
  protected readonly schema = freshSchema('bench_gw')
  protected utils: WorkerUtils | null = null
  protected runner: Runner | null = null
  private created = false

  constructor (protected readonly tuning: GraphileTuning) {}

  async setup (): Promise<void> {
    this.created = true
    const preset = workerPreset(this.schema, this.tuning)
    await runMigrations({ preset })
    this.utils = await makeWorkerUtils({ preset })
  }

  protected async start (handler: (payload: unknown) => void): Promise<void> {
    this.runner = await run({
      preset: workerPreset(this.schema, this.tuning),
      noHandleSignals: true,
      taskList: { [TASK]: async payload => { handler(payload) } }
    })
  }

  protected async closeExtra (): Promise<void> {}

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    if (this.runner !== null) await this.runner.stop().catch((err: unknown) => errors.push(err))
    await this.closeExtra().catch((err: unknown) => errors.push(err))
    if (this.utils !== null) await Promise.resolve().then(() => this.utils?.release()).catch((err: unknown) => errors.push(err))
    this.runner = null
    this.utils = null
    if (this.created) await dropSchema(this.schema)
    if (errors.length > 0) throw new AggregateError(errors, 'graphile-worker teardown failed')
  }
}

export class GraphileThroughput extends GraphileBase implements ThroughputSystem {
  readonly label = 'graphile_worker'
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
    const specs = Array.from({ length: count }, (_, k) => ({ identifier: TASK, payload: { i: from + k } }))
    await this.utils!.addJobs(specs)
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  /** graphile-worker deletes a job when it completes, so an empty table means all done */
  async allDone (): Promise<boolean> {
    const { rows } = await this.checker!.query<{ left: string }>(`SELECT count(*) AS left FROM "${this.schema}"._private_jobs`)
    return Number(rows[0]!.left) === 0
  }
}

export class GraphileLatency extends GraphileBase implements LatencySystem {
  readonly label = 'graphile_worker'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(payload => onStart((payload as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    await this.utils!.addJob(TASK, { sample })
  }
}
