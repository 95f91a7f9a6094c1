import t, { type Test } from 'tap'
import { createPostgresBackend } from '@switchyard/backend-postgres'
import { createRedisBackend } from '@switchyard/backend-redis'
import { dropSchema, testSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { deleteKeys, randomPrefix, TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import type { RedisBackend } from '../../plugins/backend-redis/backend.ts'
import { withArgumentChecks } from '../backend/argument-guard.ts'
import { withTimeouts } from '../backend/guard.ts'
import type { Backend } from '../backend/types.ts'
import { newTask } from '../admin/test-support.ts'
import { getMetricsHistory, MetricsHistory } from './index.ts'
import { HOURS_COLLECTION, hourKey, HOUR_MS, MINUTES_COLLECTION, minuteKey, type StepValue } from './steps.ts'

// Two "processes" (two backend connections, two recorders) on one real backend: their
// counts add up in the shared minutes under concurrent compare-and-set flushes, one of
// them leads (depths, rollups, retention), and every reader sees the same series.

interface Pair { a: Backend, b: Backend }

async function postgresPair (t: Test): Promise<Pair> {
  const schema = testSchema()
  const open = async (): Promise<Backend> => {
    const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 2 })
    await backend.init()
    return backend
  }
  const a = await open()
  const b = await open()
  t.teardown(async () => {
    await a.close()
    await b.close()
    await dropSchema(schema)
  })
  return { a: withTimeouts(withArgumentChecks(a), 10_000), b: withTimeouts(withArgumentChecks(b), 10_000) }
}

async function redisPair (t: Test): Promise<Pair> {
  const prefix = randomPrefix('history')
  const a = createRedisBackend({ url: TEST_REDIS_URL, prefix })
  const b = createRedisBackend({ url: TEST_REDIS_URL, prefix })
  await a.init()
  await b.init()
  t.teardown(async () => {
    await deleteKeys((a as RedisBackend).redis, (a as RedisBackend).keys.base)
    await a.close()
    await b.close()
  })
  return { a: withTimeouts(withArgumentChecks(a), 10_000), b: withTimeouts(withArgumentChecks(b), 10_000) }
}

function sumCounts (points: Array<{ counts: Record<string, number> }>): Record<string, number> {
  const total: Record<string, number> = { enqueued: 0, succeeded: 0, failed: 0, dead: 0, replayed: 0 }
  for (const point of points) for (const [field, n] of Object.entries(point.counts)) total[field] = (total[field] ?? 0) + n
  return total
}

for (const [label, open] of [['postgres', postgresPair], ['redis', redisPair]] as const) {
  t.test(`${label}: two processes' counts add up, one leads, retention trims`, async t => {
    const { a, b } = await open(t)
    const errors: string[] = []
    const onError = (err: unknown, context: string): void => { errors.push(`${context}: ${String(err)}`) }
    const one = new MetricsHistory(a, { nodeId: 'node-a', onError })
    const two = new MetricsHistory(b, { nodeId: 'node-b', onError })
    t.teardown(async () => { await one.close(); await two.close() })

    // Rounds of counting on both, each round flushed by both at once: the writes to the
    // shared minute race, and compare-and-set must keep every delta.
    const rounds = 12
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 5; i++) one.observe({ type: 'task.enqueued', queue: 'q1', handler: 'h' })
      one.observe({ type: 'task.finished', queue: 'q1', handler: 'h', outcome: 'succeeded', durationMs: 1 })
      for (let i = 0; i < 3; i++) two.observe({ type: 'task.enqueued', queue: 'q1', handler: 'h' })
      two.observe({ type: 'task.enqueued', queue: 'q2', handler: 'h' })
      two.observe({ type: 'task.finished', queue: 'q2', handler: 'h', outcome: 'retrying', durationMs: 1 })
      two.observe({ type: 'task.finished', queue: 'q2', handler: 'h', outcome: 'dead', durationMs: 1 })
      two.observe({ type: 'task.finished', queue: 'q2', handler: 'h', outcome: 'lease_lost', durationMs: 1 })
      await Promise.all([one.flush(), two.flush(), one.flush()])
    }
    one.noteAdminEvents([{ type: 'dlq.replayed', data: { count: 4, targetQueue: 'q2' } }, { type: 'task.retried', data: { id: 'x' } }, { type: 'queue.paused', data: { queue: 'q1' } }])
    await one.flush()
    t.same(errors, [], 'no background errors')
    t.equal(one.droppedMinutes + two.droppedMinutes, 0, 'nothing dropped')

    const all = await getMetricsHistory(a, { window: '1h' })
    t.equal(all.points.length, 60, 'one point a minute for the hour')
    t.equal(all.stepSeconds, 60)
    t.same(sumCounts(all.points), { enqueued: rounds * 9, succeeded: rounds, failed: rounds * 2, dead: rounds, replayed: 5 }, 'all queues: every count of both processes, once')
    const q1 = await getMetricsHistory(b, { window: '1h', queue: 'q1' })
    t.same(sumCounts(q1.points), { enqueued: rounds * 8, succeeded: rounds, failed: 0, dead: 0, replayed: 0 }, 'q1 alone, read through the other node')
    const q2 = await getMetricsHistory(b, { window: '24h', queue: 'q2' })
    t.equal(q2.points.length, 1440)
    t.same(sumCounts(q2.points), { enqueued: rounds, succeeded: 0, failed: rounds * 2, dead: rounds, replayed: 4 }, 'q2, with the replay into it; a retry naming no queue counts in all queues only')
    t.same(all.queues, ['q1', 'q2'], 'the queues with data')

    // leadership: one node takes the lock, the other does the leader's work only after it
    await a.enqueue([newTask('q1'), newTask('q1'), newTask('q1', { delayMs: 600_000 })])
    t.equal(await one.leaderTick(), true, 'the first node takes the lock')
    t.equal(await two.leaderTick(), false, 'the second does not')
    const sampled = await getMetricsHistory(b, { window: '1h', queue: 'q1' })
    const last = sampled.points[sampled.points.length - 1]
    t.match(last?.depth, { ready: 2, scheduled: 1, processing: 0, dead: 0 }, 'the leader sampled the depth into the current minute')
    const hourly = await getMetricsHistory(b, { window: '7d' })
    t.equal(hourly.points.length, 168)
    t.equal(hourly.stepSeconds, 3600)
    t.same(sumCounts(hourly.points), sumCounts((await getMetricsHistory(a, { window: '24h' })).points), 'the hourly rollup holds what the minutes do')
    t.ok(hourly.points.some(point => point.depth?.ready === 2), 'the hour carries the latest depth sample')

    // retention: minutes past 24 h and hours past 30 d go, younger ones stay
    const now = await a.now()
    const stale: StepValue = { c: { q1: [1, 0, 0, 0, 0] } }
    const oldMinutes = [minuteKey(now - 25 * HOUR_MS), minuteKey(now - 24 * HOUR_MS - 120_000)]
    const keptMinute = minuteKey(now - 23 * HOUR_MS)
    for (const key of [...oldMinutes, keptMinute]) await a.putRecord(MINUTES_COLLECTION, key, stale)
    const oldHour = hourKey(now - 31 * 24 * HOUR_MS)
    const keptHour = hourKey(now - 29 * 24 * HOUR_MS)
    for (const key of [oldHour, keptHour]) await a.putRecord(HOURS_COLLECTION, key, stale)
    t.equal(await one.leaderTick(), true, 'still the leader')
    for (const key of oldMinutes) t.equal(await a.getRecord(MINUTES_COLLECTION, key), null, `minute ${key} (past 24 h) trimmed`)
    t.not(await a.getRecord(MINUTES_COLLECTION, keptMinute), null, 'a minute inside 24 h kept')
    t.equal(await a.getRecord(HOURS_COLLECTION, oldHour), null, 'an hour past 30 d trimmed')
    t.not(await a.getRecord(HOURS_COLLECTION, keptHour), null, 'an hour inside 30 d kept')
    t.equal(sumCounts((await getMetricsHistory(b, { window: '30d' })).points).enqueued, rounds * 9 + 1, 'the 30 d window reads the kept hour too')

    // handing over: once the leader closes (releasing the lock), the other node leads
    await one.close()
    t.equal(await two.leaderTick(), true, 'the other node takes over')
    t.same(errors, [], 'no background errors')
  })
}
