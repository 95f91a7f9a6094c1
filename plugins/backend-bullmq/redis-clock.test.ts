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

t.test('a sample is due once a second, not on every call that could send one', async t => {
  const redis = new Redis('redis://127.0.0.1:6379')
  t.teardown(() => redis.disconnect())
  const clock = new RedisClock(redis)
  t.ok(clock.due, 'due before the first sample')
  const sampling = clock.sample()
  t.notOk(clock.due, 'not due while one is on its way')
  await sampling
  t.notOk(clock.due, 'nor right after it')
  await new Promise(resolve => setTimeout(resolve, 1_050))
  t.ok(clock.due, 'due again a second later')
})
