// Runs the backend conformance suite against embedded PGlite. Starting a PGlite
// engine costs seconds, so one in-memory engine serves the whole run and every area
// gets its own schema in it (dropped afterwards) — the same isolation the server
// harness has, and a second backend on the same schema stands in for another node.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { Backend } from '@switchyard/core'
import { runBackendConformance } from '@switchyard/core/testing'
import { createPgliteClient, createPostgresBackendFromClient, type SqlClient } from '@switchyard/backend-postgres'

let engine: Promise<SqlClient> | null = null
const schemas = new Map<Backend, string>()

function sharedEngine (): Promise<SqlClient> {
  engine ??= createPgliteClient({ dataDir: undefined, statementTimeoutMs: 20_000, settings: {} })
  return engine
}

t.teardown(async () => {
  if (engine !== null) await (await engine).close()
})

async function open (schema: string): Promise<Backend> {
  const backend = createPostgresBackendFromClient(await sharedEngine(), { schema })
  await backend.init()
  return backend
}

runBackendConformance(t, {
  name: 'pglite',
  async create () {
    const schema = `sy_test_${randomBytes(6).toString('hex')}`
    const backend = await open(schema)
    schemas.set(backend, schema)
    return backend
  },
  async destroy (backend) {
    const schema = schemas.get(backend)
    schemas.delete(backend)
    await backend.close()
    if (schema !== undefined) await (await sharedEngine()).query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  },
  async connectPeer (backend) {
    const schema = schemas.get(backend)
    if (schema === undefined) throw new Error('connectPeer: not a backend this target created')
    return await open(schema)
  }
})
