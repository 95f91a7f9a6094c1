import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Queue, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { createBullMQBackend } from './index.ts'

// A plain BullMQ producer and a plain BullMQ worker share a queue with Switchyard:
// Switchyard sees their jobs, pauses the queue under the plain worker, resumes it,
// and replays a job the plain worker failed.

const URL = 'redis://127.0.0.1:6379'

async function waitFor<T> (what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== null && value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

t.test('a plain BullMQ queue seen, paused, resumed and replayed through Switchyard', async t => {
  const prefix = `syinterop${randomBytes(5).toString('hex')}`
  const name = 'mail'
  const connection = new Redis(URL, { maxRetriesPerRequest: null })
  const producer = new Queue(name, { connection, prefix })
  const backend = createBullMQBackend({ url: URL, prefix, queues: [name] })
  const workerConnection = new Redis(URL, { maxRetriesPerRequest: null })
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

  await producer.add('email.send', { to: 'ada@example.com' }, { jobId: 'welcome-ada' })
  const bob = (await producer.add('email.send', { to: 'bob@example.com' })).id as string
  const eve = (await producer.add('email.send', { to: 'eve@example.com', poison: true }, { attempts: 1 })).id as string

  const [stats] = await backend.queueStats([name])
  t.match(stats, { name, ready: 3, processing: 0, dead: 0, paused: false }, 'queueStats counts the plain producer\'s jobs')
  const page = await backend.listTasks({ queue: name, state: 'ready', limit: 10, offset: 0 })
  t.same(page.tasks.map(task => task.id), [`${name}:welcome-ada`, `${name}:${bob}`, `${name}:${eve}`], 'listed in run order, named <queue>:<jobId>')
  t.equal(page.total, 3)
  const ada = await backend.getTask(`${name}:welcome-ada`)
  t.match(ada, { queue: name, handler: 'email.send', payload: { to: 'ada@example.com' }, state: 'ready', attempts: 0, maxAttempts: 1 }, 'getTask reads a plain job')

  await backend.setQueuePaused(name, true)
  t.equal((await backend.queueStats([name]))[0]?.paused, true, 'paused through Switchyard')

  const processed: string[] = []
  const replayed = new Set<string>()
  worker = new Worker(name, async (job: Job) => {
    if ((job.data as { poison?: boolean }).poison === true && !replayed.has(job.id as string)) throw new Error('mailbox rejected the message')
    processed.push(job.id as string)
    return 'sent'
  }, { connection: workerConnection, prefix })
  worker.on('error', () => {})

  // the plain worker is idle-blocked on BullMQ's marker while three jobs wait: the pause holds
  await waitFor('the plain worker to block waiting for work', async () => {
    const clients = await connection.client('LIST') as string
    return clients.split('\n').some(line => / cmd=bzpopmin /.test(line))
  })
  t.match((await backend.queueStats([name]))[0], { ready: 3, processing: 0, succeeded: 0 }, 'the plain worker took nothing while paused')
  t.same(processed, [], 'no job processed while paused')

  await backend.setQueuePaused(name, false)
  const after = await waitFor('the plain worker to drain the queue', async () => {
    const [s] = await backend.queueStats([name])
    return s !== undefined && s.succeeded === 2 && s.dead === 1 ? s : null
  })
  t.match(after, { ready: 0, processing: 0, paused: false }, 'resumed: the plain worker processed everything')

  const [dead] = (await backend.listTasks({ queue: name, state: 'dead', limit: 10, offset: 0 })).tasks
  t.equal(dead?.id, `${name}:${eve}`, 'the poison job is in the DLQ')
  t.match(dead, { lastError: 'mailbox rejected the message', attempts: 1 })
  t.equal((await backend.dlqStats()).byQueue[name], 1, 'dlqStats counts it')

  replayed.add(eve)
  t.same(await backend.requeueTasks({ ids: [`${name}:${eve}`], fromStates: ['dead'] }), { requeued: [`${name}:${eve}`], skipped: [] }, 'replayed through Switchyard')
  await waitFor('the plain worker to run the replayed job', async () => processed.includes(eve))
  const done = await waitFor('the replayed job to succeed', async () => {
    const task = await backend.getTask(`${name}:${eve}`)
    return task?.state === 'succeeded' ? task : null
  })
  t.match(done, { replays: 1, attempts: 1 }, 'the replay is recorded and the attempt budget was fresh')
  t.match((await backend.queueStats([name]))[0], { succeeded: 3, dead: 0 })
})

t.test('Switchyard tasks are plain BullMQ jobs to BullMQ code', async t => {
  const prefix = `syinterop${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ url: URL, prefix })
  const connection = new Redis(URL, { maxRetriesPerRequest: null })
  const queue = new Queue('reports', { connection, prefix })
  t.teardown(async () => {
    await queue.close()
    await backend.destroyAllData()
    await backend.close()
    await connection.quit()
  })
  await backend.init()
  const [high, low] = await backend.enqueue([
    { queue: 'reports', handler: 'report.build', payload: { n: 1 }, maxAttempts: 4, priority: 10, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: null },
    { queue: 'reports', handler: 'report.build', payload: { n: 2 }, maxAttempts: 4, priority: -10, timeoutMs: 1000, runAt: null, delayMs: 0, idempotencyKey: 'nightly' }
  ])
  const job = await queue.getJob(high?.id as string)
  t.match(job, { name: 'report.build', data: { n: 1 }, opts: { attempts: 4 } }, 'job name = handler, data = payload, attempts = maxAttempts')
  t.ok((job?.priority ?? 0) < ((await queue.getJob(low?.id as string))?.priority ?? 0), 'higher Switchyard priority is a more urgent BullMQ priority')
  t.same(await queue.getJobCounts('prioritized'), { prioritized: 2 }, 'BullMQ counts them')
})
