// The retention pruner against a real Redis: only the holder of the retention lock
// prunes, each state keeps its own age, dead tasks stay unless their retention is set,
// and a backlog is worked off in bounded passes.
import t, { type Test } from 'tap'
import type { Backend } from '../../core/backend/types.ts'
import { newTask, waitFor } from '../../core/backend/conformance/index.ts'
import { silentLogger } from '../../core/worker/logger.ts'
import { MAX_CALLS_PER_STATE, RETENTION_LOCK_NAME, createRetentionPruner, type RetentionOptions } from '../../core/tasks/retention.ts'
import { RedisBackend, resolveOptions } from '../../plugins/backend-redis/index.ts'
import { TEST_REDIS_URL, openTestBackend } from '../../plugins/backend-redis/testing.ts'

async function open (t: Test): Promise<RedisBackend> {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  return backend
}

/** Enqueues `count` tasks in `queue`, leases and acknowledges them: `count` succeeded tasks. */
async function succeeded (backend: Backend, queue: string, count: number): Promise<string[]> {
  const ids = (await backend.enqueue(Array.from({ length: count }, () => newTask(queue)))).map(r => r.id)
  const leased = await waitFor(async () => {
    const got = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: count, leaseMs: 30_000 })
    return got.length === count ? got : null
  }, { what: `${count} tasks to lease` })
  await backend.completeTasks(leased.map(l => ({ id: l.id, leaseToken: l.leaseToken })))
  await clockPast(backend)
  return ids
}

async function dead (backend: Backend, queue: string): Promise<string> {
  const [result] = await backend.enqueue([newTask(queue, { maxAttempts: 1 })])
  const leased = await waitFor(async () => (await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 1, leaseMs: 30_000 }))[0], { what: 'a task to lease' })
  await backend.failTasks([{ id: leased.id, leaseToken: leased.leaseToken, error: { message: 'no' }, retryDelayMs: null }])
  await clockPast(backend)
  return result?.id as string
}

/** Waits until the backend clock is past now, so tasks finished so far are older than a retention of 0. */
async function clockPast (backend: Backend): Promise<void> {
  const now = await backend.now()
  await waitFor(async () => (await backend.now()) > now, { what: 'the backend clock to move' })
}

function pruner (backend: Backend, keep: RetentionOptions['keep'], nodeId: string, batchSize = 100) {
  const pruned: Array<[string, number]> = []
  const p = createRetentionPruner({ backend, log: silentLogger, options: { keep, intervalMs: 60_000, batchSize, nodeId }, onPruned: (state, n) => pruned.push([state, n]) })
  return { p, pruned }
}

t.test('one process prunes: the holder of the retention lock; the lock passes on when it stops', async t => {
  const backend = await open(t)
  const peer = new RedisBackend(resolveOptions({ url: TEST_REDIS_URL, prefix: backend.keys.base.slice(1, -1) }))
  await peer.init()
  t.teardown(() => peer.close())
  await succeeded(backend, 'q', 3)
  const a = pruner(backend, { succeeded: 0 }, 'node-a')
  const b = pruner(peer, { succeeded: 0 }, 'node-b')
  const first = await a.p.pass()
  t.equal(first.leader, true, 'the first process takes the lock')
  t.equal(first.pruned.succeeded, 3, 'and prunes')
  t.same(a.pruned, [['succeeded', 3]], 'pruned counts are reported')
  await succeeded(backend, 'q', 2)
  const second = await b.p.pass()
  t.same(second, { leader: false, pruned: { succeeded: 0, canceled: 0, dead: 0 }, more: false }, 'the other process does nothing while the lock is held')
  t.equal((await backend.queueStats(['q']))[0]?.succeeded, 2, 'so the new tasks are still there')
  await a.p.stop()
  t.notOk((await backend.getCoordinationState()).leaders.some(l => l.name === RETENTION_LOCK_NAME), 'stopping releases the lock')
  const third = await b.p.pass()
  t.equal(third.leader, true, 'the other process takes over')
  t.equal(third.pruned.succeeded, 2)
  await b.p.stop()
})

t.test('each final state keeps its own age; dead tasks stay unless their retention is set', async t => {
  const backend = await open(t)
  const [young] = await succeeded(backend, 'q', 1)
  const canceled = (await backend.enqueue([newTask('q')]))[0]?.id as string
  await backend.cancelTask(canceled)
  await clockPast(backend)
  const deadId = await dead(backend, 'q')
  const keepDead = pruner(backend, { succeeded: 3_600_000, canceled: 0 }, 'node-a')
  t.same((await keepDead.p.pass()).pruned, { succeeded: 0, canceled: 1, dead: 0 }, 'young succeeded and dead tasks stay')
  await keepDead.p.stop()
  t.ok(await backend.getTask(young as string), 'the succeeded task is younger than its retention')
  t.equal(await backend.getTask(canceled), null, 'the canceled task is past its retention')
  t.equal((await backend.getTask(deadId))?.state, 'dead', 'no dead retention: the DLQ keeps it')
  const pruneDead = pruner(backend, { dead: 0 }, 'node-a')
  t.same((await pruneDead.p.pass()).pruned, { succeeded: 0, canceled: 0, dead: 1 }, 'with a dead retention the DLQ is pruned too')
  await pruneDead.p.stop()
  t.match((await backend.queueStats(['q']))[0], { succeeded: 1, canceled: 0, dead: 0 }, 'counts follow')
  t.equal((await backend.dlqStats()).total, 0, 'DLQ stats follow')
})

t.test('a backlog is pruned in bounded passes', async t => {
  const backend = await open(t)
  const batchSize = 2
  const backlog = batchSize * MAX_CALLS_PER_STATE + 5
  await succeeded(backend, 'q', backlog)
  const { p } = pruner(backend, { succeeded: 0 }, 'node-a', batchSize)
  const first = await p.pass()
  t.equal(first.pruned.succeeded, batchSize * MAX_CALLS_PER_STATE, 'one pass makes at most MAX_CALLS_PER_STATE calls of batchSize')
  t.equal(first.more, true, 'and says there is more')
  const second = await p.pass()
  t.equal(second.pruned.succeeded, 5)
  t.equal(second.more, false, 'done')
  await p.stop()
})
