import t, { type Test } from 'tap'
import * as grpc from '@grpc/grpc-js'
import { newTask, serverBackend, suffix } from '../../core/admin/test-support.ts'
import type { AdminService } from '../../core/admin/types.ts'
import type { Backend } from '../../core/backend/types.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import {
  ADMIN_IDENTITY, GATEWAY_IDENTITY, VIEWER_IDENTITY, adminService, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts,
  type ClientIdentity, type TestCerts
} from './support.ts'

// BulkTaskAction, DrainQueue and RescheduleTask over both transports: the gateway in
// front of a gRPC hop to the service, and gRPC on its own.

async function grpcServer (t: Test, service: AdminService, certs: TestCerts): Promise<string> {
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY], onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  return server.address
}

/** a gateway that reaches the service over gRPC, so every call crosses both transports */
async function throughBoth (t: Test, service: AdminService, certs: TestCerts): Promise<{ address: string, grpcAddress: string }> {
  const grpcAddress = await grpcServer(t, service, certs)
  const remote = createGrpcAdminClient({ target: grpcAddress, tls: { ca: certs.server.ca, cert: certs.gateway.cert, key: certs.gateway.key } })
  t.teardown(() => { remote.close() })
  const { address } = await gatewayFor(t, remote, certs)
  return { address, grpcAddress }
}

function post (address: string, identity: ClientIdentity, path: string, body: unknown, headers: Record<string, string> = {}) {
  return httpsCall(address, { method: 'POST', path, identity, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })
}

async function states (backend: Backend, ids: string[]): Promise<string[]> {
  return await Promise.all(ids.map(async id => (await backend.getTask(id))?.state ?? 'gone'))
}

t.test('BulkTaskAction: a dry run over the gateway names exactly what the real call changes, the processing task is skipped, and the call is audited', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await throughBoth(t, service, certs)
  const queue = `bulk-${suffix()}`
  const ids = (await backend.enqueue([newTask(queue), newTask(queue), newTask(queue, { delayMs: 3_600_000 }), newTask(queue)])).map(r => r.id)
  const [running] = (await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 1, leaseMs: 60_000 })).map(l => l.id) as [string]

  const byFilter = { action: 'cancel', filter: { queue } }
  const dry = await post(address, certs.admin, '/admin/v1/tasks/bulk', { ...byFilter, dryRun: true })
  t.equal(dry.status, 200, dry.text)
  t.match(dry.json, { dryRun: true, action: 'cancel', count: 3, skipped: [], limitReached: false })
  t.same([...dry.json.changed].sort(), ids.filter(id => id !== running).sort(), 'every waiting task of the queue')
  t.equal(dry.json.sample.length, 3, 'a sample of what would change')
  t.same((await states(backend, ids)).filter(state => state === 'canceled'), [], 'the dry run changed nothing')
  const real = await post(address, certs.admin, '/admin/v1/tasks/bulk', byFilter)
  t.equal(real.status, 200, real.text)
  t.same([...real.json.changed].sort(), [...dry.json.changed].sort(), 'the same set')
  t.equal(real.json.dryRun, false)
  t.same(await states(backend, real.json.changed), ['canceled', 'canceled', 'canceled'])
  t.equal((await backend.getTask(running))?.state, 'processing')

  const named = await post(address, certs.admin, '/admin/v1/tasks/bulk', { action: 'retry', ids: [...ids, 'no-such-task'] })
  t.equal(named.status, 200, named.text)
  t.equal(named.json.count, 3)
  t.same(named.json.skipped.find((s: { id: string }) => s.id === running), { id: running, reason: 'wrong_state', state: 'processing' })
  t.same(named.json.skipped.find((s: { id: string }) => s.id === 'no-such-task'), { id: 'no-such-task', reason: 'not_found' })

  const [audit] = await backend.listAudit({ limit: 1, action: 'task.bulk' })
  t.match(audit, { action: 'task.bulk', target: 'tasks', outcome: 'ok', params: { action: 'retry', result: { dryRun: false, count: 3 } } })
})

t.test('BulkTaskAction refuses bad requests with the field named, caps the selection, and obeys roles and read-only', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend, { bulkMax: 3, roles: { [ADMIN_IDENTITY]: 'admin', [VIEWER_IDENTITY]: 'viewer' } })
  const certs = await makeCerts(t)
  const { address } = await throughBoth(t, service, certs)
  const queue = `bulk-bad-${suffix()}`
  const ids = (await backend.enqueue(Array.from({ length: 4 }, () => newTask(queue)))).map(r => r.id)
  const cases: Array<[string, unknown, number, string, string]> = [
    ['ids and a filter', { action: 'cancel', ids: [ids[0]], filter: { queue } }, 400, 'VALIDATION_FAILED', 'filter'],
    ['neither ids nor a filter', { action: 'cancel' }, 400, 'VALIDATION_FAILED', 'ids'],
    ['an unknown action', { action: 'explode', ids: [ids[0]] }, 400, 'VALIDATION_FAILED', 'action'],
    ['move without a queue', { action: 'move', ids: [ids[0]] }, 400, 'VALIDATION_FAILED', 'targetQueue'],
    ['reschedule without a change', { action: 'reschedule', ids: [ids[0]] }, 400, 'VALIDATION_FAILED', 'runAt'],
    ['priority on cancel', { action: 'cancel', ids: [ids[0]], priority: 3 }, 400, 'VALIDATION_FAILED', 'priority'],
    ['a filter offset', { action: 'cancel', filter: { queue, offset: 2 } }, 400, 'VALIDATION_FAILED', 'filter.offset'],
    ['more ids than the cap', { action: 'cancel', ids }, 429, 'GUARDRAIL_EXCEEDED', 'ids'],
    ['a filter limit over the cap', { action: 'cancel', filter: { queue, limit: 4 } }, 429, 'GUARDRAIL_EXCEEDED', 'filter.limit']
  ]
  for (const [what, body, status, code, field] of cases) {
    const res = await post(address, certs.admin, '/admin/v1/tasks/bulk', body)
    t.equal(res.status, status, `${what}: ${status}`)
    t.equal(res.json.error?.code, code, `${what}: ${code}`)
    t.match(res.json.error?.details?.field ?? '', new RegExp(`^${field}`), `${what}: names ${field}`)
  }
  t.same(await states(backend, ids), ['ready', 'ready', 'ready', 'ready'], 'nothing was half-applied')
  const byFilter = await post(address, certs.admin, '/admin/v1/tasks/bulk', { action: 'cancel', filter: { queue }, dryRun: true })
  t.match(byFilter.json, { count: 3, limitReached: true }, 'a filter without a limit selects up to the cap and says more may match')

  const viewer = await post(address, certs.viewer, '/admin/v1/tasks/bulk', { action: 'cancel', ids: [ids[0]], dryRun: true })
  t.equal(viewer.status, 403, 'a viewer may not, even a dry run')
  const readOnly = adminService(t, backend, { readOnly: true })
  const roAddress = await grpcServer(t, readOnly.service, certs)
  const refused = await grpcCall(grpcClient(t, roAddress, certs.admin, certs.server.ca), 'BulkTaskAction', { action: 'cancel', ids: [ids[0]] })
  t.equal(refused.error?.code, grpc.status.PERMISSION_DENIED)
  t.equal(refused.code, 'READ_ONLY')
})

t.test('BulkTaskAction over gRPC: the ListTasks message as the filter, reschedule and move', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const client = grpcClient(t, await grpcServer(t, service, certs), certs.admin, certs.server.ca)
  const queue = `bulk-grpc-${suffix()}`
  const target = `bulk-grpc-to-${suffix()}`
  const [a, b] = (await backend.enqueue([newTask(queue, { handler: 'mail.send' }), newTask(queue, { handler: 'sms.send' })])).map(r => r.id) as [string, string]
  const runAt = new Date(Date.now() + 3_600_000).toISOString()
  const later = await grpcCall(client, 'BulkTaskAction', { action: 'reschedule', ids: [], filter: { queue, handler: 'mail.send' }, runAt, priority: 7, maxAttempts: 9 })
  t.equal(later.error, undefined, String(later.error?.details))
  t.same(later.response?.changed, [a])
  t.match(await backend.getTask(a), { state: 'scheduled', priority: 7, maxAttempts: 9, runAt: Date.parse(runAt) })
  const moved = await grpcCall(client, 'BulkTaskAction', { action: 'move', ids: [a, b], targetQueue: target })
  t.same(moved.response?.changed, [a, b])
  t.match(await backend.getTask(a), { queue: target, state: 'scheduled' })
  t.match(await backend.getTask(b), { queue: target, state: 'ready' })
  const runNow = await grpcCall(client, 'BulkTaskAction', { action: 'run_now', ids: [a, b], dryRun: true })
  t.match(runNow.response, { dryRun: true, count: 1, changed: [a], skipped: [{ id: b, reason: 'wrong_state', state: 'ready' }] })
  t.equal(runNow.response?.sample?.[0]?.id, a)
})

t.test('DrainQueue deletes the ready tasks (and with includeScheduled the scheduled and retrying ones); RescheduleTask changes one waiting task', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await throughBoth(t, service, certs)
  const queue = `drain-${suffix()}`
  const [ready1, ready2, scheduled, running] = (await backend.enqueue([newTask(queue), newTask(queue), newTask(queue, { delayMs: 3_600_000 }), newTask(queue, { priority: 9 })])).map(r => r.id) as [string, string, string, string]
  await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 1, leaseMs: 60_000 })
  t.equal((await backend.getTask(running))?.state, 'processing')

  const dry = await post(address, certs.admin, `/admin/v1/queues/${queue}/drain`, { dryRun: true })
  t.equal(dry.status, 200, dry.text)
  t.match(dry.json, { dryRun: true, action: 'delete', count: 2 })
  t.same([...dry.json.changed].sort(), [ready1, ready2].sort())
  const drained = await post(address, certs.admin, `/admin/v1/queues/${queue}/drain`, {})
  t.same([...drained.json.changed].sort(), [...dry.json.changed].sort(), 'the real drain deletes what the dry run named')
  t.same(await states(backend, [ready1, ready2, scheduled, running]), ['gone', 'gone', 'scheduled', 'processing'])
  const all = await post(address, certs.admin, `/admin/v1/queues/${queue}/drain`, { includeScheduled: true })
  t.same(all.json.changed, [scheduled], 'includeScheduled takes the scheduled task too')
  const [audit] = await backend.listAudit({ limit: 1, action: 'queue.drain' })
  t.match(audit, { target: queue, outcome: 'ok', params: { includeScheduled: true, result: { count: 1 } } })
  const missing = await post(address, certs.admin, `/admin/v1/queues/nope-${suffix()}/drain`, { dryRun: true })
  t.equal(missing.status, 404)
  t.equal(missing.json.error.code, 'QUEUE_NOT_FOUND')

  const waiting = (await backend.enqueue([newTask(queue)]))[0]!.id
  const raised = await post(address, certs.admin, `/admin/v1/tasks/${waiting}/reschedule`, { priority: 42 })
  t.equal(raised.status, 200, raised.text)
  t.match(raised.json.task, { id: waiting, priority: 42, state: 'ready' })
  const runAt = new Date(Date.now() + 600_000).toISOString()
  const delayed = await post(address, certs.admin, `/admin/v1/tasks/${waiting}/reschedule`, { runAt, maxAttempts: 5 })
  t.match(delayed.json.task, { state: 'scheduled', runAt, maxAttempts: 5, priority: 42 })
  const busy = await post(address, certs.admin, `/admin/v1/tasks/${running}/reschedule`, { priority: 1 })
  t.equal(busy.status, 409, 'a processing task is a conflict')
  t.match(busy.json.error, { code: 'CONFLICT', details: { state: 'processing' } })
  const none = await post(address, certs.admin, `/admin/v1/tasks/${waiting}/reschedule`, {})
  t.equal(none.status, 400)
  t.equal(none.json.error.details.field, 'runAt')
  const gone = await post(address, certs.admin, `/admin/v1/tasks/${ready1}/reschedule`, { priority: 1 })
  t.equal(gone.status, 404)
})
