// A handler's return value and ctx.progress, through a real worker on real backends:
// the result is stored with the succeeded task (or dropped, counted and named when it
// cannot be stored), progress is coalesced, shown while the task runs and refused once
// the lease is lost, and a task that failed once and then succeeded shows no lastError.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Job, Queue } from 'bullmq'
import type { Backend } from '../../core/backend/types.ts'
import { isSwitchyardError } from '../../core/errors.ts'
import { EventLog } from '../../core/events/event-log.ts'
import type { HandlerMap, TaskContext } from '../../core/worker/handlers.ts'
import type { WorkerOptionsInput } from '../../core/worker/options.ts'
import { createWorker, type Worker } from '../../core/worker/worker.ts'
import { TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import { aborted, countingBackend, enqueueMany, gate, leaseRecorder, openTestBackend, quietLog, waitFor, type BackendKind } from './support.ts'

const FAST: WorkerOptionsInput = {
  pollMs: 50,
  leaseMs: 5_000,
  recoveryMs: 200,
  heartbeatMs: 200,
  queueRefreshMs: 100,
  shutdownGraceMs: 2_000,
  retry: { baseDelayMs: 10, maxDelayMs: 100, factor: 2, jitter: 0 }
}

const KINDS: BackendKind[] = (process.env.SWITCHYARD_TEST_BACKENDS?.split(',') as BackendKind[] | undefined) ?? ['postgres', 'redis', 'bullmq']

function queueName (label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`
}

async function eventsOf (backend: Backend, id: string): Promise<Array<{ type: string, data: Record<string, unknown> }>> {
  const events = await backend.readEvents({ afterId: null, limit: 1000 })
  return events.filter(e => (e.data as { id?: string }).id === id).map(e => ({ type: e.type, data: e.data as Record<string, unknown> }))
}

for (const kind of KINDS) {
  t.test(kind, async t => {
    const tb = await openTestBackend(kind)
    t.teardown(async () => { await tb.destroy() })
    const backend = tb.backend

    function start (t: Test, handlers: HandlerMap, options: WorkerOptionsInput, on: Backend = backend): { worker: Worker, events: EventLog } {
      const events = new EventLog(on, { flushIntervalMs: 10 })
      const worker = createWorker({ backend: on, handlers, events, options: { ...FAST, ...options }, log: quietLog })
      t.teardown(async () => { await worker.stop(); await events.close() })
      void worker.start()
      return { worker, events }
    }

    t.test('a return value is stored with the succeeded task; none stays absent', async t => {
      const queue = queueName('result')
      const [withResult, without] = await enqueueMany(backend, 2, i => ({ queue, handler: i === 0 ? 'double' : 'quiet', payload: { n: 21 } }))
      const { worker } = start(t, {
        double: (payload: { n: number }) => ({ doubled: payload.n * 2, note: 'ünïcode' }),
        quiet: () => undefined
      }, { queues: [queue] })
      await waitFor(() => worker.counters.processed === 2, 'both tasks acknowledged')
      t.same((await backend.getTask(withResult!))?.result, { doubled: 42, note: 'ünïcode' })
      t.notOk('result' in (await backend.getTask(without!))!, 'a handler returning nothing stores no result')
      t.equal(worker.counters.resultsDropped, 0)
      if (kind === 'bullmq') {
        // BullMQ's own Job API reads the same field
        const raw = new Queue(queue, { connection: { url: TEST_REDIS_URL }, prefix: tb.schema })
        t.teardown(() => raw.close())
        const job = await Job.fromId(raw, withResult!)
        t.same(job?.returnvalue, { doubled: 42, note: 'ünïcode' }, 'BullMQ sees the result as the job\'s returnvalue')
      }
    })

    t.test('a result that cannot be stored: the task still succeeds, the drop is counted and named', async t => {
      const queue = queueName('dropped')
      const [big, bigint] = await enqueueMany(backend, 2, i => ({ queue, handler: i === 0 ? 'big' : 'bigint', payload: {} }))
      const { worker, events } = start(t, {
        big: () => 'x'.repeat(200),
        bigint: () => ({ n: 1n })
      }, { queues: [queue], resultMaxBytes: 100 })
      await waitFor(() => worker.counters.processed === 2, 'both tasks acknowledged')
      for (const id of [big!, bigint!]) {
        const task = await backend.getTask(id)
        t.equal(task?.state, 'succeeded', 'succeeded')
        t.notOk('result' in task!, 'no result stored')
      }
      t.equal(worker.counters.resultsDropped, 2, 'both drops counted')
      if (backend.capabilities.eventLog) {
        await events.flush()
        const succeeded = (await eventsOf(backend, big!)).find(e => e.type === 'task.succeeded')
        t.match(succeeded?.data.resultDropped, /more than the 100 allowed/, 'task.succeeded names why the result was dropped')
      }
    })

    t.test('progress in a tight loop: coalesced, visible while running, the last value kept', async t => {
      const queue = queueName('progress')
      const counted = countingBackend(backend)
      const [id] = await enqueueMany(backend, 1, () => ({ queue, handler: 'loop', payload: {} }))
      const halfway = gate()
      const finish = gate()
      const { worker, events } = start(t, {
        loop: async (_payload: unknown, ctx: TaskContext) => {
          for (let i = 0; i <= 50; i++) t.equal(await ctx.progress(i), true)
          halfway.open()
          await finish.promise
          for (let i = 51; i <= 100; i++) await ctx.progress({ percent: i, step: 'second half' })
          return 'done'
        }
      }, { queues: [queue], progressIntervalMs: 100 }, counted.backend)
      await halfway.promise
      const running = await waitFor(async () => {
        const task = await backend.getTask(id!)
        return task?.progress === 50 ? task : null
      }, 'progress 50 while running')
      t.equal(running.state, 'processing')
      const listed = await backend.listTasks({ queue, limit: 10, offset: 0 })
      t.equal(listed.tasks[0]?.progress, 50, 'the task list shows it too')
      finish.open()
      await waitFor(() => worker.counters.processed === 1, 'the task acknowledged')
      const task = await backend.getTask(id!)
      t.same(task?.progress, { percent: 100, step: 'second half' }, 'the last reported value is written before the success')
      t.equal(task?.result, 'done')
      const writes = counted.calls.get('setTaskProgress') ?? 0
      t.ok(writes >= 2 && writes <= 6, `101 reports became ${writes} writes`)
      t.equal(worker.counters.progressWritten, writes)
      if (backend.capabilities.eventLog) {
        await events.flush()
        const progress = (await eventsOf(backend, id!)).filter(e => e.type === 'task.progress')
        t.equal(progress.length, writes, 'one task.progress event per write')
        t.match(progress.at(-1)?.data, { id, queue, handler: 'loop', attempt: 1, progress: { percent: 100 } })
      }
      if (kind === 'bullmq') {
        const raw = new Queue(queue, { connection: { url: TEST_REDIS_URL }, prefix: tb.schema })
        t.teardown(() => raw.close())
        t.same((await Job.fromId(raw, id!))?.progress, { percent: 100, step: 'second half' }, 'BullMQ sees it as the job\'s progress')
      }
    })

    t.test('progress after the lease is lost is refused, and the handler is aborted', async t => {
      const queue = queueName('lost')
      const recorder = leaseRecorder(backend)
      const [id] = await enqueueMany(backend, 1, () => ({ queue, handler: 'slow', payload: {}, maxAttempts: 1 }))
      const leased = gate()
      const stolen = gate()
      let signal: AbortSignal | undefined
      const answers: boolean[] = []
      const { worker } = start(t, {
        slow: async (_payload: unknown, ctx: TaskContext) => {
          signal = ctx.signal
          leased.open()
          await stolen.promise
          answers.push(await ctx.progress(10))
          await aborted(ctx.signal)
          answers.push(await ctx.progress(20))
        }
      }, { queues: [queue], progressIntervalMs: 0 }, recorder.backend)
      await leased.promise
      // another party takes the task back (as recovery after an expired lease would); the
      // paused queue keeps this worker from leasing it again
      await backend.setQueuePaused(queue, true)
      const lease = recorder.leased.get(id!)!
      t.same(await backend.releaseTasks([{ id: id!, leaseToken: lease.leaseToken }]), ['ok'])
      stolen.open()
      const reason = await aborted(signal!)
      t.equal((reason as { code?: string }).code, 'LEASE_LOST', 'the failed write aborted the handler: its lease is gone')
      await waitFor(() => answers.length === 2, 'both progress calls answered')
      t.same(answers, [true, false], 'accepted before the loss was known, refused after')
      t.equal(worker.counters.leaseLost, 1)
      const task = await backend.getTask(id!)
      t.notOk('progress' in task!, 'nothing was stored under the lost lease')
    })

    t.test('a progress value that is not a number 0-100 or an object fails the attempt, naming it', async t => {
      const queue = queueName('bad-progress')
      const [id] = await enqueueMany(backend, 1, () => ({ queue, handler: 'bad', payload: {}, maxAttempts: 1 }))
      let thrown: unknown
      const { worker } = start(t, {
        bad: async (_payload: unknown, ctx: TaskContext) => {
          try {
            await ctx.progress(150)
          } catch (err) {
            thrown = err
            throw err
          }
        }
      }, { queues: [queue] })
      await waitFor(() => worker.counters.dead === 1, 'the task dead-lettered')
      t.ok(isSwitchyardError(thrown) && thrown.code === 'VALIDATION_FAILED', 'VALIDATION_FAILED')
      t.match((await backend.getTask(id!))?.lastError, /progress: a number must be from 0 to 100/)
    })

    t.test('failed once, then succeeded: no lastError, the error kept in the history', async t => {
      const queue = queueName('flaky')
      const [id] = await enqueueMany(backend, 1, () => ({ queue, handler: 'flaky', payload: {}, maxAttempts: 3 }))
      const { worker } = start(t, {
        flaky: (_payload: unknown, ctx: TaskContext) => {
          if (ctx.attempt === 1) throw new Error('first attempt fails')
          return { attempt: ctx.attempt }
        }
      }, { queues: [queue] })
      await waitFor(() => worker.counters.processed === 1, 'the second attempt acknowledged')
      const task = await backend.getTask(id!)
      t.match(task, { state: 'succeeded', attempts: 2, lastError: null, result: { attempt: 2 } })
      t.same(task?.errors.map(e => e.message), ['first attempt fails'])
    })
  })
}
