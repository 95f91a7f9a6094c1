import type { OverviewRead } from '../../types.ts'
import { conformanceCase, enqueueIds, leaseId, newTask, type ConformanceArea } from '../support.ts'

// readOverview is optional: the admin overview drives backends without it through
// queueStats, listWorkers, getCoordinationState, pendingHandlers and readEvents, so
// these cases only run where it exists, and check it answers what those calls answer.
export const overviewReadArea: ConformanceArea = {
  name: 'overview-read',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx
    if (backend.readOverview === undefined) {
      t.pass('readOverview not offered; the overview makes the separate calls')
      return
    }
    const readOverview = backend.readOverview.bind(backend)

    conformanceCase(t, 'readOverview answers what the separate calls answer', async t => {
      const a = ctx.name('ov-a')
      const b = ctx.name('ov-b')
      const ids = await enqueueIds(backend, [newTask(a), newTask(a, { handler: 'ov.other' }), newTask(b), newTask(b, { delayMs: caps.delayedTasks ? 60_000 : 0 })])
      await leaseId(backend, a, ids[0]!)
      await backend.ensureQueues([ctx.name('ov-empty')])
      if (caps.workerRegistry) {
        await backend.heartbeatWorker({ id: ctx.name('w'), host: 'h', pid: 1, version: 'v', queues: [a], handlers: ['conformance.handler'], concurrency: 1, inFlight: 1, startedAt: Date.now(), lastHeartbeatAt: 0 }, 60_000)
      }
      if (caps.eventLog) await backend.appendEvents([{ type: 'task.succeeded', data: { durationMs: 5 } }, { type: 'overview.test', data: null }])

      const read: OverviewRead = await readOverview({ pendingLimit: 100, events: caps.eventLog ? { afterId: null, limit: 100 } : null })
      const queues = await backend.queueStats()
      t.same(read.queues, queues, 'queues: as queueStats()')
      t.same(read.coordination, await backend.getCoordinationState(), 'coordination: as getCoordinationState()')
      if (caps.workerRegistry) {
        const strip = (list: typeof read.workers): unknown => list?.map(({ lastHeartbeatAt: _at, ...rest }) => rest)
        t.same(strip(read.workers), strip(await backend.listWorkers()), 'workers: as listWorkers()')
        const separate = await backend.pendingHandlers({ queues: queues.map(queue => queue.name), limit: 100 })
        const key = (pair: { queue: string, handler: string }): string => `${pair.queue}\u0000${pair.handler}`
        t.same(read.pending.map(key).sort(), separate.map(key).sort(), 'pending: as pendingHandlers() over every listed queue')
        t.ok(read.pending.some(pair => pair.queue === a && pair.handler === 'ov.other'), 'a pending handler of the read queues is among them')
      } else {
        t.equal(read.workers, null, 'workers: null without a worker registry')
      }
      if (caps.eventLog) {
        t.same(read.events, await backend.readEvents({ afterId: null, limit: 100 }), 'events: as readEvents()')
        const last = read.events.at(-1)!
        const after = await readOverview({ pendingLimit: 0, events: { afterId: last.id, limit: 100 } })
        t.same(after.events, [], 'events after the newest: none')
        t.same(after.pending, [], 'pendingLimit 0: no pairs read')
      } else {
        t.same(read.events, [], 'events: none without an event log')
      }
    })
  }
}
