import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { FlowProducer, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import type { LeaseRequest, NewTask } from '@switchyard/core'
import { createBullMQBackend } from './index.ts'
import type { BullMQBackend } from './backend.ts'

// Handler-filtered leases on BullMQ's structures (lua/handler-filter.lua): what a lease
// cannot run is parked once, stays a ready task to every Switchyard reader, and comes
// back in run order to a lease that can run it; a job chosen for fetch-next that is
// not taken goes back where it was.

const URL = 'redis://127.0.0.1:6379'
const QUEUE = 'work'

function task (handler: string, priority = 0): NewTask {
  return { queue: QUEUE, handler, payload: { handler }, maxAttempts: 3, priority, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null }
}

function lease (handlers: string[] | undefined, limit = 10): LeaseRequest {
  const req: LeaseRequest = { workerId: 'w', queues: [QUEUE], limit, leaseMs: 30_000 }
  if (handlers !== undefined) req.handlers = handlers
  return req
}

async function setup (t: Test): Promise<{ backend: BullMQBackend, redis: Redis, queue: Queue, prefix: string }> {
  const prefix = `syhandlers${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ url: URL, prefix, queues: [QUEUE] })
  const redis = new Redis(URL, { maxRetriesPerRequest: null })
  const queue = new Queue(QUEUE, { connection: redis, prefix })
  t.teardown(async () => {
    await queue.close()
    await backend.destroyAllData()
    await backend.close()
    await redis.quit()
  })
  await backend.init()
  return { backend, redis, queue, prefix }
}

t.test('parked jobs: met once, ready to every reader, back in run order to a lease that runs them', async t => {
  const { backend, redis, queue, prefix } = await setup(t)
  const parked = (name: string): string => `${prefix}::sy:parked:${QUEUE}:${name}`
  const ids = (await backend.enqueue([task('sms', 9), task('mail', 8), task('sms', 7), task('mail', 1), task('push', 5)])).map(r => r.id)
  const [sms9, mail8, sms7, mail1, push5] = ids as [string, string, string, string, string]

  t.same((await backend.leaseTasks(lease(['mail'], 1))).map(l => l.id), [mail8], 'the first mail job, behind an sms one')
  t.same(await redis.zrange(parked('sms'), 0, -1), [sms9], 'the sms job met on the way is parked')
  t.same((await backend.leaseTasks(lease(['mail']))).map(l => l.id), [mail1])
  t.same(await redis.zrange(parked('sms'), 0, -1), [sms9, sms7], 'parked in run order')
  t.same(await redis.zrange(parked('push'), 0, -1), [push5])
  t.equal(await redis.zcard(`${prefix}:${QUEUE}:prioritized`), 0, 'out of BullMQ\'s prioritized set')
  t.same(await backend.leaseTasks(lease(['mail'])), [], 'met once: nothing left to look at')

  t.match(await backend.getTask(sms9), { state: 'ready', attempts: 0, handler: 'sms' }, 'getTask: still ready, no attempt')
  t.match((await backend.queueStats([QUEUE]))[0], { ready: 3, processing: 2 }, 'counted as ready')
  const page = await backend.listTasks({ queue: QUEUE, state: 'ready', limit: 10, offset: 0 })
  t.same(page.tasks.map(x => x.id), [sms9, sms7, push5], 'listed in run order')
  t.equal(page.total, 3)
  t.same((await backend.listTasks({ queue: QUEUE, state: 'ready', limit: 1, offset: 1 })).tasks.map(x => x.id), [sms7], 'paged')
  t.ok(await queue.getJob(sms9), 'still a BullMQ job to BullMQ code')

  t.same(await backend.cancelTask(sms7), { outcome: 'canceled' }, 'cancel finds a parked job')
  t.same(await redis.zrange(parked('sms'), 0, -1), [sms9])
  const [late] = (await backend.enqueue([task('sms', 8)])).map(r => r.id)
  t.same((await backend.leaseTasks(lease(['sms', 'push'], 2))).map(l => l.id), [sms9, late], 'parked and prioritized merged by score')
  t.same((await backend.leaseTasks(lease(undefined))).map(l => l.id), [push5], 'every handler: parked ones too')
  t.same(await redis.smembers(`${prefix}::sy:parkedh:${QUEUE}`), [], 'emptied parked sets are forgotten')
  t.same(await backend.pendingHandlers({ queues: [QUEUE], limit: 10 }), [])
})

t.test('jobs of a plain BullMQ producer: parked in arrival order, served before prioritized jobs as BullMQ would', async t => {
  const { backend, queue } = await setup(t)
  const a = (await queue.add('other', { n: 1 })).id as string
  const b = (await queue.add('other', { n: 2 })).id as string
  const [mine] = (await backend.enqueue([task('mine')])).map(r => r.id)
  t.same((await backend.leaseTasks(lease(['mine']))).map(l => l.id), [mine], 'the runnable job behind two plain ones')
  t.same(await backend.pendingHandlers({ queues: [QUEUE], limit: 10 }), [{ queue: QUEUE, handler: 'other' }], 'their handler is pending')
  const ready = await backend.listTasks({ queue: QUEUE, state: 'ready', limit: 10, offset: 0 })
  t.same(ready.tasks.map(x => x.id), [`${QUEUE}:${a}`, `${QUEUE}:${b}`])
  const [first] = (await backend.enqueue([task('other', 1000)])).map(r => r.id)
  t.same((await backend.leaseTasks(lease(['other'], 1))).map(l => l.id), [`${QUEUE}:${a}`], 'first in, first out')
  t.same((await backend.leaseTasks(lease(['other'], 2))).map(l => l.id), [`${QUEUE}:${b}`, first], 'the wait list before any priority')
})

t.test('completeAndLease: a job chosen for fetch-next that an ack does not take goes back where it was', async t => {
  const { backend, redis, prefix } = await setup(t)
  const [mail9, sms8, mail1] = (await backend.enqueue([task('mail', 9), task('sms', 8), task('mail', 1)])).map(r => r.id) as [string, string, string]
  const [held] = await backend.leaseTasks(lease(['mail'], 1))
  t.equal(held?.id, mail9)
  const score = await redis.zscore(`${prefix}:${QUEUE}:prioritized`, mail1)
  const result = await backend.completeAndLease([{ id: mail9, leaseToken: 'not-the-token' }], lease(['mail'], 1))
  t.same(result.acks, ['lease_lost'], 'the ack lost its lease, so its fetch-next did not run')
  t.same(result.leased.map(l => l.id), [mail1], 'the lease after it took the mail job')
  t.equal(await redis.llen(`${prefix}:${QUEUE}:wait`), 0, 'nothing left on the wait list')
  t.match(await backend.getTask(sms8), { state: 'ready', attempts: 0 })
  t.ok(score !== null)
  const ok = await backend.completeAndLease([{ id: mail9, leaseToken: held!.leaseToken }, { id: mail1, leaseToken: result.leased[0]!.leaseToken }], lease(['mail']))
  t.same(ok, { acks: ['ok', 'ok'], leased: [] }, 'acks apply; no mail job left, the sms one is not fetched')
  t.match(await backend.getTask(sms8), { state: 'ready', attempts: 0 }, 'untouched')
})

t.test('a filtered lease promotes due delayed jobs first, so a due job of higher priority comes first', async t => {
  const { backend } = await setup(t)
  const [low] = (await backend.enqueue([task('mail', 1)])).map(r => r.id)
  const [due] = (await backend.enqueue([{ ...task('mail', 9), delayMs: 200 }])).map(r => r.id)
  const [other] = (await backend.enqueue([{ ...task('sms', 10), delayMs: 200 }])).map(r => r.id)
  await new Promise(resolve => setTimeout(resolve, 400))
  t.same((await backend.leaseTasks(lease(['mail'], 1))).map(l => l.id), [due], 'the due job of priority 9 before the ready one of priority 1')
  t.same((await backend.leaseTasks(lease(['mail']))).map(l => l.id), [low])
  t.match(await backend.getTask(other!), { state: 'ready', attempts: 0 }, 'the due sms job was promoted and parked, not taken')
})

t.test('completeAndLease: several fetch-next acks in one batch take the runnable jobs in run order', async t => {
  const { backend } = await setup(t)
  const ids = (await backend.enqueue([task('mail', 9), task('mail', 8), task('mail', 7), task('sms', 6), task('mail', 5), task('sms', 4), task('mail', 3), task('mail', 2)])).map(r => r.id)
  const held = await backend.leaseTasks(lease(['mail'], 3))
  t.same(held.map(l => l.id), ids.slice(0, 3))
  const next = await backend.completeAndLease(held.map(l => ({ id: l.id, leaseToken: l.leaseToken })), lease(['mail'], 3))
  t.same(next.acks, ['ok', 'ok', 'ok'])
  t.same(next.leased.map(l => l.id), [ids[4], ids[6], ids[7]], 'the mail jobs, skipping the sms ones, in priority order')
  t.same((await backend.leaseTasks(lease(['sms']))).map(l => l.id), [ids[3], ids[5]], 'the sms jobs wait, in order, for a worker that runs them')
})

t.test('completeAndLease: acking a flow child whose parent becomes ready never leases the parent the worker cannot run', async t => {
  const { backend, redis, prefix } = await setup(t)
  const flows = new FlowProducer({ connection: redis, prefix })
  t.teardown(() => flows.close())
  const flow = await flows.add({ name: 'assemble', queueName: QUEUE, data: {}, children: [{ name: 'part', queueName: QUEUE, data: { n: 1 } }] })
  const parent = `${QUEUE}:${flow.job.id as string}`
  const [other] = (await backend.enqueue([task('part', 5)])).map(r => r.id)
  const [child] = await backend.leaseTasks(lease(['part'], 1))
  t.equal(child?.id, `${QUEUE}:${flow.children?.[0]?.job.id as string}`, 'the plain child first (the wait list)')
  const result = await backend.completeAndLease([{ id: child!.id, leaseToken: child!.leaseToken }], lease(['part'], 1))
  t.same(result.acks, ['ok'])
  t.same(result.leased.map(l => l.id), [other], 'the runnable job, not the parent the ack made ready')
  t.match(await backend.getTask(parent), { state: 'ready', attempts: 0, handler: 'assemble' }, 'the parent waits for a worker that runs it')
})
