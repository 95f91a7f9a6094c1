// autovacuum's thresholds as the embedded database's maintenance applies them (no database needed)
import t from 'tap'
import { maintenanceStatements, plannedMaintenance, POSTGRES_AUTOVACUUM_DEFAULTS, thresholdsFromSettings, type TableActivity } from './pglite-vacuum-policy.ts'

const quiet: TableActivity = { schema: 'sy', table: 'tasks', liveTuples: 1000, deadTuples: 0, modifiedSinceAnalyze: 0, insertedSinceVacuum: 0, frozenXidAge: 1000, reloptions: null }

t.test('server settings: read where given, defaults otherwise', async t => {
  const thresholds = thresholdsFromSettings([{ name: 'autovacuum_vacuum_threshold', setting: '10' }, { name: 'autovacuum_vacuum_scale_factor', setting: 'bad' }])
  t.same(thresholds, { ...POSTGRES_AUTOVACUUM_DEFAULTS, vacuumThreshold: 10 })
})

t.test('vacuum by dead tuples: threshold + scale factor * live tuples', async t => {
  const d = POSTGRES_AUTOVACUUM_DEFAULTS
  t.equal(plannedMaintenance(quiet, d), null, 'nothing changed: nothing to do')
  t.equal(plannedMaintenance({ ...quiet, deadTuples: 250 }, d), null, '50 + 0.2 * 1000 = 250 is not over')
  t.match(plannedMaintenance({ ...quiet, deadTuples: 251 }, d), { vacuum: true, analyze: false, deadTuples: 251 })
})

t.test('vacuum by inserts, analyze by changes; -1 turns inserts off', async t => {
  const d = POSTGRES_AUTOVACUUM_DEFAULTS
  t.match(plannedMaintenance({ ...quiet, insertedSinceVacuum: 1201 }, d), { vacuum: true })
  t.equal(plannedMaintenance({ ...quiet, insertedSinceVacuum: 1201 }, { ...d, vacuumInsertThreshold: -1 }), null)
  t.match(plannedMaintenance({ ...quiet, modifiedSinceAnalyze: 151 }, d), { vacuum: false, analyze: true })
  t.equal(plannedMaintenance({ ...quiet, schema: 'pg_catalog', table: 'pg_statistic', modifiedSinceAnalyze: 151 }, d), null, 'never pg_statistic, as autovacuum')
})

t.test("a table's storage parameters override the server's, autovacuum_enabled=false leaves it alone", async t => {
  const d = POSTGRES_AUTOVACUUM_DEFAULTS
  const tasks = { ...quiet, deadTuples: 100, reloptions: ['fillfactor=90', 'autovacuum_vacuum_scale_factor=0.02'] }
  t.match(plannedMaintenance(tasks, d), { vacuum: true }, '50 + 0.02 * 1000 = 70 < 100')
  t.equal(plannedMaintenance({ ...tasks, reloptions: [...tasks.reloptions, 'autovacuum_enabled=false'] }, d), null)
})

t.test('wraparound: a table past the freeze age is vacuumed, even with autovacuum_enabled=false', async t => {
  const d = POSTGRES_AUTOVACUUM_DEFAULTS
  t.match(plannedMaintenance({ ...quiet, frozenXidAge: 200_000_001 }, d), { vacuum: true, analyze: false })
  t.match(plannedMaintenance({ ...quiet, frozenXidAge: 200_000_001, reloptions: ['autovacuum_enabled=false'] }, d), { vacuum: true })
  t.match(plannedMaintenance({ ...quiet, frozenXidAge: 150_001, reloptions: ['autovacuum_freeze_max_age=150000'] }, d), { vacuum: true }, 'a table may lower it')
  t.equal(plannedMaintenance({ ...quiet, frozenXidAge: 250_000_000, reloptions: ['autovacuum_freeze_max_age=300000000'] }, { ...d, freezeMaxAge: 300_000_000 }), null)
  t.match(plannedMaintenance({ ...quiet, frozenXidAge: 250_000_000, reloptions: ['autovacuum_freeze_max_age=300000000'] }, d), { vacuum: true }, 'but not raise it')
})

t.test('statements: plain VACUUM, never FULL, then ANALYZE apart; identifiers quoted', async t => {
  t.same(maintenanceStatements({ schema: 'sy', table: 'tasks', vacuum: true, analyze: true, deadTuples: 1 }), ['VACUUM "sy"."tasks"', 'ANALYZE "sy"."tasks"'])
  t.same(maintenanceStatements({ schema: 'sy', table: 'a"b', vacuum: true, analyze: false, deadTuples: 1 }), ['VACUUM "sy"."a""b"'])
  t.same(maintenanceStatements({ schema: 'sy', table: 'tasks', vacuum: false, analyze: true, deadTuples: 0 }), ['ANALYZE "sy"."tasks"'])
})
