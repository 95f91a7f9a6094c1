import t from 'tap'
import type { Backend, WorkerInfo } from '../../core/backend/types.ts'
import { call, newTask, serverBackend, suffix, waitFor } from '../../core/admin/test-support.ts'
import { adminService, gatewayFor, httpsCall, makeCerts } from './support.ts'

// Workers lease only tasks whose handler they run, so work no live worker can run
// waits. The admin contract says so: the worker registry lists each worker's
// handlers, the overview, queue detail and GetTask name unserved pending handlers,
// and EnqueueTask stores such a task but warns. Through the service and the gateway.

function worker (id: string, queue: string, handlers: string[]): WorkerInfo {
  return { id, host: 'h', pid: 1, version: 'v', queues: [queue], handlers, concurrency: 2, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now() }
}

async function heartbeat (backend: Backend, info: WorkerInfo): Promise<void> {
  await backend.heartbeatWorker(info, 60_000)
}

t.test('service: workers show their handlers; overview, queue and task name unserved handlers; enqueue warns', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const queue = `cover-${suffix()}`
  const other = `cover-other-${suffix()}`
  const [mail, sms] = (await backend.enqueue([
    newTask(queue, { handler: 'send_email' }), newTask(queue, { handler: 'send_sms', delayMs: 3600_000 }), newTask(other, { handler: 'send_email' })
  ])).map(r => r.id) as [string, string]
  await heartbeat(backend, worker('mailer', queue, ['send_email']))

  const { workers } = await service.ListWorkers({}, call())
  t.same(workers.find(w => w.id === 'mailer')?.handlers, ['send_email'], 'the registry shows the handlers')

  const overview = await service.GetOverview({}, call())
  t.same(overview.unservedHandlers, [{ queue, handler: 'send_sms' }], 'only the pending handler no worker runs (scheduled counts as pending)')
  t.same((await service.GetQueue({ name: queue }, call())).unservedHandlers, ['send_sms'])
  t.same((await service.GetQueue({ name: other }, call())).unservedHandlers, [], 'a served queue has none')
  t.equal((await service.GetTask({ id: mail }, call())).handlerServed, true)
  t.equal((await service.GetTask({ id: sms }, call())).handlerServed, false)

  const warned = await service.EnqueueTask({ handler: 'send_fax', queue }, call())
  t.ok(warned.created, 'the task is stored anyway: a worker may start later')
  t.match(warned.warnings, [/no live worker runs handler send_fax/])
  t.match(await backend.getTask(warned.id), { state: 'ready', attempts: 0 })
  t.same((await service.EnqueueTask({ handler: 'send_email', queue }, call())).warnings, [], 'no warning for a served handler')
  t.same((await service.GetQueue({ name: queue }, call())).unservedHandlers, ['send_fax', 'send_sms'])

  await heartbeat(backend, worker('faxer', queue, ['send_fax', 'send_sms']))
  t.same((await service.GetQueue({ name: queue }, call())).unservedHandlers, [], 'served once a worker with them is live')
  t.equal((await service.GetTask({ id: sms }, call())).handlerServed, true)
  await waitFor(async () => (await service.GetOverview({}, call())).unservedHandlers.length === 0, 'the overview to drop them')

  await backend.removeWorker('faxer')
  const [leased] = await backend.leaseTasks({ workerId: 'mailer', queues: [queue], limit: 1, leaseMs: 30_000, handlers: ['send_email'] })
  t.equal((await service.GetTask({ id: leased!.id }, call())).handlerServed, undefined, 'absent for a task that is not pending')
})

t.test('gateway: the same fields over HTTPS', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  const as = { identity: certs.admin }
  const queue = `cover-http-${suffix()}`
  await heartbeat(backend, worker('mailer', queue, ['send_email']))

  const enqueued = await httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', body: JSON.stringify({ handler: 'send_fax', queue }), headers: { 'content-type': 'application/json' }, ...as })
  t.equal(enqueued.status, 200, JSON.stringify(enqueued.json))
  t.match(enqueued.json, { created: true, queue, warnings: [/no live worker runs handler send_fax/] })
  const task = await httpsCall(address, { path: `/admin/v1/tasks/${String(enqueued.json.id)}`, ...as })
  t.equal(task.json.handlerServed, false)
  const detail = await httpsCall(address, { path: `/admin/v1/queues/${queue}`, ...as })
  t.same(detail.json.unservedHandlers, ['send_fax'])
  const overview = await httpsCall(address, { path: '/admin/v1/overview', ...as })
  t.same(overview.json.unservedHandlers, [{ queue, handler: 'send_fax' }])
  const workers = await httpsCall(address, { path: '/admin/v1/workers', ...as })
  t.same(workers.json.workers.map((w: { handlers: string[] }) => w.handlers), [['send_email']])
  const served = await httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', body: JSON.stringify({ handler: 'send_email', queue }), headers: { 'content-type': 'application/json' }, ...as })
  t.same(served.json.warnings, [], 'a served handler: an empty warnings list')
})

t.test('enqueue remembers a served handler briefly, forgets it on a cordon, never remembers an unserved one', async t => {
  const backend = await serverBackend(t)
  let registryReads = 0
  const listWorkers = backend.listWorkers.bind(backend)
  backend.listWorkers = async (...args) => { registryReads++; return await listWorkers(...args) }
  const { service } = adminService(t, backend)
  const queue = `cover-seen-${suffix()}`
  await heartbeat(backend, worker('mailer-seen', queue, ['send_email']))

  t.same((await service.EnqueueTask({ handler: 'send_email', queue }, call())).warnings, [])
  const readsAfterFirst = registryReads
  t.same((await service.EnqueueTask({ handler: 'send_email', queue }, call())).warnings, [], 'served')
  t.equal(registryReads, readsAfterFirst, 'a second enqueue within a second does not read the registry again')

  t.match((await service.EnqueueTask({ handler: 'send_fax', queue }, call())).warnings, [/send_fax/])
  await heartbeat(backend, worker('faxer-seen', queue, ['send_fax']))
  t.same((await service.EnqueueTask({ handler: 'send_fax', queue }, call())).warnings, [], 'a worker that just started is seen at once')

  await service.CordonWorker({ id: 'mailer-seen' }, call())
  t.match((await service.EnqueueTask({ handler: 'send_email', queue }, call())).warnings, [/no live worker runs handler send_email/], 'a cordon made here is seen at once')
})

t.test('concurrent enqueues of an unserved handler share one registry read, and each still warns', async t => {
  const backend = await serverBackend(t)
  let registryReads = 0
  const listWorkers = backend.listWorkers.bind(backend)
  backend.listWorkers = async (...args) => { registryReads++; return await listWorkers(...args) }
  const { service } = adminService(t, backend)
  const queue = `cover-burst-${suffix()}`

  const burst = await Promise.all(Array.from({ length: 20 }, () => service.EnqueueTask({ handler: 'send_pager', queue }, call())))
  t.ok(burst.every(answer => answer.created && answer.warnings.some(w => /no live worker runs handler send_pager/.test(w))), 'every enqueue of the burst warns')
  t.ok(registryReads < 20, `20 concurrent enqueues read the registry ${registryReads} times (shared reads)`)

  await heartbeat(backend, worker('pager-burst', queue, ['send_pager']))
  t.same((await service.EnqueueTask({ handler: 'send_pager', queue }, call())).warnings, [], 'a worker that started after the burst is seen by the next enqueue')
})
