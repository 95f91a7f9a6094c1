import type { SqlQueryable } from './sql-client.ts'
import { maintenanceStatements, plannedMaintenance, THRESHOLD_SETTINGS, thresholdsFromSettings, type AutovacuumThresholds, type TableActivity, type TableMaintenance } from './pglite-vacuum-policy.ts'

// The embedded database's autovacuum. PGlite is Postgres in single-user mode: it has
// no autovacuum launcher, so without this the tables Switchyard churns (every lease
// and ack is a non-HOT UPDATE of a tasks row; counters, events, workers, claims) are
// never vacuumed: dead tuples and index entries pile up for the life of the data
// directory and every lease scans past more of them (bench/README.md, "PGlite is
// never vacuumed"). A server has its own autovacuum, so this runs for PGlite only,
// started by pglite-client.ts.
//
// Every checkEveryMs one read of pg_stat_all_tables tells which tables crossed
// autovacuum's thresholds, wraparound's included (pglite-vacuum-policy.ts); those are
// vacuumed, most dead tuples first, one plain VACUUM per table (never FULL, which
// would rewrite the table) and its ANALYZE apart, each a call of its own through the
// client's gate, so it never runs inside a caller's transaction and a lease waits at
// most for one statement. A VACUUM cannot be split: it reads the pages changed since
// the last one and every index of the table in full, so it costs more as the table's
// live rows grow (bench/README.md: about 20 ms a pass with 1,000 tasks pending, about
// 200 ms with 50,000).
// A pass stops at the next table once it has run passBudgetMs, leaving the rest for
// the next check, and stop() ends it after the table being vacuumed.
//
// The check is due every checkEveryMs, by a timer when the process idles and by the
// client's calls (nudge()) when it is busy: with PGlite on the main thread a flood of
// calls answered one after another can keep the event loop from its timers for as
// long as the flood lasts (the gate's once-a-second stats went silent through a whole
// embedded-throughput run), and a flood is when tables churn most.

/** how often the change counters are read */
export const VACUUM_CHECK_EVERY_MS = 10_000
/** a pass starts no further table after this long; the others wait for the next check */
export const VACUUM_PASS_BUDGET_MS = 1_000
/** tables read per check, most dead tuples first */
const MAX_TABLES_PER_CHECK = 200

export interface PgliteVacuumOptions {
  /** default VACUUM_CHECK_EVERY_MS */
  checkEveryMs?: number
  /** default VACUUM_PASS_BUDGET_MS */
  passBudgetMs?: number
  /** told after every check that found work (diagnostics, tests) */
  onPass?: (pass: VacuumPass) => void
}

export interface VacuumPass {
  /** the statements run, in order */
  statements: string[]
  /** the longest of them: how long a lease waited for the connection at most */
  longestMs: number
  /** tables due but left for the next check (the pass ran out of its budget, or stopped) */
  deferred: number
  ms: number
  /** the error that ended the pass early, if one did */
  error?: unknown
}

export interface PgliteVacuum {
  /** one check and its vacuums now (the timer's work; tests) */
  runPass: () => Promise<VacuumPass | null>
  /** a call went through the client: starts a check when one is overdue (cheap: a clock read otherwise) */
  nudge: () => void
  /** no pass starts after this; resolves once a running pass has finished its current table */
  stop: () => Promise<void>
}

interface ActivityRow {
  schemaname: string
  relname: string
  n_live_tup: string | number
  n_dead_tup: string | number
  n_mod_since_analyze: string | number
  n_ins_since_vacuum: string | number
  reloptions: string[] | null
  frozen_xid_age: string | number
}

// pg_stat_all_tables, not _user_: the catalogs need their wraparound vacuums too ($1: the freeze age)
const ACTIVITY_SQL = `SELECT s.schemaname, s.relname, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum, c.reloptions, age(c.relfrozenxid) AS frozen_xid_age
  FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid
  WHERE c.relkind IN ('r', 'm') AND (s.n_dead_tup > 0 OR s.n_mod_since_analyze > 0 OR s.n_ins_since_vacuum > 0 OR age(c.relfrozenxid) > $1)
  ORDER BY s.n_dead_tup DESC LIMIT ${MAX_TABLES_PER_CHECK}`

function activityOf (row: ActivityRow): TableActivity {
  return {
    schema: row.schemaname,
    table: row.relname,
    liveTuples: Number(row.n_live_tup),
    deadTuples: Number(row.n_dead_tup),
    modifiedSinceAnalyze: Number(row.n_mod_since_analyze),
    insertedSinceVacuum: Number(row.n_ins_since_vacuum),
    frozenXidAge: Number(row.frozen_xid_age),
    reloptions: row.reloptions
  }
}

/**
 * Starts vacuuming the database `db` reaches, paced by its change counters. `db` must
 * run each call on its own (not inside a transaction): VACUUM cannot run in one.
 */
export function startPgliteVacuum (db: SqlQueryable, options: PgliteVacuumOptions = {}): PgliteVacuum {
  const checkEveryMs = options.checkEveryMs ?? VACUUM_CHECK_EVERY_MS
  const passBudgetMs = options.passBudgetMs ?? VACUUM_PASS_BUDGET_MS
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let running: Promise<VacuumPass | null> | null = null
  let thresholds: AutovacuumThresholds | null = null
  let warned = false
  let lastCheckAt = performance.now()

  async function serverThresholds (): Promise<AutovacuumThresholds> {
    thresholds ??= thresholdsFromSettings(await db.query<{ name: string, setting: string }>(
      'SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [Object.values(THRESHOLD_SETTINGS)]))
    return thresholds
  }

  async function pass (): Promise<VacuumPass | null> {
    const startedAt = performance.now()
    const statements: string[] = []
    let due: TableMaintenance[] = []
    let done = 0
    let longestMs = 0
    try {
      const server = await serverThresholds()
      const rows = await db.query<ActivityRow>(ACTIVITY_SQL, [server.freezeMaxAge])
      due = rows.map(row => plannedMaintenance(activityOf(row), server)).filter((m): m is TableMaintenance => m !== null)
      if (due.length === 0) return null
      for (const m of due) {
        if (stopped || (done > 0 && performance.now() - startedAt > passBudgetMs)) break
        for (const statement of maintenanceStatements(m)) {
          const at = performance.now()
          await db.exec(statement)
          longestMs = Math.max(longestMs, performance.now() - at)
          statements.push(statement)
        }
        done++
      }
      return { statements, longestMs, deferred: due.length - done, ms: performance.now() - startedAt }
    } catch (error) {
      return { statements, longestMs, deferred: due.length - done, ms: performance.now() - startedAt, error }
    }
  }

  async function runPass (): Promise<VacuumPass | null> {
    if (stopped) return null
    if (running !== null) return await running
    lastCheckAt = performance.now()
    running = pass().finally(() => { running = null })
    const result = await running
    if (result !== null) {
      if (result.error !== undefined && !stopped && !warned) {
        // once: a database that refuses VACUUM would otherwise warn every check
        warned = true
        process.emitWarning(`embedded database maintenance (VACUUM) failed and is retried every ${checkEveryMs} ms: ${(result.error as Error)?.message ?? String(result.error)}`, { code: 'SWITCHYARD_PGLITE_VACUUM' })
      }
      options.onPass?.(result)
    }
    return result
  }

  /** a check now (unless one runs), and the next one checkEveryMs after it */
  function check (): void {
    if (stopped) return
    if (timer !== null) { clearTimeout(timer); timer = null }
    void runPass().finally(schedule)
  }

  function schedule (): void {
    if (stopped) return
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      check()
    }, checkEveryMs)
    timer.unref()
  }
  schedule()

  return {
    runPass,
    nudge () {
      if (!stopped && running === null && performance.now() - lastCheckAt >= checkEveryMs) check()
    },
    async stop () {
      stopped = true
      if (timer !== null) { clearTimeout(timer); timer = null }
      if (running !== null) await running
    }
  }
}
