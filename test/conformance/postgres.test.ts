// Runs the backend conformance suite against a real Postgres server. Every area gets
// its own schema, dropped afterwards, so concurrent runs never see each other.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import pg from 'pg'
import type { Backend } from '@switchyard/core'
import { runBackendConformance } from '@switchyard/core/testing'
import { createPostgresBackend } from '@switchyard/backend-postgres'

const CONNECTION_STRING = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schemas = new Map<Backend, string>()

async function open (schema: string): Promise<Backend> {
  const backend = createPostgresBackend({ connectionString: CONNECTION_STRING, schema, poolSize: 6 })
  await backend.init()
  return backend
}

async function dropSchema (schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: CONNECTION_STRING, connectionTimeoutMillis: 5_000, statement_timeout: 30_000 })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

runBackendConformance(t, {
  name: 'postgres',
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
    if (schema !== undefined) await dropSchema(schema)
  },
  async connectPeer (backend) {
    const schema = schemas.get(backend)
    if (schema === undefined) throw new Error('connectPeer: not a backend this target created')
    return await open(schema)
  }
})

// With notifications off the backend declares workNotifications false: the suite
// checks that the calls it then cannot serve are refused with UNSUPPORTED_BY_BACKEND.
const quietSchemas = new Map<Backend, string>()
runBackendConformance(t, {
  name: 'postgres (notify off)',
  async create () {
    const schema = `sy_test_${randomBytes(6).toString('hex')}`
    const backend = createPostgresBackend({ connectionString: CONNECTION_STRING, schema, poolSize: 3, notify: false })
    await backend.init()
    quietSchemas.set(backend, schema)
    return backend
  },
  async destroy (backend) {
    const schema = quietSchemas.get(backend)
    quietSchemas.delete(backend)
    await backend.close()
    if (schema !== undefined) await dropSchema(schema)
  }
}, { areas: ['capabilities', 'events'] })
