// A cordoned worker finishes what it runs and leases nothing more; uncordoned, it
// leases again. The cordon is set through another client of the same storage (as the
// admin process on another machine would), and the worker learns it from its own
// heartbeats. Run against each of the four backends.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createWorker } from '../../core/worker/worker.ts'
import { enqueueMany, gate, openTestBackend, quietLog, waitFor, type BackendKind } from './support.ts'

const KINDS: BackendKind[] = ['pglite', 'postgres', 'redis', 'bullmq']

for (const kind of KINDS) {
  t.test(`${kind}: cordon stops leasing and lets running tasks finish; uncordon resumes`, async t => {
    const tb = await openTestBackend(kind)
    t.teardown(async () => { await tb.destroy() })
    const admin = await tb.connectPeer()
    const queue = `cordon-${randomBytes(3).toString('hex')}`
    const release = gate()
    const started: string[] = []
    const worker = createWorker({
      backend: tb.backend,
      handlers: {
        slow: async (payload: { n: number }) => {
          started.push(`slow-${payload.n}`)
          await release.promise
        },
        quick: async (payload: { n: number }) => { started.push(`quick-${payload.n}`) }
      },
      options: { queues: [queue], concurrency: 4, batchSize: 4, pollMs: 50, heartbeatMs: 100, leaseMs: 10_000, queueRefreshMs: 100, shutdownGraceMs: 2_000 },
      log: quietLog
    })
    t.teardown(() => worker.stop())
    await worker.start()

    const running = await enqueueMany(tb.backend, 2, n => ({ queue, handler: 'slow', payload: { n } }))
    await waitFor(() => worker.inFlight === 2, 'two slow tasks running')
    await waitFor(async () => (await admin.listWorkers()).some(w => w.id === worker.id), 'the worker in the registry')

    t.equal(await admin.setWorkerCordoned(worker.id, true), true, 'cordoned through another client')
    await waitFor(() => worker.isCordoned, 'the worker to learn the cordon from its heartbeat')
    const waiting = await enqueueMany(tb.backend, 3, n => ({ queue, handler: 'quick', payload: { n } }))
    release.open()
    await waitFor(async () => {
      const tasks = await Promise.all(running.map(async id => await tb.backend.getTask(id)))
      return tasks.every(task => task?.state === 'succeeded')
    }, 'the running tasks to finish and be acknowledged')
    // several poll and heartbeat intervals: a leasing worker would have taken them long before
    await new Promise(resolve => setTimeout(resolve, 600))
    const held = await Promise.all(waiting.map(async id => (await tb.backend.getTask(id))?.state))
    t.same(held, ['ready', 'ready', 'ready'], 'tasks enqueued after the cordon stay ready')
    t.notOk(started.some(name => name.startsWith('quick')), 'none of them started')
    t.equal((await admin.listWorkers()).find(w => w.id === worker.id)?.cordoned, true, 'ListWorkers shows it cordoned')

    t.equal(await admin.setWorkerCordoned(worker.id, false), true, 'uncordoned')
    await waitFor(async () => {
      const tasks = await Promise.all(waiting.map(async id => await tb.backend.getTask(id)))
      return tasks.every(task => task?.state === 'succeeded')
    }, 'the waiting tasks to run once uncordoned')
    t.equal(worker.isCordoned, false)
    t.equal(started.filter(name => name.startsWith('quick')).length, 3, 'each ran once')
  })
}

// The cordon takes effect on the worker's next lease, not its next heartbeat: the
// backend refuses the leases of a cordoned worker id. Worker `a` beats once a minute,
// so it never hears of the cordon and keeps polling; it still leases nothing.
for (const kind of KINDS) {
  t.test(`${kind}: a cordon stops a polling worker's next lease while another worker takes the tasks; uncordon lets it lease again`, async t => {
    const tb = await openTestBackend(kind)
    t.teardown(async () => { await tb.destroy() })
    const admin = await tb.connectPeer()
    const queue = `cordon-lease-${randomBytes(3).toString('hex')}`
    const ran = { a: 0, b: 0 }
    const options = { queues: [queue], concurrency: 4, batchSize: 4, pollMs: 50, leaseMs: 10_000, queueRefreshMs: 100, shutdownGraceMs: 2_000 }
    const start = async (name: 'a' | 'b', heartbeatMs: number) => {
      const worker = createWorker({
        backend: name === 'a' ? tb.backend : await tb.connectPeer(),
        handlers: { quick: async () => { ran[name]++ } },
        options: { ...options, heartbeatMs },
        log: quietLog
      })
      t.teardown(() => worker.stop())
      await worker.start()
      return worker
    }
    const a = await start('a', 60_000)
    const b = await start('b', 100)
    await waitFor(async () => (await admin.listWorkers()).some(w => w.id === a.id), 'worker a in the registry')
    // both lease while neither is cordoned
    await enqueueMany(tb.backend, 8, () => ({ queue, handler: 'quick' }))
    await waitFor(() => ran.a + ran.b === 8, 'the first tasks to run')

    t.equal(await admin.setWorkerCordoned(a.id, true), true, 'a cordoned through another client')
    const cordonedAt = Date.now()
    const leasedBefore = a.counters.leased
    const ranBefore = ran.a
    const waiting = await enqueueMany(tb.backend, 20, () => ({ queue, handler: 'quick' }))
    await waitFor(async () => {
      const tasks = await Promise.all(waiting.map(async id => await tb.backend.getTask(id)))
      return tasks.every(task => task?.state === 'succeeded')
    }, 'worker b to run the tasks enqueued after the cordon')
    const left = 500 - (Date.now() - cordonedAt)
    if (left > 0) await new Promise(resolve => setTimeout(resolve, left))
    t.equal(a.counters.leased, leasedBefore, 'a leased nothing in the 500 ms after the cordon')
    t.equal(ran.a, ranBefore, 'and ran nothing more')
    t.equal(ran.b - (8 - ranBefore), 20, 'b ran every task enqueued after the cordon')
    t.equal(a.isCordoned, false, 'a has not heard of the cordon from a heartbeat: its leases were refused')

    t.equal(await admin.setWorkerCordoned(a.id, false), true, 'uncordoned')
    await b.stop()
    const later = await enqueueMany(tb.backend, 5, () => ({ queue, handler: 'quick' }))
    await waitFor(async () => {
      const tasks = await Promise.all(later.map(async id => await tb.backend.getTask(id)))
      return tasks.every(task => task?.state === 'succeeded')
    }, 'worker a to lease again once uncordoned', 5_000)
    t.equal(ran.a, ranBefore + 5, 'a ran them')
  })
}
