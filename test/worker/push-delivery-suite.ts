// The worker on a backend that pushes tasks to idle workers (capability pushDelivery,
// the Redis and BullMQ backends): an idle worker waits for pushed tasks, starts them
// without a lease call of its own, and stops promptly while waiting.
// push-delivery.test.ts and push-delivery-bullmq.test.ts run it per backend.
import type { Test } from 'tap'
import { createWorker, type Worker, type WorkerOptionsInput } from '../../core/worker/index.ts'
import type { Backend } from '../../core/backend/types.ts'
import { countingBackend, enqueueMany, openTestBackend, quietLog, waitFor } from './support.ts'

export async function runPushDeliverySuite (t: Test, kind: 'redis' | 'bullmq'): Promise<void> {
  const opened = await openTestBackend(kind)
  t.teardown(() => opened.destroy())
  const backend = opened.backend

  function start (handlers: Record<string, (payload: unknown) => unknown>, options: WorkerOptionsInput, on: Backend = backend): Worker {
    const worker = createWorker({ backend: on, handlers, options: { pollMs: 2000, heartbeatMs: 200, ...options }, log: quietLog })
    t.teardown(() => worker.stop())
    void worker.start()
    return worker
  }

  /** resolves once the worker waits registered for pushes on the queue (the idle set: under the Redis backend's base, the BullMQ backend's own keys) */
  async function waitingForPush (queue: string, workerId: string): Promise<void> {
    const redis = (backend as unknown as { redis: { sismember: (key: string, member: string) => Promise<number> }, keys: { base?: string, own?: string } })
    const base = kind === 'redis' ? redis.keys.base : redis.keys.own
    await waitFor(async () => await redis.redis.sismember(`${base}pi:${queue}`, workerId) === 1, 'the worker waiting for pushes')
  }

  t.test('an idle worker starts a pushed task without a lease call, well before its poll interval', async t => {
    const queue = 'push-start'
    const counting = countingBackend(backend)
    const started: number[] = []
    const worker = start({ h: (payload) => { started.push(performance.now() - (payload as { at: number }).at) } }, { id: 'push-worker', queues: [queue] }, counting.backend)
    for (let i = 0; i < 5; i++) {
      await waitingForPush(queue, worker.id)
      const leasesBefore = (counting.calls.get('leaseTasks') ?? 0) + (counting.calls.get('completeAndLease') ?? 0)
      const waitsBefore = counting.calls.get('awaitPushedTasks') ?? 0
      await enqueueMany(backend, 1, () => ({ queue, handler: 'h', payload: { at: performance.now() } }))
      await waitFor(() => worker.counters.processed === i + 1, 'the pushed task run')
      t.equal((counting.calls.get('leaseTasks') ?? 0) + (counting.calls.get('completeAndLease') ?? 0), leasesBefore, `task ${i}: no lease call`)
      // the wait in progress returned it; the worker then waits again (one more call, at most)
      t.ok((counting.calls.get('awaitPushedTasks') ?? 0) - waitsBefore <= 1, `task ${i}: it came in the wait in progress`)
    }
    t.ok(started.every(ms => ms < 1000), `started within ${Math.round(Math.max(...started))} ms, under the 2000 ms poll interval`)
  })

  t.test('a worker stops promptly while it waits for pushes', async t => {
    const queue = 'push-stop'
    const worker = start({ h: () => {} }, { id: 'push-stopper', queues: [queue], pollMs: 30_000 })
    await waitingForPush(queue, worker.id)
    const before = performance.now()
    await worker.stop()
    const took = performance.now() - before
    t.ok(took < 2000, `stopped in ${Math.round(took)} ms, not after its 30 s wait`)
    await enqueueMany(backend, 1, () => ({ queue, handler: 'h' }))
    const [stats] = await backend.queueStats([queue])
    t.equal(stats!.ready, 1, 'nothing pushed to the stopped worker')
  })

  t.test('a cordoned worker stops waiting for pushes and gets none', async t => {
    const queue = 'push-cordon'
    const worker = start({ h: () => {} }, { id: 'push-cordoned', queues: [queue], pollMs: 30_000 })
    await waitingForPush(queue, worker.id)
    t.equal(await backend.setWorkerCordoned(worker.id, true), true)
    await waitFor(() => worker.isCordoned, 'the worker seeing its cordon')
    await enqueueMany(backend, 1, () => ({ queue, handler: 'h' }))
    await new Promise(resolve => setTimeout(resolve, 300))
    t.equal(worker.counters.processed, 0, 'nothing run')
    const [stats] = await backend.queueStats([queue])
    t.equal(stats!.ready, 1, 'the task stays ready')
    await backend.setWorkerCordoned(worker.id, false)
    await waitFor(() => worker.counters.processed === 1, 'run once uncordoned')
  })

  t.test('many tasks to several idle workers: each runs exactly once', async t => {
    const queue = 'push-many'
    const runs = new Map<number, number>()
    const handler = (payload: unknown): void => { const i = (payload as { i: number }).i; runs.set(i, (runs.get(i) ?? 0) + 1) }
    const workers = [0, 1, 2].map(n => start({ h: handler }, { id: `push-many-${n}`, queues: [queue], concurrency: 2, batchSize: 2 }))
    for (const w of workers) await waitingForPush(queue, w.id)
    const total = 300
    for (let i = 0; i < total; i += 3) {
      await enqueueMany(backend, 3, k => ({ queue, handler: 'h', payload: { i: i + k } }))
      if (i % 30 === 0) await new Promise(resolve => setTimeout(resolve, 2))
    }
    await waitFor(() => runs.size === total, 'every task run', 30_000)
    await new Promise(resolve => setTimeout(resolve, 200))
    t.ok([...runs.values()].every(n => n === 1), 'each once')
    t.equal(workers.reduce((sum, w) => sum + w.counters.processed, 0), total)
  })
}
