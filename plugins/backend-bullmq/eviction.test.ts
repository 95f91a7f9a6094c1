// A Redis that may evict keys can silently drop job hashes: the BullMQ backend refuses
// it at init with the Redis backend's own check, unless the operator opts in. The
// policy is changed on a real server of the test's own, so no other test file sees it.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { assertEvictingPolicyRefused, startPrivateRedis } from '../backend-redis/testing.ts'
import { createBullMQBackend } from './index.ts'

const REDIS_URL = await startPrivateRedis(t)
const admin = new Redis(REDIS_URL)
await admin.config('SET', 'maxmemory-policy', 'noeviction')
t.teardown(() => { admin.disconnect() })

const prefix = (): string => `sytest${randomBytes(5).toString('hex')}`

t.test('allkeys-lru is refused with the Redis backend\'s error; allowEvictingMemoryPolicy accepts it', async (t) => {
  await assertEvictingPolicyRefused(t, admin, allow => createBullMQBackend({ url: REDIS_URL, prefix: prefix(), allowEvictingMemoryPolicy: allow }))
})

t.test('the option is validated like the others', async (t) => {
  t.throws(() => createBullMQBackend({ allowEvictingMemoryPolicy: 'yes' as unknown as boolean }), { code: 'VALIDATION_FAILED', message: /options\.allowEvictingMemoryPolicy/ })
})
