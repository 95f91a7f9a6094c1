import t from 'tap'
import { newTask, serverBackend, suffix } from '../../core/admin/test-support.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import { GATEWAY_IDENTITY, adminService, gatewayFor, httpsCall, makeCerts } from './support.ts'

// Idempotency key modes, keys as handles and tenant/correlation filters on the wire:
// every call crosses the gateway, then gRPC, then the service.

t.test('idempotency modes, keys as handles, tenant and correlation id through the gateway and gRPC', async t => {
  const backend = await serverBackend(t)
  const { service, sink } = adminService(t, backend)
  const certs = await makeCerts(t)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY], onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  const remote = createGrpcAdminClient({ target: server.address, tls: { ca: certs.server.ca, cert: certs.gateway.cert, key: certs.gateway.key } })
  t.teardown(() => { remote.close() })
  const { address } = await gatewayFor(t, remote, certs)
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> =>
    await httpsCall(address, { method, path, identity: certs.admin, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })

  const queue = `keys-${suffix()}`
  const tenant = `acme-${suffix()}`
  const key = `order 42/${suffix()} ü`
  const byKey = `/admin/v1/tasks/by-key/${encodeURIComponent(key)}`

  const created = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', queue, payload: { v: 1 }, idempotencyKey: key, tenant, correlationId: 'flow-1', delayMs: 3_600_000 })
  t.equal(created.status, 200, JSON.stringify(created.json))
  t.match(created.json, { created: true, outcome: 'created', queue })
  const rejected = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', queue, payload: { v: 2 }, idempotencyKey: key })
  t.match(rejected.json, { id: created.json.id, created: false, outcome: 'existing' }, 'reject is the default')
  const replaced = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', queue, payload: { v: 3 }, priority: 7, idempotencyKey: key, idempotencyMode: 'preserve_run_at' })
  t.match(replaced.json, { id: created.json.id, created: false, outcome: 'replaced' })

  const got = await call('GET', byKey)
  t.equal(got.status, 200)
  t.match(got.json.task, { id: created.json.id, idempotencyKey: key, tenant, correlationId: 'flow-1', priority: 7, state: 'scheduled', payload: { v: 3 } }, 'GetTaskByKey: replaced in place, runAt kept, tenant shown')

  const listed = await call('GET', `/admin/v1/tasks?tenant=${tenant}`)
  t.same(listed.json.tasks.map((x: { id: string }) => x.id), [created.json.id], 'ListTasks by tenant')
  t.match(listed.json.tasks[0], { tenant, correlationId: 'flow-1' }, 'the list shows tenant and correlation id')
  const byFlow = await call('GET', `/admin/v1/tasks?correlationId=flow-1&queue=${queue}`)
  t.same(byFlow.json.tasks.map((x: { id: string }) => x.id), [created.json.id], 'ListTasks by correlation id')
  const dlq = await call('GET', `/admin/v1/dlq?tenant=${tenant}`)
  t.same(dlq.json.entries, [], 'ListDLQ takes the tenant filter')

  const badTenant = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', tenant: 'has space' })
  t.equal(badTenant.status, 400)
  t.match(badTenant.json.error, { code: 'VALIDATION_FAILED', message: /tenant/ })
  const noKey = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', idempotencyMode: 'replace' })
  t.equal(noKey.status, 400)
  t.match(noKey.json.error, { code: 'VALIDATION_FAILED', message: /idempotencyMode.*idempotencyKey/ })
  const badMode = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', idempotencyKey: 'x', idempotencyMode: 'overwrite' })
  t.equal(badMode.status, 400)
  t.match(badMode.json.error, { code: 'VALIDATION_FAILED', message: /idempotencyMode/ })
  const longCorrelation = await call('POST', '/admin/v1/tasks', { handler: 'mail.send', correlationId: 'x'.repeat(256) })
  t.equal(longCorrelation.status, 400, 'a correlation id longer than 255 characters is refused')

  const canceled = await call('POST', `${byKey}/cancel`)
  t.equal(canceled.status, 200, JSON.stringify(canceled.json))
  t.same(canceled.json, { id: created.json.id, key, state: 'canceled' })
  const dry = await call('DELETE', `${byKey}?dryRun=true`)
  t.match(dry.json, { key, deleted: false, id: created.json.id, state: 'canceled' }, 'a dry run names the task')
  t.equal((await backend.getTask(created.json.id))?.state, 'canceled', 'and leaves it')
  const deleted = await call('DELETE', byKey)
  t.match(deleted.json, { key, deleted: true, id: created.json.id })
  t.equal(await backend.getTask(created.json.id), null, 'the task is gone')
  const again = await call('DELETE', byKey)
  t.same(again.json, { key, deleted: false }, 'deleting again: nothing to delete, same final state')
  const missing = await call('GET', byKey)
  t.equal(missing.status, 404)
  t.equal(missing.json.error.code, 'TASK_NOT_FOUND')
  const cancelMissing = await call('POST', `${byKey}/cancel`)
  t.equal(cancelMissing.status, 404)

  // a running task can be neither canceled nor deleted by its key
  const runningKey = `run-${suffix()}`
  await backend.enqueue([newTask(queue, { idempotencyKey: runningKey })])
  await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 1, leaseMs: 30_000 })
  const cancelRunning = await call('POST', `/admin/v1/tasks/by-key/${runningKey}/cancel`)
  t.equal(cancelRunning.status, 409)
  const deleteRunning = await call('DELETE', `/admin/v1/tasks/by-key/${runningKey}`)
  t.equal(deleteRunning.status, 409)
  t.match(deleteRunning.json.error, { code: 'CONFLICT', message: /processing/ })

  const actions = sink.events.filter(e => e.action === 'task.delete' || e.action === 'task.cancel').map(e => [e.action, e.target, e.outcome])
  t.match(actions, [
    ['task.cancel', created.json.id, 'ok'],
    ['task.delete', created.json.id, 'ok'],
    ['task.delete', created.json.id, 'ok'],
    ['task.delete', 'task', 'ok'],
    ['task.cancel', 'task', 'error']
  ], 'the mutations by key are audited with the task id as target')
})
