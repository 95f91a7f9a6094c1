// The metrics history counts dead letters no worker's own failure saw, each once, where
// the transition is seen: the recovery sweep of an expired lease on the last attempt,
// an operator's ReleaseWorkerLeases, and a dependency cascade (reported by the backend
// call that ran it, here the worker's failure of the parent). The worker's own failure
// of the parent is counted by the worker only. PGlite and Redis, a running app each.
import t, { type Test } from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { createSwitchyard, type Switchyard } from '../../core/index.ts'
import { waitFor } from '../../core/backend/conformance/index.ts'
import { TEST_REDIS_URL, deleteKeys } from '../../plugins/backend-redis/testing.ts'

t.setTimeout(240_000)

interface Target { name: string, plugin: string[], cleanup: () => Promise<void> }

function pglite (): Target {
  return { name: 'pglite', plugin: ['  - name: backend-postgres', '    options: { embedded: {} }'], cleanup: async () => {} }
}

function redis (): Target {
  const prefix = `sy:history-dead:${randomBytes(6).toString('hex')}:`
  return {
    name: 'redis',
    plugin: ['  - name: backend-redis', '    options:', `      url: ${TEST_REDIS_URL}`, `      prefix: "${prefix}"`],
    async cleanup () {
      const cleaner = new Redis(TEST_REDIS_URL)
      try { await deleteKeys(cleaner, `{${prefix}}`) } finally { await cleaner.quit() }
    }
  }
}

async function openApp (t: Test, target: Target): Promise<Switchyard> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-history-dead-'))
  const file = join(dir, 'switchyard.yaml')
  await writeFile(file, [
    'plugins:',
    ...target.plugin,
    // the worker serves `work` only: tasks of `lost` are leased by hand, as by a worker that then died
    'worker: { queues: [work], pollInterval: 50ms, recoveryInterval: 200ms }',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: file })
  t.teardown(async () => {
    await sy.close()
    await target.cleanup()
    await rm(dir, { recursive: true, force: true })
  })
  sy.handle('boom', async () => { throw new Error('boom on purpose') })
  return sy
}

const caller = (): { actor: string, requestId: string } => ({ actor: 'CN=test', requestId: randomUUID() })

async function totals (sy: Switchyard, queue: string): Promise<{ failed: number, dead: number }> {
  const answer = await sy.admin.GetMetricsHistory({ window: '1h', queue }, caller())
  let failed = 0
  let dead = 0
  for (const point of answer.points) { failed += point.counts.failed; dead += point.counts.dead }
  return { failed, dead }
}

for (const target of [pglite, redis]) {
  t.test(`${target().name}: lease expiry, an operator release and a cascade are counted once each, as failed and dead`, async t => {
    const sy = await openApp(t, target())
    await sy.start()
    const state = async (id: string): Promise<string | undefined> => (await sy.backend.getTask(id))?.state

    // 1. a lease that expires on the last attempt: the app's recovery sweep dead-letters it
    const [expired] = await sy.enqueue({ handler: 'lost', queue: 'lost', maxAttempts: 1 })
    t.same((await sy.backend.leaseTasks({ workerId: 'crashed-worker', queues: ['lost'], limit: 1, leaseMs: 1 })).map(l => l.id), [expired?.id])
    await waitFor(async () => await state(expired!.id) === 'dead', { what: 'the recovery sweep to dead-letter the expired task', timeoutMs: 30_000 })

    // 2. an operator releases a dead worker's lease on the last attempt
    const [released] = await sy.enqueue({ handler: 'lost', queue: 'lost', maxAttempts: 1 })
    t.same((await sy.backend.leaseTasks({ workerId: 'gone-worker', queues: ['lost'], limit: 1, leaseMs: 60_000 })).map(l => l.id), [released?.id])
    const release = await sy.admin.ReleaseWorkerLeases({ id: 'gone-worker' }, caller())
    t.same(release.dead, [released?.id], 'released into the DLQ')

    // 3. the worker fails a parent on its last attempt; the cascade dead-letters one child and cancels another
    const [parent] = await sy.enqueue({ handler: 'boom', queue: 'work', maxAttempts: 1 })
    const [deadChild] = await sy.enqueue({ handler: 'never', queue: 'kids', dependsOn: [parent!.id], onParentFailure: 'dead' })
    const [canceledChild] = await sy.enqueue({ handler: 'never', queue: 'kids', dependsOn: [parent!.id] })
    await waitFor(async () => await state(deadChild!.id) === 'dead', { what: 'the cascade', timeoutMs: 30_000 })
    t.equal(await state(parent!.id), 'dead')
    t.equal(await state(canceledChild!.id), 'canceled')

    // counts reach the shared minutes on the next flush (every 10 s)
    const expected = { lost: { failed: 2, dead: 2 }, work: { failed: 1, dead: 1 }, kids: { failed: 1, dead: 1 } }
    await waitFor(async () => {
      for (const [queue, want] of Object.entries(expected)) {
        const got = await totals(sy, queue)
        if (got.failed < want.failed || got.dead < want.dead) return false
      }
      return true
    }, { what: 'the dead letters in the history', timeoutMs: 60_000, intervalMs: 500 })
    for (const [queue, want] of Object.entries(expected)) t.same(await totals(sy, queue), want, `${queue}: each dead letter once`)
  })
}
