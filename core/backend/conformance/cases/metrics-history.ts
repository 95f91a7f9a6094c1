import type { Test } from 'tap'
import { getMetricsHistory, MetricsHistory } from '../../../metrics-history/index.ts'
import type { Backend } from '../../types.ts'
import {
  conformanceCaseNeeding, enqueueOne, leaseId, makeDead, mustGetTask, newTask, waitFor,
  type ConformanceArea
} from '../support.ts'

// The metrics history counts every dead-letter, whichever path took the task there:
// the recovery sweep of an expired lease on the last attempt, an operator's release of
// a worker's leases, a dependency cascade and a worker's own failure. The leader reads
// them from the store (core/metrics-history/dead-letters.ts), so each backend must
// list its dead tasks by finish time whatever put them there.

async function historyCounts (backend: Backend, queue: string): Promise<{ failed: number, dead: number }> {
  const series = await getMetricsHistory(backend, { window: '1h', queue })
  let failed = 0
  let dead = 0
  for (const point of series.points) { failed += point.counts.failed; dead += point.counts.dead }
  return { failed, dead }
}

/** one leader round of a fresh recorder (settled at once: the tasks died before it) */
async function leaderRound (t: Test, backend: Backend, nodeId: string): Promise<void> {
  const history = new MetricsHistory(backend, { nodeId, deadLetterSettleMs: 0 })
  try {
    t.equal(await history.leaderTick(), true, 'the recorder leads')
  } finally {
    await history.close()
  }
}

export const metricsHistoryArea: ConformanceArea = {
  name: 'metrics-history',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCaseNeeding(t, ctx, ['records', 'leaderLock'], 'a task dead-lettered by lease expiry (and by release, cascade, failure) shows in the failed and dead series', async t => {
      const queue = ctx.name('history-dead')
      const expired = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      await leaseId(backend, queue, expired, 100)
      await waitFor(async () => (await backend.recoverExpiredLeases(100)).dead.includes(expired) || (await backend.getTask(expired))?.state === 'dead',
        { timeoutMs: 10_000, what: 'the expired lease to be recovered into the DLQ' })
      t.equal((await mustGetTask(backend, expired)).state, 'dead', 'the recovery sweep dead-lettered it')

      const released = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
      await backend.leaseTasks({ workerId: ctx.name('history-lost-worker'), queues: [queue], limit: 1, leaseMs: 60_000 })
      t.same((await backend.releaseWorkerLeases({ workerId: ctx.name('history-lost-worker'), limit: 10 })).dead, [released], 'an operator release on the last attempt dead-letters it')

      let expected = 2
      if (backend.capabilities.dependencies === true) {
        const parent = await enqueueOne(backend, newTask(queue, { maxAttempts: 1 }))
        const child = await enqueueOne(backend, newTask(queue, { dependsOn: [parent], onParentFailure: 'dead' }))
        const leased = await leaseId(backend, queue, parent)
        await backend.failTasks([{ id: parent, leaseToken: leased.leaseToken, error: { message: 'fatal' }, retryDelayMs: null }])
        t.equal((await mustGetTask(backend, child)).state, 'dead', 'the cascade dead-lettered the child')
        expected += 2
      }
      await makeDead(backend, queue, 1)
      expected += 1

      await leaderRound(t, backend, ctx.name('history-leader'))
      t.same(await historyCounts(backend, queue), { failed: expected, dead: expected }, 'every dead-letter counted once, as failed and dead')
      await leaderRound(t, backend, ctx.name('history-next-leader'))
      t.same(await historyCounts(backend, queue), { failed: expected, dead: expected }, 'the next leader continues from the cursor: nothing counted twice')
    })
  }
}
