import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { Errors } from '@switchyard/core'
import { PGLITE_DEFAULT_THREAD, type PgliteThread } from './pglite-client.ts'

export const PostgresBackendOptionsSchema = Type.Object({
  connectionString: Type.Optional(Type.String({ minLength: 1, description: 'Postgres server URL; mutually exclusive with embedded' })),
  embedded: Type.Optional(Type.Object({
    dataDir: Type.Optional(Type.String({ minLength: 1, description: 'PGlite data directory; omitted or memory:// keeps the database in memory' })),
    optimizeWasm: Type.Optional(Type.Boolean({ description: "let V8 recompile PGlite's hot WebAssembly functions with its optimizing compiler (default false: baseline code only, which starts faster and keeps about 50 MB less resident; a V8 setting of the whole process)" })),
    thread: Type.Optional(Type.Union([Type.Literal('worker'), Type.Literal('main')], { description: 'where PGlite runs: main (default), the main thread; worker, a thread of its own, so statements do not stop the event loop (more CPU per call and more memory: see the backend README)' }))
  }, { additionalProperties: false })),
  schema: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]{0,39}$', description: 'schema holding every table (default switchyard)' })),
  poolSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: 'pg connections (default 10)' })),
  statementTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'bound on every query (default 10000)' })),
  maxEvents: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'events retained for replay (default 10000)' })),
  notify: Type.Optional(Type.Boolean({ description: 'LISTEN/NOTIFY wake-ups for idle workers and event subscribers (default true)' })),
  asyncCommit: Type.Optional(Type.Boolean({ description: 'lease, ack, extend and release commit without waiting for the WAL flush; a server crash can make such a task run again (default true; a Postgres server only: on PGlite they always commit synchronously)' }))
}, { additionalProperties: false })

export type PostgresBackendOptions = Static<typeof PostgresBackendOptionsSchema>

export interface ResolvedOptions {
  connectionString: string | null
  dataDir: string | undefined
  optimizeWasm: boolean
  /** where PGlite runs (embedded only) */
  thread: PgliteThread
  schema: string
  poolSize: number
  statementTimeoutMs: number
  maxEvents: number
  notify: boolean
  asyncCommit: boolean
}

export const DEFAULT_SCHEMA = 'switchyard'

/** Validates options against the schema; throws VALIDATION_FAILED naming the first bad field. */
export function resolveOptions (options: PostgresBackendOptions): ResolvedOptions {
  const errors = [...Value.Errors(PostgresBackendOptionsSchema, options ?? {})]
  const first = errors[0]
  if (first !== undefined) {
    const field = first.instancePath === '' ? 'options' : `options${first.instancePath.replace(/\//g, '.')}`
    const extra = (first.params as { additionalProperties?: unknown }).additionalProperties
    const detail = Array.isArray(extra) ? `unknown option(s) ${extra.join(', ')}` : first.message
    throw Errors.validation(`backend-postgres ${field}: ${detail}`, { details: { field } })
  }
  if (options.connectionString !== undefined && options.embedded !== undefined) {
    throw Errors.validation('backend-postgres options: give connectionString (a server) or embedded (PGlite), not both', { details: { field: 'options.connectionString' } })
  }
  return {
    connectionString: options.connectionString ?? null,
    dataDir: options.embedded?.dataDir,
    optimizeWasm: options.embedded?.optimizeWasm ?? false,
    thread: options.embedded?.thread ?? PGLITE_DEFAULT_THREAD,
    schema: options.schema ?? DEFAULT_SCHEMA,
    poolSize: options.poolSize ?? 10,
    statementTimeoutMs: options.statementTimeoutMs ?? 10_000,
    maxEvents: options.maxEvents ?? 10_000,
    notify: options.notify ?? true,
    asyncCommit: options.asyncCommit ?? true
  }
}
