import { randomBytes } from 'node:crypto'
import t from 'tap'
import { newTask, waitFor } from '@switchyard/core/testing'
import { createBullMQBackend, type BullMQBackend } from './index.ts'

// Other BullMQ code may delete a job hash and leave its id in the completed set. Pruning
// takes such ids out of the set, so they cannot be picked first on every later pass and
// stall the pruning of the real jobs behind them.

t.test('an id left in the completed set without its job is cleared, and pruning goes on past it', async t => {
  const prefix = `syprune${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ prefix }) as BullMQBackend
  t.teardown(async () => {
    await backend.destroyAllData()
    await backend.close()
  })
  await backend.init()
  const [done] = await backend.enqueue([newTask('q')])
  const leased = await waitFor(async () => (await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 1, leaseMs: 30_000 }))[0], { what: 'a task to lease' })
  await backend.completeTasks([{ id: leased.id, leaseToken: leased.leaseToken }])
  const redis = (backend as unknown as { redis: import('ioredis').Redis }).redis
  const completed = backend.keys.queueKey('q', 'completed')
  // older than the real job, so it is the first one a prune reads
  await redis.zadd(completed, 1, 'orphan')
  const finished = (await backend.getTask(done!.id))?.finishedAt ?? 0
  await waitFor(async () => (await backend.now()) > finished, { what: 'the clock to pass the finish' })
  t.equal(await backend.pruneFinished({ state: 'succeeded', finishedOlderThanMs: 0, limit: 1 }), 0, 'the orphan is not a pruned task')
  t.equal(await redis.zscore(completed, 'orphan'), null, 'but it leaves the set')
  t.equal(await backend.pruneFinished({ state: 'succeeded', finishedOlderThanMs: 0, limit: 1 }), 1, 'the next call reaches the real job')
  t.equal(await backend.getTask(done!.id), null)
})
