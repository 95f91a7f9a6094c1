import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { SqlClient } from './sql-client.ts'

// Numbered SQL files, applied in order inside one transaction under an advisory
// lock, so processes that start together do not race each other's DDL; each
// applied version is recorded and never applied twice.

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))

export interface Migration {
  version: number
  name: string
  sql: string
}

export function loadMigrations (): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter(file => /^\d+_[a-z0-9_]+\.sql$/.test(file))
    .map(file => ({
      version: Number.parseInt(file, 10),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(MIGRATIONS_DIR + file, 'utf8')
    }))
    .sort((a, b) => a.version - b.version)
}

export function renderMigration (sql: string, schema: string): string {
  return sql
    .replaceAll('{{schema_literal}}', `'${schema}'`)
    .replaceAll('{{schema}}', `"${schema}"`)
}

/**
 * True when every migration is recorded as applied: read without the lock and the
 * DDL, as a start on an existing database finds it (the locked path below costs a
 * transaction and catalog locks; on PGlite it was most of the time spent migrating).
 * Anything else (no schema yet, a pending version, an error) takes the locked path,
 * which applies what is missing or reports what is wrong.
 */
async function allApplied (client: SqlClient, schema: string, migrations: readonly Migration[]): Promise<boolean> {
  try {
    const rows = await client.query<{ version: number }>(`SELECT version FROM "${schema}".migrations`)
    const applied = new Set(rows.map(r => r.version))
    return migrations.every(migration => applied.has(migration.version))
  } catch {
    return false
  }
}

/** Applies every pending migration; returns the versions applied by this call. */
export async function migrate (client: SqlClient, schema: string): Promise<number[]> {
  const migrations = loadMigrations()
  if (await allApplied(client, schema, migrations)) return []
  return await client.transaction(async tx => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`switchyard.migrate.${schema}`])
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS "${schema}";
      CREATE TABLE IF NOT EXISTS "${schema}".migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );`)
    const rows = await tx.query<{ version: number }>(`SELECT version FROM "${schema}".migrations`)
    const applied = new Set(rows.map(r => r.version))
    const done: number[] = []
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      await tx.exec(renderMigration(migration.sql, schema))
      await tx.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name])
      done.push(migration.version)
    }
    return done
  })
}
