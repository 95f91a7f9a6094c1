import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { NewTask } from '@switchyard/core'

// Shared by this package's tests: a private schema per run on the real server.

export const TEST_POSTGRES_URL = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export function testSchema (): string {
  return `sy_test_${randomBytes(6).toString('hex')}`
}

export async function withRawClient<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000, statement_timeout: 30_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export async function dropSchema (schema: string): Promise<void> {
  await withRawClient(async c => { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) })
}

export function task (queue: string, overrides: Partial<NewTask> = {}): NewTask {
  return { queue, handler: 'test.handler', payload: {}, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null, ...overrides }
}

/** polls until check returns a truthy value or the deadline passes */
export async function waitUntil<T> (check: () => Promise<T | false | null | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== false && value !== null && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
