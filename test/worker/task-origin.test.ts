// ctx.origin(): a handler reads its task's tenant and correlation id, and passes them on
// to the tasks it enqueues (they are not inherited on their own), on every backend.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createEnqueuer } from '../../core/tasks/enqueuer.ts'
import { DEFAULT_TASK_DEFAULTS } from '../../core/tasks/enqueue.ts'
import type { TaskOrigin } from '../../core/worker/handlers.ts'
import { createWorker } from '../../core/worker/worker.ts'
import { enqueueMany, openTestBackend, quietLog, waitFor, type BackendKind } from './support.ts'

const KINDS: BackendKind[] = (process.env.SWITCHYARD_TEST_BACKENDS?.split(',') as BackendKind[] | undefined) ?? ['postgres', 'redis', 'bullmq']

for (const kind of KINDS) {
  t.test(`${kind}: a handler reads its origin and passes it on`, async t => {
    const tb = await openTestBackend(kind)
    t.teardown(async () => { await tb.destroy() })
    const backend = tb.backend
    const queue = `origin-${randomBytes(3).toString('hex')}`
    const enqueuer = createEnqueuer({ backend, events: null, observe: null, defaults: DEFAULT_TASK_DEFAULTS })
    const seen = new Map<string, TaskOrigin>()
    const worker = createWorker({
      backend,
      handlers: {
        parent: async (_payload: unknown, ctx) => {
          const origin = await ctx.origin()
          seen.set('parent', origin)
          t.equal(await ctx.origin(), origin, 'read once per attempt')
          await enqueuer.enqueue([{ handler: 'child', queue, ...origin }, { handler: 'orphan', queue }])
        },
        child: async (_payload: unknown, ctx) => { seen.set('child', await ctx.origin()) },
        orphan: async (_payload: unknown, ctx) => { seen.set('orphan', await ctx.origin()) }
      },
      options: { pollMs: 50, queues: [queue], shutdownGraceMs: 2_000 },
      log: quietLog
    })
    t.teardown(async () => { await worker.stop() })
    void worker.start()
    await enqueueMany(backend, 1, () => ({ handler: 'parent', queue, tenant: 'acme', correlationId: 'order-42' }))
    await waitFor(() => seen.size === 3, 'parent, child and orphan ran')
    t.same(seen.get('parent'), { tenant: 'acme', correlationId: 'order-42' })
    t.same(seen.get('child'), { tenant: 'acme', correlationId: 'order-42' }, 'passed on explicitly')
    t.same(seen.get('orphan'), {}, 'not inherited on its own')
  })
}
