// A Redis that may evict keys can silently drop task hashes or indexes: init refuses it
// unless the operator opts in. The policy is changed on the real server for a moment and
// always restored.
import t from 'tap'
import { Redis } from 'ioredis'
import { readMemoryPolicy } from './connection.ts'
import { createRedisBackend } from './index.ts'
import { assertEvictingPolicyRefused, randomPrefix, TEST_REDIS_URL } from './testing.ts'

const admin = new Redis(TEST_REDIS_URL)
t.teardown(async () => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.quit()
})

t.test('reads the policy of the server', async (t) => {
  t.equal(await readMemoryPolicy(admin), 'noeviction')
})

t.test('allkeys-lru is refused with an error naming the policy and the override; the override accepts it', async (t) => {
  await assertEvictingPolicyRefused(t, admin, allow => createRedisBackend({ url: TEST_REDIS_URL, prefix: randomPrefix(), allowEvictingMemoryPolicy: allow }))
})
