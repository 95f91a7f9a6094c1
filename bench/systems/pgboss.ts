import PgBoss from 'pg-boss'
import type pg from 'pg'
import { connect, dropSchema, freshSchema, POSTGRES_URL } from '../lib/postgres.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'

// pg-boss 10 (the last major that runs on Node 20), tuned per its documentation for
// throughput at the same number of tasks in flight as the other systems:
// - `insert()` for enqueue: its bulk insert, one statement per batch.
// - `work()` called `workers` times: each call adds a polling worker, the documented
//   way to process in parallel; each fetches `batchSize` jobs in one query and hands
//   them to the handler as an array, completed in one statement. workers × batchSize
//   = the concurrency of the others (5 × 10 = 50 by default).
// - `pollingIntervalSeconds` 0.5: the smallest pg-boss accepts. A worker that found
//   jobs fetches again at once only if its batch took longer than the interval, so
//   each worker takes at most `batchSize` jobs per half second.
// - pool `max` 10, as the Switchyard runs use.
// - cron scheduling off (`schedule: false`): the bench has no cron jobs; maintenance
//   (supervise) stays on as in a deployment.
// Its own schema per run, dropped after; completed jobs stay in the job table until
// archived (12 h by default), which is how completion is counted.

const QUEUE = 'bench'

export interface PgBossTuning {
  workers: number
  batchSize: number
  pollingIntervalSeconds: number
  poolMax: number
}

export function pgBossTuning (workers: number, batchSize: number): PgBossTuning {
  return { workers, batchSize, pollingIntervalSeconds: 0.5, poolMax: 10 }
}

abstract class PgBossBase {
  protected readonly schema = freshSchema('bench_pgboss')
  protected boss: PgBoss | null = null
  private created = false
  private failure: unknown = null

  constructor (protected readonly tuning: PgBossTuning) {}

  async setup (): Promise<void> {
    this.created = true
    this.boss = new PgBoss({ connectionString: POSTGRES_URL, schema: this.schema, max: this.tuning.poolMax, schedule: false })
    this.boss.on('error', err => { this.failure ??= err })
    await this.boss.start()
    await this.boss.createQueue(QUEUE)
  }

  protected async start (handler: (data: unknown) => void): Promise<void> {
    for (let w = 0; w < this.tuning.workers; w++) {
      await this.boss!.work(QUEUE, { batchSize: this.tuning.batchSize, pollingIntervalSeconds: this.tuning.pollingIntervalSeconds }, async jobs => {
        for (const job of jobs) handler(job.data)
      })
    }
  }

  protected checkFailure (): void {
    if (this.failure !== null) throw new Error(`pg-boss reported an error: ${(this.failure as Error).message ?? String(this.failure)}`)
  }

  protected async closeExtra (): Promise<void> {}

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    if (this.boss !== null) await this.boss.stop({ graceful: true, timeout: 10_000, wait: true }).catch((err: unknown) => errors.push(err))
    await this.closeExtra().catch((err: unknown) => errors.push(err))
    this.boss = null
    if (this.created) await dropSchema(this.schema)
    if (errors.length > 0) throw new AggregateError(errors, 'pg-boss teardown failed')
  }
}

export class PgBossThroughput extends PgBossBase implements ThroughputSystem {
  readonly label = 'pg_boss'
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
    await this.boss!.insert(Array.from({ length: count }, (_, k) => ({ name: QUEUE, data: { i: from + k } })))
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  async allDone (expected: number): Promise<boolean> {
    this.checkFailure()
    const { rows } = await this.checker!.query<{ done: string, failed: string }>(
      `SELECT count(*) FILTER (WHERE state = 'completed') AS done, count(*) FILTER (WHERE state = 'failed') AS failed FROM "${this.schema}".job WHERE name = $1`, [QUEUE])
    if (Number(rows[0]!.failed) > 0) throw new Error(`pg_boss: ${rows[0]!.failed} no-op jobs failed`)
    return Number(rows[0]!.done) >= expected
  }
}

export class PgBossLatency extends PgBossBase implements LatencySystem {
  readonly label = 'pg_boss'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(data => onStart((data as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    this.checkFailure()
    await this.boss!.send(QUEUE, { sample })
  }
}
