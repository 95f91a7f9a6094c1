// A handler's error becomes the task's lastError on every backend: text Postgres
// cannot store (NUL) or that a cut left malformed (half a surrogate pair) is recorded
// with U+FFFD instead of failing the write, which would leave the task leased.
import t from 'tap'
import { createWorker } from './worker.ts'
import { enqueueMany, openTestBackend, quietLog, waitFor, type TestBackend } from '../../test/worker/support.ts'

let tb: TestBackend
t.before(async () => { tb = await openTestBackend('postgres') })
t.teardown(async () => { await tb.destroy() })

t.test('an error message with NUL or a lone surrogate is recorded, not lost', async t => {
  const queue = `error-text-${Date.now()}`
  const [id] = await enqueueMany(tb.backend, 1, () => ({ queue, handler: 'throws', maxAttempts: 1 }))
  const worker = createWorker({
    backend: tb.backend,
    handlers: { throws: () => { throw new Error('bad\u0000byte and half a pair \ud83d') } },
    options: { queues: [queue], concurrency: 1, batchSize: 1, pollMs: 50 },
    log: quietLog
  })
  t.teardown(() => worker.stop())
  await worker.start()
  const dead = await waitFor(async () => {
    const task = await tb.backend.getTask(id as string)
    return task?.state === 'dead' ? task : null
  }, 'the task to be dead-lettered')
  t.equal(dead.lastError, 'bad\ufffdbyte and half a pair \ufffd')
  t.equal(dead.attempts, 1, 'one attempt: the failure was written, not recovered after a lost lease')
})
