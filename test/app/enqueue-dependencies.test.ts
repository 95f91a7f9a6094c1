// sy.enqueue with dependsOn goes through the one enqueue path: normalized (ids
// deduplicated, policy defaulted, bad input refused naming the field), and refused
// with UNSUPPORTED_BY_BACKEND on a backend without the capability.
import t from 'tap'
import { isSwitchyardError } from '../../core/index.ts'
import { randomUUID } from 'node:crypto'
import { createBullMQBackend } from '../../plugins/backend-bullmq/index.ts'
import { TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import { createEnqueuer } from '../../core/tasks/enqueuer.ts'
import { DEFAULT_TASK_DEFAULTS } from '../../core/tasks/enqueue.ts'
import { openPostgresApp } from './support.ts'

async function refusal (call: () => Promise<unknown>): Promise<{ code?: string, field?: string, message?: string }> {
  try {
    await call()
  } catch (err) {
    if (!isSwitchyardError(err)) throw err
    return { code: err.code, field: (err.details as { field?: string } | undefined)?.field, message: err.message }
  }
  return {}
}

t.test('sy.enqueue with dependsOn: blocked, parents deduplicated, default policy cancel; bad input refused', async t => {
  const sy = await openPostgresApp(t, { name: 'enqueue-deps' })
  await sy.start()
  const [a, b] = await sy.enqueue([{ handler: 'step' }, { handler: 'step' }])
  const [child] = await sy.enqueue({ handler: 'join', dependsOn: [a!.id, b!.id, a!.id] })
  const stored = await sy.backend.getTask(child!.id)
  t.match(stored, { state: 'blocked', dependsOn: [a!.id, b!.id], onParentFailure: 'cancel' })
  const [plain] = await sy.enqueue({ handler: 'join', dependsOn: [] })
  t.equal((await sy.backend.getTask(plain!.id))?.state, 'ready', 'an empty dependsOn is no dependency')
  t.match(await refusal(() => sy.enqueue({ handler: 'join', dependsOn: 'abc' as unknown as string[] })), { code: 'VALIDATION_FAILED', field: 'task.dependsOn' })
  t.match(await refusal(() => sy.enqueue({ handler: 'join', dependsOn: Array.from({ length: 101 }, (_, i) => String(i + 1)) })), { code: 'VALIDATION_FAILED', field: 'task.dependsOn' })
  t.match(await refusal(() => sy.enqueue({ handler: 'join', dependsOn: [a!.id], onParentFailure: 'ignore' as 'dead' })), { code: 'VALIDATION_FAILED', field: 'task.onParentFailure' })
  t.match(await refusal(() => sy.enqueue([{ handler: 'first' }, { handler: 'join', dependsOn: ['424242424242'] }])), { code: 'VALIDATION_FAILED', field: 'dependsOn', message: /424242424242/ })
  t.equal((await sy.backend.listTasks({ handler: 'first', limit: 10, offset: 0 })).tasks.length, 0, 'a refused batch enqueues nothing')
})

t.test('a backend without the capability: UNSUPPORTED_BY_BACKEND, nothing enqueued', async t => {
  const bullmq = createBullMQBackend({ url: TEST_REDIS_URL, prefix: `sy-deps-${randomUUID().slice(0, 8)}` })
  await bullmq.init()
  t.teardown(async () => {
    await bullmq.destroyAllData()
    await bullmq.close()
  })
  // every bundled backend has the capability: a real one that declares it off
  const backend = Object.create(bullmq, { capabilities: { value: { ...bullmq.capabilities, dependencies: false } } }) as typeof bullmq
  const enqueuer = createEnqueuer({ backend, events: null, observe: null, defaults: DEFAULT_TASK_DEFAULTS })
  const [parent] = await enqueuer.enqueue([{ handler: 'step', queue: 'depsq' }])
  t.match(await refusal(() => enqueuer.enqueue([{ handler: 'join', queue: 'depsq', dependsOn: [parent!.result.id] }])), { code: 'UNSUPPORTED_BY_BACKEND', field: 'dependsOn' })
  t.match((await backend.queueStats(['depsq']))[0], { ready: 1, blocked: 0 }, 'only the parent is stored')
})
