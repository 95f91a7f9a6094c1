import t from 'tap'
import { Redis } from 'ioredis'
import { RedisClock } from './redis-clock.ts'

t.test('the local estimate of the Redis clock stays within its stated bound of TIME', async t => {
  const redis = new Redis('redis://127.0.0.1:6379')
  t.teardown(() => redis.disconnect())
  const clock = new RedisClock(redis)
  t.notOk(clock.known, 'unknown before a sample')
  t.equal(clock.errorBoundMs, Number.POSITIVE_INFINITY)
  await clock.sample()
  t.ok(clock.known, 'known after one')
  for (let i = 0; i < 20; i++) {
    const before = await redisMs(redis)
    const estimate = clock.now()
    const after = await redisMs(redis)
    // the estimate is read between two TIME replies, each within their own round trip of it
    t.ok(estimate >= before - clock.errorBoundMs && estimate <= after + clock.errorBoundMs,
      `${estimate} within [${before}, ${after}] ± ${clock.errorBoundMs.toFixed(3)} ms`)
    await clock.sample()
  }
})

async function redisMs (redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}
