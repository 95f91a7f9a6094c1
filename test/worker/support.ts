import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createPgliteClient, createPostgresBackend, createPostgresBackendFromClient, type SqlClient } from '@switchyard/backend-postgres'
import type { Backend, NewTask } from '../../core/backend/types.ts'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask, type EnqueueInput } from '../../core/tasks/enqueue.ts'
import { silentLogger, type Logger } from '../../core/worker/logger.ts'

export type BackendKind = 'postgres' | 'pglite'

export const POSTGRES_URL = process.env.SWITCHYARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestBackend {
  backend: Backend
  kind: BackendKind
  schema: string
  /** a second client of the same storage (another node); for PGlite, the same backend */
  connectPeer (): Promise<Backend>
  /** a backend on a fresh schema of the same storage, for cases that must see no other case's tasks */
  sibling (): Promise<Backend>
  /** closes every client and drops the schemas */
  destroy (): Promise<void>
}

export function randomSchema (): string {
  return `sy_test_${randomBytes(5).toString('hex')}`
}

/**
 * A fresh, initialised backend on its own schema. PGlite backends share one
 * in-memory database per TestBackend (one schema each), since starting the
 * engine is the slow part.
 */
export async function openTestBackend (kind: BackendKind): Promise<TestBackend> {
  const opened: Backend[] = []
  const schemas: string[] = []
  let pglite: SqlClient | null = null
  async function open (schema: string, peer = false): Promise<Backend> {
    let backend: Backend
    if (kind === 'postgres') {
      backend = createPostgresBackend({ connectionString: POSTGRES_URL, schema, poolSize: 4 })
    } else {
      pglite ??= await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 10_000, settings: {} })
      backend = createPostgresBackendFromClient(pglite, { schema })
    }
    await backend.init()
    opened.push(backend)
    if (!peer) schemas.push(schema)
    return backend
  }
  const schema = randomSchema()
  const backend = await open(schema)
  return {
    backend,
    kind,
    schema,
    connectPeer: async () => kind === 'postgres' ? await open(schema, true) : backend,
    sibling: async () => await open(randomSchema()),
    async destroy () {
      for (const b of opened.reverse()) await b.close()
      if (pglite !== null) await pglite.close()
      if (kind === 'postgres') for (const s of schemas) await dropSchema(s)
    }
  }
}

export async function withPg<T> (use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

export async function dropSchema (schema: string): Promise<void> {
  await withPg(client => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
}

export function task (input: EnqueueInput): NewTask {
  return normalizeNewTask(input, DEFAULT_TASK_DEFAULTS)
}

export async function enqueueMany (backend: Backend, count: number, input: (i: number) => EnqueueInput): Promise<string[]> {
  const ids: string[] = []
  for (let start = 0; start < count; start += 500) {
    const batch = Array.from({ length: Math.min(500, count - start) }, (_, i) => task(input(start + i)))
    ids.push(...(await backend.enqueue(batch)).map(r => r.id))
  }
  return ids
}

/** Polls until check() is truthy; the poll interval is the only delay, the deadline fails the test. */
export async function waitFor<T> (check: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** A promise with its resolver outside, for handlers that must wait for the test. */
export function gate (): { promise: Promise<void>, open: () => void } {
  let open!: () => void
  const promise = new Promise<void>(resolve => { open = resolve })
  return { promise, open }
}

/** resolves when the signal aborts, with its reason */
export function aborted (signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason)
  return new Promise(resolve => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }))
}

/** Counts calls per method on a real backend: instrumentation, not a substitute. */
export function countingBackend (backend: Backend): { backend: Backend, calls: Map<string, number> } {
  const calls = new Map<string, number>()
  const proxy = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1)
        return value.apply(target, args)
      }
    }
  })
  return { backend: proxy, calls }
}

export const quietLog: Logger = process.env.SWITCHYARD_TEST_LOG === '1'
  ? { debug () {}, info () {}, warn: (o, m) => console.error('WARN', m, o), error: (o, m) => console.error('ERROR', m, o) }
  : silentLogger
