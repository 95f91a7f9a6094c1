// A Redis that may evict keys can silently drop job hashes: the BullMQ backend refuses
// it at init with the Redis backend's own check, unless the operator opts in. The
// policy is changed on the real server for a moment and always restored.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { assertEvictingPolicyRefused, TEST_REDIS_URL } from '../backend-redis/testing.ts'
import { createBullMQBackend } from './index.ts'

const admin = new Redis(TEST_REDIS_URL)
t.teardown(async () => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.quit()
})

const prefix = (): string => `sytest${randomBytes(5).toString('hex')}`

t.test('allkeys-lru is refused with the Redis backend\'s error; allowEvictingMemoryPolicy accepts it', async (t) => {
  await assertEvictingPolicyRefused(t, admin, allow => createBullMQBackend({ url: TEST_REDIS_URL, prefix: prefix(), allowEvictingMemoryPolicy: allow }))
})

t.test('the option is validated like the others', async (t) => {
  t.throws(() => createBullMQBackend({ allowEvictingMemoryPolicy: 'yes' as unknown as boolean }), { code: 'VALIDATION_FAILED', message: /options\.allowEvictingMemoryPolicy/ })
})
