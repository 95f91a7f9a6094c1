import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { NewTask } from '@switchyard/core'
import { createBullMQBackend } from './index.ts'

// Task dependencies on BullMQ (lua/deps.lua): a blocked child is in none of BullMQ's
// structures, so no BullMQ worker can take it; the ack of its last parent puts it on
// BullMQ's lists in the same script, and a job of a plain BullMQ producer can be a parent.

const URL = 'redis://127.0.0.1:6379'

function task (queue: string, handler: string, extra: Partial<NewTask> = {}): NewTask {
  return { queue, handler, payload: {}, maxAttempts: 1, priority: 0, timeoutMs: 300_000, runAt: null, delayMs: 0, idempotencyKey: null, ...extra }
}

t.test('a blocked child is invisible to BullMQ until its last parent (one of them a plain BullMQ job) is acked', async t => {
  const prefix = `sydeps${randomBytes(5).toString('hex')}`
  const name = 'pipeline'
  const connection = new Redis(URL, { maxRetriesPerRequest: null })
  const producer = new Queue(name, { connection, prefix })
  const backend = createBullMQBackend({ url: URL, prefix, queues: [name] })
  t.teardown(async () => {
    await producer.obliterate({ force: true }).catch(() => {})
    await producer.close()
    await backend.destroyAllData()
    await backend.close()
    await connection.quit()
  })
  await backend.init()

  const foreign = `${name}:${(await producer.add('extract', { file: 'a.csv' })).id as string}`
  const [own] = await backend.enqueue([task(name, 'transform')])
  const [child] = await backend.enqueue([task(name, 'load', { dependsOn: [foreign, own!.id] })])
  t.equal((await backend.getTask(child!.id))?.state, 'blocked')
  t.same(await producer.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'waiting-children'),
    { wait: 1, prioritized: 1, delayed: 0, active: 0, 'waiting-children': 0 }, 'BullMQ holds the two parents only')
  t.equal(await producer.getJobState(child!.id), 'unknown', 'the blocked child is in no BullMQ structure')

  const lease = { workerId: 'w', queues: [name], limit: 10, leaseMs: 30_000 }
  const parents = await backend.leaseTasks(lease)
  t.same(parents.map(p => p.id).sort(), [foreign, own!.id].sort(), 'only the parents are leased')
  const [first, second] = parents
  const one = await backend.completeAndLease([{ id: first!.id, leaseToken: first!.leaseToken }], lease)
  t.same(one, { acks: ['ok'], leased: [] }, 'one parent done: the child still waits')
  t.equal((await backend.getTask(child!.id))?.state, 'blocked')
  const two = await backend.completeAndLease([{ id: second!.id, leaseToken: second!.leaseToken }], lease)
  t.same(two.acks, ['ok'])
  t.same(two.leased.map(l => l.id), [child!.id], 'the last ack released the child and the same call leased it')
  const links = await backend.taskLinks([foreign, child!.id])
  t.same(links.map(l => [l.id, l.parents, l.children]), [[foreign, [], [child!.id]], [child!.id, [foreign, own!.id], []]], 'taskLinks across producers')
})
