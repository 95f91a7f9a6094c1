// Which tables the embedded database's maintenance vacuums or analyzes, and when:
// autovacuum's own rule (postgresql.org/docs/current/routine-vacuuming.html#AUTOVACUUM),
// applied by pglite-vacuum.ts because single-user Postgres (PGlite) has no autovacuum
// launcher. Pure policy, kept apart from the I/O so it is tested without a database.
//
//   vacuum  when dead tuples      > vacuum_threshold        + vacuum_scale_factor        * live tuples
//           or inserts since the last vacuum > vacuum_insert_threshold + vacuum_insert_scale_factor * live tuples
//           or age(relfrozenxid) > freeze_max_age (wraparound: a catalog or a quiet table
//              is never vacuumed otherwise, and at about 2^31 transactions Postgres refuses
//              writes until it is; a busy embedded worker runs ~2 transactions a task)
//   analyze when rows changed since the last analyze > analyze_threshold + analyze_scale_factor * live tuples
//
// The thresholds are the server's autovacuum_* settings, overridden per table by the
// storage parameters of the same names (the tasks table sets its scale factors in
// migration 001), and `autovacuum_enabled = false` on a table leaves it alone, as on a
// server: an operator tunes the embedded database the way they would tune a server.

export interface AutovacuumThresholds {
  vacuumThreshold: number
  vacuumScaleFactor: number
  /** -1 turns insert-driven vacuums off, as on a server */
  vacuumInsertThreshold: number
  vacuumInsertScaleFactor: number
  analyzeThreshold: number
  analyzeScaleFactor: number
  freezeMaxAge: number
}

/** Postgres' defaults, used for any setting the database does not answer */
export const POSTGRES_AUTOVACUUM_DEFAULTS: Readonly<AutovacuumThresholds> = {
  vacuumThreshold: 50,
  vacuumScaleFactor: 0.2,
  vacuumInsertThreshold: 1000,
  vacuumInsertScaleFactor: 0.2,
  analyzeThreshold: 50,
  analyzeScaleFactor: 0.1,
  freezeMaxAge: 200_000_000
}

/** the server setting (pg_settings.name) and table storage parameter behind each threshold */
export const THRESHOLD_SETTINGS: Readonly<Record<keyof AutovacuumThresholds, string>> = {
  vacuumThreshold: 'autovacuum_vacuum_threshold',
  vacuumScaleFactor: 'autovacuum_vacuum_scale_factor',
  vacuumInsertThreshold: 'autovacuum_vacuum_insert_threshold',
  vacuumInsertScaleFactor: 'autovacuum_vacuum_insert_scale_factor',
  analyzeThreshold: 'autovacuum_analyze_threshold',
  analyzeScaleFactor: 'autovacuum_analyze_scale_factor',
  freezeMaxAge: 'autovacuum_freeze_max_age'
}

/** one row of pg_stat_user_tables (and the table's reloptions) as the maintenance reads it */
export interface TableActivity {
  schema: string
  table: string
  liveTuples: number
  deadTuples: number
  modifiedSinceAnalyze: number
  insertedSinceVacuum: number
  /** age(pg_class.relfrozenxid): transactions since the table was last frozen */
  frozenXidAge: number
  /** pg_class.reloptions: 'name=value' strings, or null */
  reloptions: readonly string[] | null
}

export interface TableMaintenance {
  schema: string
  table: string
  vacuum: boolean
  analyze: boolean
  deadTuples: number
}

function parseNumber (text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  return Number.isFinite(value) ? value : undefined
}

/** the server's thresholds from pg_settings rows (name, setting); unknown or bad values keep the defaults */
export function thresholdsFromSettings (rows: ReadonlyArray<{ name: string, setting: string }>): AutovacuumThresholds {
  const byName = new Map(rows.map(row => [row.name, row.setting]))
  const thresholds = { ...POSTGRES_AUTOVACUUM_DEFAULTS }
  for (const key of Object.keys(THRESHOLD_SETTINGS) as Array<keyof AutovacuumThresholds>) {
    thresholds[key] = parseNumber(byName.get(THRESHOLD_SETTINGS[key])) ?? thresholds[key]
  }
  return thresholds
}

function tableOptions (reloptions: readonly string[] | null): Map<string, string> {
  const options = new Map<string, string>()
  for (const option of reloptions ?? []) {
    const at = option.indexOf('=')
    if (at > 0) options.set(option.slice(0, at).toLowerCase(), option.slice(at + 1))
  }
  return options
}

function isPgStatistic (activity: TableActivity): boolean {
  return activity.schema === 'pg_catalog' && activity.table === 'pg_statistic'
}

/** What one table needs now, or null when it needs nothing (or its autovacuum is off). */
export function plannedMaintenance (activity: TableActivity, server: AutovacuumThresholds): TableMaintenance | null {
  const options = tableOptions(activity.reloptions)
  const t = { ...server }
  for (const key of Object.keys(THRESHOLD_SETTINGS) as Array<keyof AutovacuumThresholds>) {
    t[key] = parseNumber(options.get(THRESHOLD_SETTINGS[key])) ?? t[key]
  }
  // a table may only lower the server's freeze age, as on a server
  const byAge = activity.frozenXidAge > Math.min(t.freezeMaxAge, server.freezeMaxAge)
  // as on a server, autovacuum_enabled = false does not stop a wraparound vacuum
  if (/^(false|off|no|0)$/i.test(options.get('autovacuum_enabled') ?? '')) {
    return byAge ? { schema: activity.schema, table: activity.table, vacuum: true, analyze: false, deadTuples: activity.deadTuples } : null
  }
  const live = Math.max(0, activity.liveTuples)
  const byDead = activity.deadTuples > t.vacuumThreshold + t.vacuumScaleFactor * live
  const byInserts = t.vacuumInsertThreshold >= 0 && activity.insertedSinceVacuum > t.vacuumInsertThreshold + t.vacuumInsertScaleFactor * live
  // as autovacuum: never ANALYZE pg_statistic (its own statistics are written into it,
  // so it would be due again after every ANALYZE, forever)
  const analyze = !isPgStatistic(activity) && activity.modifiedSinceAnalyze > t.analyzeThreshold + t.analyzeScaleFactor * live
  const vacuum = byDead || byInserts || byAge
  if (!vacuum && !analyze) return null
  return { schema: activity.schema, table: activity.table, vacuum, analyze, deadTuples: activity.deadTuples }
}

function quoteIdentifier (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * The statements for one table's maintenance, each a call of its own at the gate so a
 * lease can go between them: a plain VACUUM (never FULL), then ANALYZE when due.
 */
export function maintenanceStatements (m: TableMaintenance): string[] {
  const target = `${quoteIdentifier(m.schema)}.${quoteIdentifier(m.table)}`
  const statements: string[] = []
  if (m.vacuum) statements.push(`VACUUM ${target}`)
  if (m.analyze) statements.push(`ANALYZE ${target}`)
  return statements
}
