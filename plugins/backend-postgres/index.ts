// @switchyard/backend-postgres: Switchyard's backend on PostgreSQL, over a server
// (pg) or embedded in the process (PGlite).
export { createPostgresBackend, createPostgresBackendFromClient } from './backend.ts'
export { PostgresBackendOptionsSchema, type PostgresBackendOptions } from './options.ts'
export { PGLITE_DATADIR_LOCKED, LOCK_FILE_NAME } from './datadir-lock.ts'
export type { SqlClient, SqlQueryable, SqlParam } from './sql-client.ts'
export { createPgClient, type PgClientOptions } from './pg-client.ts'
export { createPgliteClient, type PgliteClientOptions } from './pglite-client.ts'
export { default } from './plugin.ts'
