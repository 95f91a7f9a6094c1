// migrate() on embedded PGlite: a new schema gets every migration in one locked
// transaction; a current one is recognised by one read and left alone, as every
// start on an existing database finds it.
import t from 'tap'
import { createPgliteClient } from './pglite-client.ts'
import { loadMigrations, migrate } from './migrate.ts'

t.test('a new schema gets every version; a current one is read, not migrated again', { timeout: 120_000 }, async t => {
  const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {} })
  t.teardown(() => client.close())
  const versions = loadMigrations().map(m => m.version)
  t.same(await migrate(client, 'sy_migrate_test'), versions, 'all applied on a new schema')
  t.same(await migrate(client, 'sy_migrate_test'), [], 'nothing applied on a current schema')
  const rows = await client.query<{ version: number }>('SELECT version FROM "sy_migrate_test".migrations ORDER BY version')
  t.same(rows.map(r => r.version), versions, 'each version recorded once')
  t.same(await migrate(client, 'sy_migrate_other'), versions, 'another schema in the same database is migrated on its own')
})
