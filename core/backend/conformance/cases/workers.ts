import type { WorkerInfo } from '../../types.ts'
import {
  conformanceCaseNeeding, waitFor,
  type ConformanceArea
} from '../support.ts'

function workerInfo (id: string, overrides: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    id,
    host: 'conformance-host',
    pid: 4242,
    version: '1.2.3',
    queues: ['default', 'critical'],
    handlers: ['conformance.mail', 'conformance.sms'],
    concurrency: 8,
    inFlight: 2,
    startedAt: 1_700_000_000_000,
    lastHeartbeatAt: 1_700_000_000_000,
    ...overrides
  }
}

/** lastHeartbeatAt is the backend's to set (its clock), so it is compared separately. */
function withoutHeartbeat (info: WorkerInfo | undefined): Omit<WorkerInfo, 'lastHeartbeatAt'> | undefined {
  if (info === undefined) return undefined
  const { lastHeartbeatAt: _ignored, ...rest } = info
  return rest
}

export const workersArea: ConformanceArea = {
  name: 'workers',
  run (t, ctx) {
    const { backend, peer } = ctx

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'a heartbeat lists the worker; a second one updates it in place', async t => {
      const id = ctx.name('worker')
      const info = workerInfo(id)
      await backend.heartbeatWorker(info, 30_000)
      const listed = (await peer.listWorkers()).filter(w => w.id === id)
      t.equal(listed.length, 1, 'listed once, on every node')
      t.same(withoutHeartbeat(listed[0]), { ...withoutHeartbeat(info), cordoned: false, stale: false }, 'every field round-trips (not cordoned, not stale)')
      t.type(listed[0]?.lastHeartbeatAt, 'number')
      const first = listed[0]?.lastHeartbeatAt ?? 0
      await backend.heartbeatWorker({ ...info, inFlight: 5 }, 30_000)
      const updated = (await backend.listWorkers()).filter(w => w.id === id)
      t.equal(updated.length, 1, 'still one entry')
      t.equal(updated[0]?.inFlight, 5, 'updated in place')
      t.ok((updated[0]?.lastHeartbeatAt ?? 0) >= first, 'lastHeartbeatAt does not go back')
      await backend.removeWorker(id)
    })

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'a worker that stops heartbeating drops out after its ttl', async t => {
      const gone = ctx.name('short-ttl')
      const stays = ctx.name('long-ttl')
      await backend.heartbeatWorker(workerInfo(gone), 1_000)
      await backend.heartbeatWorker(workerInfo(stays), 60_000)
      t.ok((await backend.listWorkers()).some(w => w.id === gone), 'listed while its ttl lives')
      await waitFor(async () => !(await backend.listWorkers()).some(w => w.id === gone), { timeoutMs: 10_000, what: 'the silent worker to drop out' })
      t.ok((await backend.listWorkers()).some(w => w.id === stays), 'a live worker stays listed')
      await backend.removeWorker(stays)
    })

    conformanceCaseNeeding(t, ctx, ['workerRegistry'], 'removeWorker drops it at once; removing twice is harmless', async t => {
      const id = ctx.name('removed')
      await backend.heartbeatWorker(workerInfo(id), 60_000)
      await backend.removeWorker(id)
      t.notOk((await backend.listWorkers()).some(w => w.id === id), 'no longer listed')
      await backend.removeWorker(id)
      t.pass('second remove did not throw')
    })
  }
}
