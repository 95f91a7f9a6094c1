import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const POSTGRES_URL = process.env.SWITCHYARD_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** a schema name no concurrent run will pick */
export function freshSchema (prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`
}

export async function connect (): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 10_000, statement_timeout: 120_000 })
  await client.connect()
  return client
}

export async function withClient<T> (use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

export async function dropSchema (schema: string): Promise<void> {
  await withClient(client => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
}

/** Fails early with a clear message instead of deep inside a client library. */
export async function assertPostgresReachable (): Promise<void> {
  try {
    await withClient(client => client.query('SELECT 1'))
  } catch (err) {
    throw new Error(`Postgres at ${POSTGRES_URL} is not reachable (${(err as Error).message}); start it or set SWITCHYARD_BENCH_POSTGRES_URL`)
  }
}
