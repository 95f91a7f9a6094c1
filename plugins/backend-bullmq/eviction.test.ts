// A Redis that may evict keys can silently drop job hashes: the BullMQ backend refuses
// it at init with the Redis backend's own check, unless the operator opts in. The
// policy is changed on the real server for a moment and always restored.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { isSwitchyardError } from 'switchyard'
import { TEST_REDIS_URL } from '../backend-redis/testing.ts'
import { createBullMQBackend } from './index.ts'

const admin = new Redis(TEST_REDIS_URL)
t.teardown(async () => {
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  await admin.quit()
})

const prefix = (): string => `sytest${randomBytes(5).toString('hex')}`

t.test('allkeys-lru is refused with the Redis backend\'s error; allowEvictingMemoryPolicy accepts it', async (t) => {
  const refused = createBullMQBackend({ url: TEST_REDIS_URL, prefix: prefix() })
  const allowed = createBullMQBackend({ url: TEST_REDIS_URL, prefix: prefix(), allowEvictingMemoryPolicy: true })
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
  t.same(e.details, { policy: 'allkeys-lru', option: 'allowEvictingMemoryPolicy' })
  await refused.init()
  t.pass('with noeviction restored the same backend initialises')
})

t.test('the option is validated like the others', async (t) => {
  t.throws(() => createBullMQBackend({ allowEvictingMemoryPolicy: 'yes' as unknown as boolean }), { code: 'VALIDATION_FAILED', message: /options\.allowEvictingMemoryPolicy/ })
})
