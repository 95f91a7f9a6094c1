import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import type { NewTask } from '@switchyard/core'
import { createBullMQBackend } from './index.ts'

// Task dependencies on BullMQ (lua/deps.lua): a blocked child is in none of BullMQ's
// structures, so no BullMQ worker can take it; the ack of its last parent puts it on
// BullMQ's lists in the same script, and a job of a plain BullMQ producer can be a parent.
// A parent a plain BullMQ worker finishes settles its children at the next lease
// recovery sweep (recoverExpiredLeases) instead.

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

t.test('parents finished by a plain BullMQ worker settle their children at the next lease recovery sweep', async t => {
  const prefix = `sydeps${randomBytes(5).toString('hex')}`
  const name = 'plain'
  const connection = new Redis(URL, { maxRetriesPerRequest: null })
  const workerConnection = new Redis(URL, { maxRetriesPerRequest: null })
  const producer = new Queue(name, { connection, prefix })
  const backend = createBullMQBackend({ url: URL, prefix, queues: [name] })
  let worker: Worker | null = null
  t.teardown(async () => {
    await worker?.close()
    await workerConnection.quit()
    await producer.obliterate({ force: true }).catch(() => {})
    await producer.close()
    await backend.destroyAllData()
    await backend.close()
    await connection.quit()
  })
  await backend.init()

  const [ok, failing, other] = await backend.enqueue([task(name, 'fine'), task(name, 'broken'), task(name, 'fine')])
  // a plain job removed on completion leaves nothing to tell its success from a deletion
  const removed = `${name}:${(await producer.add('fine', {}, { removeOnComplete: true })).id as string}`
  const [waits, dies, lost, grand] = await backend.enqueue([
    task(name, 'after', { dependsOn: [ok!.id, other!.id] }),
    task(name, 'after', { dependsOn: [failing!.id], onParentFailure: 'dead' }),
    task(name, 'after', { dependsOn: [removed] })
  ]).then(async kids => [...kids, ...await backend.enqueue([task(name, 'after', { dependsOn: [kids[1]!.id] })])])
  const finished = new Set<string>()
  worker = new Worker(name, async (job: Job) => {
    if (job.name === 'broken') throw new Error('plain worker failure')
    return 'done'
  }, { connection: workerConnection, prefix })
  worker.on('completed', job => finished.add(job.id as string))
  worker.on('failed', job => { if (job !== undefined) finished.add(job.id as string) })
  const deadline = Date.now() + 15_000
  while (finished.size < 4 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 25))
  t.equal(finished.size, 4, 'the plain worker finished the four parents')
  await worker.close()
  worker = null
  t.same(await Promise.all([waits, dies, lost, grand].map(async c => (await backend.getTask(c!.id))?.state)), ['blocked', 'blocked', 'blocked', 'blocked'],
    'until a sweep, Switchyard has not seen the plain worker finish them')

  await backend.recoverExpiredLeases(100)
  const after = await Promise.all([waits, dies, lost, grand].map(async c => await backend.getTask(c!.id)))
  t.same(after.map(c => c?.state), ['ready', 'dead', 'canceled', 'canceled'], 'the sweep settles them: both parents succeeded, one failed (policy dead, and its own child), one is gone')
  t.match(after[1]?.lastError, new RegExp(`parent task ${failing!.id} was dead`))
  t.match(after[2]?.lastError, new RegExp(`parent task ${removed} was deleted`))

  // a succeeded parent requeued and succeeding again counts once, for the sweep too
  const [first, second] = await backend.enqueue([task(name, 'fine'), task(name, 'hold')])
  const [child] = await backend.enqueue([task(name, 'after', { dependsOn: [first!.id, second!.id] })])
  const lease = { workerId: 'w', queues: [name], limit: 10, leaseMs: 30_000, handlers: ['fine'] }
  const [leased] = await backend.leaseTasks(lease)
  t.same(await backend.completeTasks([{ id: leased!.id, leaseToken: leased!.leaseToken }]), ['ok'])
  t.same((await backend.requeueTasks({ ids: [first!.id], fromStates: ['succeeded'] })).requeued, [first!.id])
  const again = await backend.leaseTasks(lease)
  t.same(again.map(l => l.id), [first!.id])
  t.same(await backend.completeTasks([{ id: first!.id, leaseToken: again[0]!.leaseToken }]), ['ok'])
  await backend.recoverExpiredLeases(100)
  t.equal((await backend.getTask(child!.id))?.state, 'blocked', 'the sweep does not count the requeued parent again')
})
