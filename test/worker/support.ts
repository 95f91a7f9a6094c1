import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createPgliteClient, createPostgresBackend, createPostgresBackendFromClient, type SqlClient } from '@switchyard/backend-postgres'
import { createRedisBackend, type RedisBackend } from '@switchyard/backend-redis'
import { createBullMQBackend, type BullMQBackend } from '@switchyard/backend-bullmq'
import { deleteKeys, TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import type { Backend, LeasedTask, NewTask } from '../../core/backend/types.ts'
import { DEFAULT_TASK_DEFAULTS, normalizeNewTask, type EnqueueInput } from '../../core/tasks/enqueue.ts'
import { silentLogger, type Logger } from '../../core/worker/logger.ts'

export type BackendKind = 'postgres' | 'pglite' | 'redis' | 'bullmq'

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
 * A fresh, initialised backend on its own schema (Postgres, PGlite) or key prefix
 * (Redis, BullMQ). PGlite backends share one in-memory database per TestBackend
 * (one schema each), since starting the engine is the slow part.
 */
export async function openTestBackend (kind: BackendKind): Promise<TestBackend> {
  const opened: Backend[] = []
  // what destroy() removes: one schema or key prefix per non-peer backend
  const namespaces: string[] = []
  const owners: Backend[] = []
  let pglite: SqlClient | null = null
  async function open (namespace: string, peer = false): Promise<Backend> {
    let backend: Backend
    if (kind === 'postgres') {
      backend = createPostgresBackend({ connectionString: POSTGRES_URL, schema: namespace, poolSize: 4 })
    } else if (kind === 'pglite') {
      pglite ??= await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 10_000, settings: {} })
      backend = createPostgresBackendFromClient(pglite, { schema: namespace })
    } else if (kind === 'redis') {
      backend = createRedisBackend({ url: TEST_REDIS_URL, prefix: namespace })
    } else {
      backend = createBullMQBackend({ url: TEST_REDIS_URL, prefix: namespace })
    }
    await backend.init()
    opened.push(backend)
    if (!peer) { namespaces.push(namespace); owners.push(backend) }
    return backend
  }
  const fresh = (): string => kind === 'redis' ? `sy:test:${randomBytes(5).toString('hex')}:` : kind === 'bullmq' ? `sytest${randomBytes(5).toString('hex')}` : randomSchema()
  const namespace = fresh()
  const backend = await open(namespace)
  return {
    backend,
    kind,
    schema: namespace,
    connectPeer: async () => kind === 'pglite' ? backend : await open(namespace, true),
    sibling: async () => await open(fresh()),
    async destroy () {
      // the data goes first, through a backend that is still open
      if (kind === 'bullmq') for (const b of owners) await (b as BullMQBackend).destroyAllData()
      if (kind === 'redis') for (const b of owners) await deleteKeys((b as RedisBackend).redis, (b as RedisBackend).keys.base)
      for (const b of opened.reverse()) await b.close()
      if (pglite !== null) await pglite.close()
      if (kind === 'postgres') for (const s of namespaces) await dropSchema(s)
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

/** Records every task leased through a real backend, with its lease token: instrumentation, not a substitute. */
export function leaseRecorder (backend: Backend): { backend: Backend, leased: Map<string, LeasedTask> } {
  const leased = new Map<string, LeasedTask>()
  const record = (tasks: LeasedTask[]): void => { for (const l of tasks) leased.set(l.id, l) }
  const proxy = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      // awaitPushedTasks returns tasks leased to the worker like leaseTasks does
      if ((prop === 'leaseTasks' || prop === 'awaitPushedTasks') && typeof value === 'function') {
        return async (...args: unknown[]) => { const tasks = await value.apply(target, args) as LeasedTask[]; record(tasks); return tasks }
      }
      if (prop === 'completeAndLease' && typeof value === 'function') {
        return async (...args: unknown[]) => { const out = await value.apply(target, args) as { leased: LeasedTask[] }; record(out.leased); return out }
      }
      // the worker's lease while a rate limit is stored
      if (prop === 'leaseWithinRateLimit' && typeof value === 'function') {
        return async (...args: unknown[]) => { const out = await value.apply(target, args) as { tasks: LeasedTask[] }; record(out.tasks); return out }
      }
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return { backend: proxy, leased }
}

export const quietLog: Logger = process.env.SWITCHYARD_TEST_LOG === '1'
  ? { debug () {}, info () {}, warn: (o, m) => console.error('WARN', m, o), error: (o, m) => console.error('ERROR', m, o) }
  : silentLogger
