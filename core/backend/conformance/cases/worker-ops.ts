import type { WorkerInfo } from '../../types.ts'
import {
  conformanceCase, conformanceCaseNeeding, enqueueIds, mustGetTask, newTask, waitFor,
  type ConformanceArea
} from '../support.ts'

// Operators' actions on workers: the cordon stored on a registry entry (and answered
// by heartbeats), stale entries kept after the ttl and swept, and the leases of one
// worker recovered at once.

function workerInfo (id: string): WorkerInfo {
  return {
    id,
    host: 'conformance-host',
    pid: 4242,
    version: '1.2.3',
    queues: ['default'],
    handlers: ['conformance.handler'],
    concurrency: 4,
    inFlight: 0,
    startedAt: 1_700_000_000_000,
    lastHeartbeatAt: 1_700_000_000_000
  }
}

export const workerOpsArea: ConformanceArea = {
  name: 'worker-ops',
  run (t, ctx) {
    const { backend, peer } = ctx

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'a cordon is stored on the entry, seen on every node and answered by the next heartbeat; beats keep it', async t => {
      const id = ctx.name('cordoned')
      t.same(await backend.heartbeatWorker(workerInfo(id), 60_000), { cordoned: false }, 'a new worker is not cordoned')
      t.equal(await peer.setWorkerCordoned(id, true), true, 'cordoned from another node')
      const listed = (await backend.listWorkers()).find(w => w.id === id)
      t.equal(listed?.cordoned, true, 'listWorkers shows the cordon')
      t.equal(listed?.stale, false, 'a live worker is not stale')
      t.same(await backend.heartbeatWorker({ ...workerInfo(id), inFlight: 3 }, 60_000), { cordoned: true }, 'the heartbeat answers the cordon')
      t.same(await backend.heartbeatWorker({ ...workerInfo(id), cordoned: false }, 60_000), { cordoned: true }, 'a beat never clears it, whatever its info says')
      t.equal((await peer.listWorkers()).find(w => w.id === id)?.inFlight, 0, 'the beats still update the entry')
      t.equal(await backend.setWorkerCordoned(id, true), true, 'cordoning twice is harmless')
      t.equal(await backend.setWorkerCordoned(id, false), true, 'uncordoned')
      t.same(await backend.heartbeatWorker(workerInfo(id), 60_000), { cordoned: false }, 'the next heartbeat answers it')
      t.equal((await peer.listWorkers()).find(w => w.id === id)?.cordoned, false, 'listed uncordoned')
      t.equal(await backend.setWorkerCordoned(ctx.name('unknown-worker'), true), false, 'an unknown worker: false, nothing stored')
      t.notOk((await backend.listWorkers({ includeStale: true })).some(w => w.id.startsWith(ctx.name('unknown-worker'))), 'and no entry appears')
      await backend.removeWorker(id)
      t.equal(await backend.setWorkerCordoned(id, true), false, 'a removed worker is unknown')
    })

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'a cordoned worker id leases nothing from the cordon on, its acks still count; others lease; uncordoned it leases again', async t => {
      const queue = ctx.name('cordon-lease')
      const cordoned = ctx.name('cordon-leaser')
      const other = ctx.name('cordon-other')
      const lease = (workerId: string, limit: number) => ({ workerId, queues: [queue], limit, leaseMs: 60_000 })
      await backend.heartbeatWorker(workerInfo(cordoned), 60_000)
      const ids = await enqueueIds(backend, Array.from({ length: 4 }, () => newTask(queue)))
      const [held] = await waitFor(async () => {
        const leased = await backend.leaseTasks(lease(cordoned, 1))
        return leased.length === 1 ? leased : undefined
      }, { timeoutMs: 5000, what: 'a task leased before the cordon' })
      t.equal(await peer.setWorkerCordoned(cordoned, true), true, 'cordoned from another node')
      t.same(await backend.leaseTasks(lease(cordoned, 10)), [], 'its next lease takes nothing, before any heartbeat')
      const ack = { id: held!.id, leaseToken: held!.leaseToken }
      if (backend.completeAndLease !== undefined) {
        const { acks, leased } = await backend.completeAndLease([ack], lease(cordoned, 10))
        t.same(acks, ['ok'], 'the ack riding with a lease is written')
        t.same(leased, [], 'and the lease takes nothing')
      } else {
        t.same(await backend.completeTasks([ack]), ['ok'], 'its ack is written')
      }
      if (backend.capabilities.flowControl === true) {
        // with limits stored, leases go through the flow-limited path: refused there too
        await backend.setFlowLimit({ kind: 'queue', name: queue }, { concurrency: 10, rate: null })
        try {
          t.same(await backend.leaseTasks(lease(cordoned, 10)), [], 'with flow limits stored: nothing either')
        } finally {
          await backend.clearFlowLimit({ kind: 'queue', name: queue })
        }
      }
      const states = await Promise.all(ids.map(async id => (await mustGetTask(backend, id)).state))
      t.same(states, ['succeeded', 'ready', 'ready', 'ready'], 'the rest wait, attempts untouched')
      const taken = await peer.leaseTasks({ ...lease(other, 2) })
      t.equal(taken.length, 2, 'another worker leases them')
      t.equal(await backend.setWorkerCordoned(cordoned, false), true, 'uncordoned')
      const again = await backend.leaseTasks(lease(cordoned, 10))
      t.same(again.map(l => l.id), [ids[3]], 'it leases again at once')
      await backend.completeTasks([...taken, ...again].map(l => ({ id: l.id, leaseToken: l.leaseToken })))
      await backend.removeWorker(cordoned)
    })

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'a silent worker stays in the registry as stale; a sweep removes it (never a live one) and reports it', async t => {
      const gone = ctx.name('stale')
      const live = ctx.name('live')
      await backend.heartbeatWorker(workerInfo(gone), 1_000)
      await backend.heartbeatWorker(workerInfo(live), 60_000)
      t.equal(await backend.setWorkerCordoned(gone, true), true, 'cordoned while live')
      await waitFor(async () => !(await backend.listWorkers()).some(w => w.id === gone), { timeoutMs: 10_000, what: 'the silent worker to drop out of the live list' })
      const all = await peer.listWorkers({ includeStale: true })
      const stale = all.find(w => w.id === gone)
      t.equal(stale?.stale, true, 'listed as stale with includeStale')
      t.equal(stale?.cordoned, true, 'its cordon is kept')
      t.equal(all.find(w => w.id === live)?.stale, false, 'a live worker is listed too, not stale')
      t.type(stale?.lastHeartbeatAt, 'number')

      t.notOk((await backend.sweepWorkers({ olderThanMs: 3_600_000, limit: 100 })).some(w => w.id === gone), 'younger than olderThanMs: kept')
      const preview = await backend.sweepWorkers({ olderThanMs: 0, limit: 1000, dryRun: true })
      t.ok(preview.some(w => w.id === gone && w.stale === true && w.cordoned === true), 'the dry run reports the stale entry')
      t.notOk(preview.some(w => w.id === live), 'never a live one')
      t.ok((await backend.listWorkers({ includeStale: true })).some(w => w.id === gone), 'the dry run removed nothing')

      const swept = await peer.sweepWorkers({ olderThanMs: 0, limit: 1000 })
      t.same(swept.map(w => w.id).filter(id => id === gone || id === live), [gone], 'the sweep removes exactly the stale entry')
      const after = await backend.listWorkers({ includeStale: true })
      t.notOk(after.some(w => w.id === gone), 'gone from the registry')
      t.ok(after.some(w => w.id === live), 'the live worker stays')
      t.equal(await backend.setWorkerCordoned(gone, false), false, 'a swept worker is unknown')
      t.same((await backend.sweepWorkers({ olderThanMs: 0, limit: 1000 })).filter(w => w.id === gone), [], 'sweeping again removes nothing more')

      await backend.heartbeatWorker(workerInfo(gone), 60_000)
      t.equal((await backend.listWorkers()).find(w => w.id === gone)?.cordoned, false, 'a swept worker that beats again starts afresh')
      await backend.removeWorker(gone)
      await backend.removeWorker(live)
    })

    conformanceCase(t, 'releaseWorkerLeases recovers one worker\'s leases now: requeued, or dead on the last attempt; others untouched', async t => {
      const mine = ctx.name('release-mine')
      const other = ctx.name('release-other')
      const lost = ctx.name('lost-worker')
      const [retryable, lastAttempt] = await enqueueIds(backend, [newTask(mine, { maxAttempts: 3, priority: 5 }), newTask(mine, { maxAttempts: 1 })])
      const [untouched] = await enqueueIds(backend, [newTask(other)])
      const held = await waitFor(async () => {
        const leased = await backend.leaseTasks({ workerId: lost, queues: [mine], limit: 2, leaseMs: 600_000 })
        return leased.length === 2 ? leased : undefined
      }, { timeoutMs: 5000, what: 'two tasks to lease' })
      const [kept] = await backend.leaseTasks({ workerId: ctx.name('healthy-worker'), queues: [other], limit: 1, leaseMs: 600_000 })
      t.equal(kept?.id, untouched, 'another worker holds a task too')

      const preview = await backend.releaseWorkerLeases({ workerId: lost, limit: 100, dryRun: true })
      t.same({ requeued: preview.requeued, dead: preview.dead }, { requeued: [retryable], dead: [lastAttempt] }, 'the dry run reports what would happen')
      t.equal((await mustGetTask(backend, retryable as string)).state, 'processing', 'the dry run changed nothing')

      const released = await peer.releaseWorkerLeases({ workerId: lost, limit: 100 })
      t.same(released, { requeued: [retryable], dead: [lastAttempt] }, 'released from another node')
      const requeued = await mustGetTask(backend, retryable as string)
      t.equal(requeued.state, 'ready', 'attempts left: ready again')
      t.equal(requeued.attempts, 1, 'the released attempt stays counted')
      const dead = await mustGetTask(backend, lastAttempt as string)
      t.equal(dead.state, 'dead', 'its last attempt: dead-lettered')
      t.ok(dead.lastError !== null && dead.lastError.length > 0, 'the DLQ entry says why')
      t.equal((await mustGetTask(backend, untouched as string)).state, 'processing', 'another worker\'s lease is untouched')

      const tokens = held.map(l => ({ id: l.id, leaseToken: l.leaseToken }))
      t.same(await backend.completeTasks(tokens), ['lease_lost', 'lease_lost'], 'the lost worker\'s late acks are refused')
      t.same(await backend.extendLeases(tokens, 30_000), [null, null], 'and its extensions')
      t.same(await backend.failTasks(tokens.map(ref => ({ ...ref, error: { message: 'late' }, retryDelayMs: 0 }))), ['lease_lost', 'lease_lost'], 'and its failures')
      t.equal((await mustGetTask(backend, retryable as string)).state, 'ready', 'still ready after the late writes')

      const again = await waitFor(async () => (await backend.leaseTasks({ workerId: ctx.name('next-worker'), queues: [mine], limit: 1, leaseMs: 30_000 }))[0], { timeoutMs: 5000, what: 'the requeued task to lease again' })
      t.equal(again.id, retryable, 'another worker leases it again')
      t.equal(again.attempts, 2, 'as its next attempt')
      t.same(await backend.releaseWorkerLeases({ workerId: lost, limit: 100 }), { requeued: [], dead: [] }, 'releasing again finds nothing')
      t.same(await backend.releaseWorkerLeases({ workerId: ctx.name('never-seen'), limit: 100 }), { requeued: [], dead: [] }, 'a worker that never leased: nothing')
      await backend.completeTasks([{ id: again.id, leaseToken: again.leaseToken }, { id: kept!.id, leaseToken: kept!.leaseToken }])
    })

    conformanceCase(t, 'releaseWorkerLeases honours its limit', async t => {
      const queue = ctx.name('release-limit')
      const lost = ctx.name('lost-many')
      await enqueueIds(backend, Array.from({ length: 5 }, () => newTask(queue)))
      await waitFor(async () => (await backend.leaseTasks({ workerId: lost, queues: [queue], limit: 5, leaseMs: 600_000 })).length === 5 || undefined, { timeoutMs: 5000, what: 'five tasks to lease' })
      const first = await backend.releaseWorkerLeases({ workerId: lost, limit: 2 })
      t.equal(first.requeued.length, 2, 'at most limit per call')
      const rest = await backend.releaseWorkerLeases({ workerId: lost, limit: 100 })
      t.equal(rest.requeued.length, 3, 'the next call takes the rest')
      t.equal(new Set([...first.requeued, ...rest.requeued]).size, 5, 'each once')
    })
  }
}
