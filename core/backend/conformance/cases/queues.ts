import type { QueueStats } from '../../types.ts'
import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, enqueueOne, leaseId, makeDead, newTask,
  type ConformanceArea
} from '../support.ts'

const ZERO_COUNTS = { ready: 0, scheduled: 0, processing: 0, retrying: 0, dead: 0, succeeded: 0, canceled: 0 }

function counts (stats: QueueStats | undefined): Record<string, number> | undefined {
  if (stats === undefined) return undefined
  const { ready, scheduled, processing, retrying, dead, succeeded, canceled } = stats
  return { ready, scheduled, processing, retrying, dead, succeeded, canceled }
}

export const queuesArea: ConformanceArea = {
  name: 'queues',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    conformanceCase(t, 'queueStats counts every state exactly, across queues, in one call', async t => {
      const a = ctx.name('stats-a')
      const b = ctx.name('stats-b')
      const c = ctx.name('stats-c')
      await backend.ensureQueues([c])
      const [toComplete, toRetry, toKill, stillRunning, toCancel] = await enqueueIds(backend, Array.from({ length: 6 }, (_, i) => newTask(a, { payload: { i } }))) as [string, string, string, string, string, string]
      const leases = []
      for (const id of [toComplete, toRetry, toKill, stillRunning]) leases.push(await leaseId(backend, a, id))
      await backend.completeTasks([{ id: toComplete, leaseToken: leases[0]!.leaseToken }])
      await backend.failTasks([
        { id: toRetry, leaseToken: leases[1]!.leaseToken, error: { message: 'later' }, retryDelayMs: 60_000 },
        { id: toKill, leaseToken: leases[2]!.leaseToken, error: { message: 'fatal' }, retryDelayMs: null }
      ])
      const expectA = { ...ZERO_COUNTS, ready: 2, processing: 1, succeeded: 1, retrying: 1, dead: 1 }
      if (caps.cancel) {
        await backend.cancelTask(toCancel)
        expectA.ready--
        expectA.canceled++
      }
      if (caps.delayedTasks) {
        await enqueueOne(backend, newTask(a, { delayMs: 60_000 }))
        expectA.scheduled++
      }
      const [deadB] = await makeDead(backend, b, 2)
      await enqueueIds(backend, [newTask(b), newTask(b), newTask(b)])
      const expectB = { ...ZERO_COUNTS, ready: 3, dead: 2 }

      const check = async (label: string): Promise<void> => {
        const stats = await backend.queueStats([a, b, c])
        t.same(stats.map(s => s.name).sort(), [a, b, c].sort(), `${label}: exactly the named queues`)
        t.same(counts(stats.find(s => s.name === a)), expectA, `${label}: ${a}`)
        t.same(counts(stats.find(s => s.name === b)), expectB, `${label}: ${b}`)
        t.same(counts(stats.find(s => s.name === c)), ZERO_COUNTS, `${label}: ${c} (empty)`)
      }
      await check('after lease/ack/fail/cancel')

      await backend.requeueTasks({ ids: [toKill], fromStates: ['dead'] })
      expectA.dead--
      expectA.ready++
      await backend.deleteTasks({ ids: [deadB as string], fromStates: ['dead'] })
      expectB.dead--
      await check('after replay and delete')

      await backend.releaseTasks([{ id: stillRunning, leaseToken: leases[3]!.leaseToken }])
      expectA.processing--
      expectA.ready++
      await check('after release')
    })

    conformanceCase(t, 'ensureQueues lists empty queues with defaults, idempotently', async t => {
      const names = [ctx.name('empty-1'), ctx.name('empty-2')]
      await backend.ensureQueues(names)
      await backend.ensureQueues(names)
      const all = await backend.queueStats()
      for (const name of names) {
        const matching = all.filter(s => s.name === name)
        t.equal(matching.length, 1, `${name} listed once by queueStats()`)
        t.match(matching[0], { name, ...ZERO_COUNTS, weight: null, paused: false })
      }
      await backend.ensureQueues([])
    })

    conformanceCase(t, 'queueStats(names) answers only the named queues', async t => {
      const one = ctx.name('named-1')
      const two = ctx.name('named-2')
      await backend.ensureQueues([one, two])
      t.same((await backend.queueStats([one])).map(s => s.name), [one])
      t.same((await backend.queueStats([two, one])).map(s => s.name).sort(), [one, two].sort())
      t.same(await backend.queueStats([]), [], 'no names: empty answer')
    })

    conformanceCaseNeeding(t, ctx, ['queueWeights'], 'weights: set, change, clear with null', async t => {
      const queue = ctx.name('weight')
      await backend.ensureQueues([queue])
      await backend.setQueueWeight(queue, 3)
      t.equal((await backend.queueStats([queue]))[0]?.weight, 3)
      await backend.setQueueWeight(queue, 7)
      t.equal((await backend.queueStats([queue]))[0]?.weight, 7)
      await backend.setQueueWeight(queue, null)
      t.equal((await backend.queueStats([queue]))[0]?.weight, null, 'null clears the override')
      await backend.setQueueWeight(queue, null)
      t.equal((await backend.queueStats([queue]))[0]?.weight, null, 'clearing twice is harmless')
      t.equal((await ctx.peer.queueStats([queue]))[0]?.weight, null, 'another node sees the same')
    })

    conformanceCaseNeeding(t, ctx, ['queueWeights'], 'a weight set on a queue before its first task is kept', async t => {
      const queue = ctx.name('weight-first')
      await backend.ensureQueues([queue])
      await backend.setQueueWeight(queue, 5)
      await enqueueOne(backend, newTask(queue))
      t.match((await backend.queueStats([queue]))[0], { weight: 5, ready: 1 })
    })

    conformanceCaseNeeding(t, ctx, ['queuePause'], 'pause and unpause, idempotently, visible to other nodes', async t => {
      const queue = ctx.name('pause')
      await enqueueOne(backend, newTask(queue))
      await backend.setQueuePaused(queue, true)
      await backend.setQueuePaused(queue, true)
      t.match((await backend.queueStats([queue]))[0], { paused: true, ready: 1 })
      t.equal((await ctx.peer.queueStats([queue]))[0]?.paused, true, 'another node sees the pause')
      await backend.setQueuePaused(queue, false)
      t.equal((await backend.queueStats([queue]))[0]?.paused, false)
      await backend.setQueuePaused(queue, false)
      t.equal((await backend.queueStats([queue]))[0]?.paused, false, 'unpausing twice is harmless')
    })
  }
}
