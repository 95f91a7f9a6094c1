// A Redis that may evict keys can silently drop task hashes or indexes: init refuses it
// unless the operator opts in. The policy is changed on the real server for a moment and
// always restored.
import t from 'tap'
import { Redis } from 'ioredis'
import { isSwitchyardError } from 'switchyard'
import { readMemoryPolicy } from './connection.ts'
import { createRedisBackend } from './index.ts'
import { randomPrefix, TEST_REDIS_URL } from './testing.ts'

const admin = new Redis(TEST_REDIS_URL)
t.teardown(async () => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.quit()
})

t.test('reads the policy of the server', async (t) => {
  t.equal(await readMemoryPolicy(admin), 'noeviction')
})

t.test('allkeys-lru is refused with an error naming the policy and the override; the override accepts it', async (t) => {
  const refused = createRedisBackend({ url: TEST_REDIS_URL, prefix: randomPrefix() })
  const allowed = createRedisBackend({ url: TEST_REDIS_URL, prefix: randomPrefix(), allowEvictingMemoryPolicy: true })
  t.teardown(async () => { await refused.close(); await allowed.close() })
  let error: unknown
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  try {
    // Both inits run inside the short window the policy is changed.
    const [a, b] = await Promise.allSettled([refused.init(), allowed.init()])
    if (a.status === 'rejected') error = a.reason
    t.equal(b.status, 'fulfilled', 'allowEvictingMemoryPolicy: true accepts it')
  } finally {
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
  }
  t.ok(isSwitchyardError(error), 'refused with a SwitchyardError')
  const e = error as { code: string, message: string, details: Record<string, unknown> }
  t.equal(e.code, 'REDIS_EVICTING_MEMORY_POLICY')
  t.match(e.message, /allkeys-lru/)
  t.match(e.message, /allowEvictingMemoryPolicy/)
  t.same(e.details, { policy: 'allkeys-lru', option: 'allowEvictingMemoryPolicy' })
  await refused.init()
  t.pass('with noeviction restored the same backend initialises')
})
