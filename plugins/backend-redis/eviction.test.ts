// A Redis that may evict keys can silently drop task hashes or indexes: init refuses it
// unless the operator opts in. The policy is changed on a real server of the test's own,
// so no other test file sees it.
import t from 'tap'
import { Redis } from 'ioredis'
import { readMemoryPolicy } from './connection.ts'
import { createRedisBackend } from './index.ts'
import { assertEvictingPolicyRefused, randomPrefix, startPrivateRedis } from './testing.ts'

const REDIS_URL = await startPrivateRedis(t)
const admin = new Redis(REDIS_URL)
await admin.config('SET', 'maxmemory-policy', 'noeviction')
t.teardown(() => { admin.disconnect() })

t.test('reads the policy of the server', async (t) => {
  t.equal(await readMemoryPolicy(admin), 'noeviction')
})

t.test('allkeys-lru is refused with an error naming the policy and the override; the override accepts it', async (t) => {
  await assertEvictingPolicyRefused(t, admin, allow => createRedisBackend({ url: REDIS_URL, prefix: randomPrefix(), allowEvictingMemoryPolicy: allow }))
})
