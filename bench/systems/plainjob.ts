import Database from 'better-sqlite3'
import { better, defineQueue, defineWorker, JobStatus, type Logger, type Queue, type Worker } from 'plainjob'
import { TempDir } from '../lib/temp-dir.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'

// plainjob 0.0.14 on better-sqlite3 12, a database file in a fresh temporary
// directory. Tuned per its README and source:
// - `defineQueue` itself sets WAL mode, `synchronous = 1` (NORMAL: WAL commits are not
//   synced, only checkpoints) and busy_timeout 5 s; nothing to add.
// - a plainjob worker runs one job at a time (claim, run, mark done, next); its
//   README scales out with more worker processes on the same file. In one process,
//   `workers` workers share the connection and interleave while a handler awaits
//   (better-sqlite3 is synchronous). By default there are as many as the others'
//   concurrency (50): measured here, 2,000 no-op jobs ran at a median 2,255/s with
//   50 workers against 1,606/s with 1 and 1,220/s with 8 (busy machine);
//   `--plainjob-workers` sets how many.
// - `pollIntervall` (sic) 10 ms (default 1000): a worker that finds no job sleeps
//   that long; while jobs are pending it never sleeps.
// - `addMany` enqueues a batch in one transaction (its bulk call).
// - maintenance (requeue of timed-out jobs, removal of old done jobs) at its defaults;
//   done jobs stay as rows with status Done, which is how completion is counted.
// Its logger defaults to console (debug lines on stdout, where the result line must
// stand alone): errors go to stderr, the rest is dropped.

const JOB_TYPE = 'bench'

const quietLogger: Logger = {
  error: (message: string) => { process.stderr.write(`plainjob: ${message}\n`) },
  warn: (message: string) => { process.stderr.write(`plainjob: ${message}\n`) },
  info: () => {},
  debug: () => {}
}

export interface PlainjobTuning {
  workers: number
  pollIntervalMs: number
}

export function plainjobTuning (workers: number): PlainjobTuning {
  return { workers, pollIntervalMs: 10 }
}

abstract class PlainjobBase {
  private readonly dir = new TempDir('plainjob')
  private db: Database.Database | null = null
  protected queue: Queue | null = null
  private workers: Worker[] = []
  private running: Array<Promise<void>> = []
  private readonly failures: unknown[] = []

  constructor (protected readonly tuning: PlainjobTuning) {}

  async setup (): Promise<void> {
    this.db = new Database(this.dir.file('plainjob.db'))
    this.queue = defineQueue({ connection: better(this.db), logger: quietLogger })
  }

  protected async start (handler: (data: unknown) => void): Promise<void> {
    for (let w = 0; w < this.tuning.workers; w++) {
      const worker = defineWorker(JOB_TYPE, job => { handler(JSON.parse(job.data)) }, { queue: this.queue!, pollIntervall: this.tuning.pollIntervalMs, logger: quietLogger })
      this.workers.push(worker)
      // start() resolves when the worker stops; an error ends its loop and is reported at teardown
      this.running.push(worker.start().catch((err: unknown) => { this.failures.push(err) }))
    }
  }

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    await Promise.all(this.workers.map(async w => await w.stop().catch((err: unknown) => errors.push(err))))
    await Promise.all(this.running)
    errors.push(...this.failures)
    this.workers = []
    this.running = []
    try { this.queue?.close() } catch (err) { errors.push(err) }
    this.queue = null
    this.db = null
    this.dir.remove()
    if (errors.length > 0) throw new AggregateError(errors, 'plainjob teardown failed')
  }
}

export class PlainjobThroughput extends PlainjobBase implements ThroughputSystem {
  readonly label = 'plainjob'

  async enqueueBatch (from: number, count: number): Promise<void> {
    this.queue!.addMany(JOB_TYPE, Array.from({ length: count }, (_, k) => ({ i: from + k })))
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  async allDone (expected: number): Promise<boolean> {
    const failed = this.queue!.countJobs({ type: JOB_TYPE, status: JobStatus.Failed })
    if (failed > 0) throw new Error(`plainjob: ${failed} no-op jobs failed`)
    return this.queue!.countJobs({ type: JOB_TYPE, status: JobStatus.Done }) >= expected
  }
}

export class PlainjobLatency extends PlainjobBase implements LatencySystem {
  readonly label = 'plainjob'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(data => onStart((data as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    this.queue!.add(JOB_TYPE, { sample })
  }
}
