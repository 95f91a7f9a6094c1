// A BullMQ backend on the test Redis under a fresh key prefix, with a plain Redis client
// to read its keys; both are gone (the data destroyed) when the test ends.
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { createBullMQBackend, type BullMQBackendOptions } from './index.ts'
import type { BullMQBackend } from './backend.ts'

export const TEST_REDIS_URL = 'redis://127.0.0.1:6379'

export interface TestBackend { backend: BullMQBackend, redis: Redis, prefix: string }

export async function testBackend (t: Test, prefixStem: string, options: Omit<BullMQBackendOptions, 'url' | 'prefix'> = {}): Promise<TestBackend> {
  const prefix = `${prefixStem}${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ ...options, url: TEST_REDIS_URL, prefix })
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, commandTimeout: 10_000 })
  t.teardown(async () => {
    await backend.destroyAllData()
    await backend.close()
    redis.disconnect()
  })
  await backend.init()
  return { backend, redis, prefix }
}
