import Database from 'better-sqlite3'
import type { EngineConfig } from '@sidequest/engine'
import { TempDir } from '../lib/temp-dir.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'
import { BenchNoopJob, SidequestEngineBase } from './sidequest.ts'

// Sidequest on its SQLite backend (@sidequest/sqlite-backend 1.16.5, Knex over
// better-sqlite3; 1.16.5 is the only published version and runs here on Sidequest's
// core and backend 1.16.4, the versions of the engine), a database file in a fresh
// temporary directory. Tuned like the Postgres run (see sidequest.ts): the engine and
// jobs inline in this process, `maxConcurrentJobs` and the queue's concurrency = the
// others' concurrency, `jobPollingInterval` 10 ms (default 100). The backend's own
// migrations set WAL mode, busy_timeout 5 s and a 20 MB page cache; `synchronous` stays
// at the WAL default better-sqlite3 builds SQLite with (NORMAL: commits are not
// synced, checkpoints are). Knex' default pool for
// better-sqlite3 (one connection) is kept: SQLite has one writer anyway. No bulk
// enqueue: one `build().enqueue()` per job, a batch's calls issued at once.
// Completion is counted on a second, read-only connection to the same file.

const QUEUE = 'bench'

abstract class SidequestSqliteBase extends SidequestEngineBase {
  protected readonly dir = new TempDir('sidequest')
  protected readonly file = this.dir.file('sidequest.sqlite')

  protected backendConfig (): EngineConfig['backend'] {
    return { driver: '@sidequest/sqlite-backend', config: this.file }
  }

  protected async dropStorage (): Promise<void> {
    this.dir.remove()
  }
}

export class SidequestSqliteThroughput extends SidequestSqliteBase implements ThroughputSystem {
  readonly label = 'sidequest_sqlite'
  private checker: Database.Database | null = null

  async enqueueBatch (from: number, count: number): Promise<void> {
    const engine = this.engine!
    await Promise.all(Array.from({ length: count }, (_, k) => engine.build(BenchNoopJob).queue(QUEUE).enqueue({ i: from + k })))
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  async allDone (expected: number): Promise<boolean> {
    this.checker ??= new Database(this.file, { readonly: true, fileMustExist: true })
    const row = this.checker.prepare(`SELECT count(*) FILTER (WHERE state = 'completed') AS done, count(*) FILTER (WHERE state = 'failed') AS failed FROM sidequest_jobs WHERE queue = ?`).get(QUEUE) as { done: number, failed: number }
    if (row.failed > 0) throw new Error(`sidequest_sqlite: ${row.failed} no-op jobs failed`)
    return row.done >= expected
  }

  protected override async closeExtra (): Promise<void> {
    this.checker?.close()
    this.checker = null
  }
}

export class SidequestSqliteLatency extends SidequestSqliteBase implements LatencySystem {
  readonly label = 'sidequest_sqlite'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(payload => onStart((payload as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    await this.engine!.build(BenchNoopJob).queue(QUEUE).enqueue({ sample })
  }
}
