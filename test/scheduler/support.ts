import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { createPostgresBackend } from '@switchyard/backend-postgres'
import { createRedisBackend, type RedisBackend } from '@switchyard/backend-redis'
import type { Backend, Task } from '../../core/backend/types.ts'
import { dropSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { deleteKeys, TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'

// Two clients of one storage, as two processes of a cluster would open it: a private
// Postgres schema or Redis key prefix, removed when the test ends.

export type Opener = (t: Test) => Promise<{ open: () => Promise<Backend> }>

export const OPENERS: Record<string, Opener> = {
  async postgres (t) {
    const schema = `sy_test_${randomBytes(6).toString('hex')}`
    const opened: Backend[] = []
    t.teardown(async () => {
      for (const backend of opened) await backend.close().catch(() => {})
      await dropSchema(schema)
    })
    return {
      async open () {
        const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 2 })
        opened.push(backend)
        await backend.init()
        return backend
      }
    }
  },
  async redis (t) {
    const prefix = `sy:test:${randomBytes(6).toString('hex')}:`
    const opened: Backend[] = []
    t.teardown(async () => {
      const first = opened[0] as RedisBackend | undefined
      if (first !== undefined) await deleteKeys(first.redis, first.keys.base).catch(() => {})
      for (const backend of opened) await backend.close().catch(() => {})
    })
    return {
      async open () {
        const backend = createRedisBackend({ url: TEST_REDIS_URL, prefix })
        opened.push(backend)
        await backend.init()
        return backend
      }
    }
  }
}

/** every task a handler got, oldest first (bounded by the test's own volume) */
export async function tasksOf (backend: Backend, handler: string): Promise<Task[]> {
  const page = await backend.listTasks({ handler, limit: 1000, offset: 0 })
  return page.tasks.sort((a, b) => a.createdAt - b.createdAt)
}

export function instantsOf (tasks: Task[]): number[] {
  return tasks.map(task => (task.payload as { instant: number }).instant).sort((a, b) => a - b)
}

export async function waitFor<T> (check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
