import t from 'tap'
import { newTask, serverBackend, suffix } from '../../core/admin/test-support.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import { GATEWAY_IDENTITY, adminService, gatewayFor, httpsCall, makeCerts } from './support.ts'

// A task's result and progress on the wire: JSON values on the gateway, and
// google.protobuf.Value over gRPC, here crossing both (gateway → gRPC → service).

t.test('GetTask and ListTasks carry result and progress as JSON values through gRPC and the gateway', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY], onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  const remote = createGrpcAdminClient({ target: server.address, tls: { ca: certs.server.ca, cert: certs.gateway.cert, key: certs.gateway.key } })
  t.teardown(() => { remote.close() })
  const { address } = await gatewayFor(t, remote, certs)

  const queue = `wire-${suffix()}`
  const [done, running] = (await backend.enqueue([newTask(queue), newTask(queue)])).map(r => r.id) as [string, string]
  const leased = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 2, leaseMs: 30_000 })
  const lease = (id: string): { id: string, leaseToken: string } => ({ id, leaseToken: leased.find(l => l.id === id)!.leaseToken })
  const result = { sent: 2, to: ['a@b', 'c@d'], nested: { ok: true, none: null }, ratio: 0.25 }
  await backend.setTaskProgress([{ ...lease(done), progress: 100 }, { ...lease(running), progress: { step: 'upload', done: 3 } }])
  await backend.completeTasks([{ ...lease(done), result }])

  const got = await httpsCall(address, { path: `/admin/v1/tasks/${done}`, identity: certs.admin })
  t.equal(got.status, 200)
  t.same(got.json.task.result, result, 'the result is a JSON value on the gateway, after a gRPC hop')
  t.equal(got.json.task.progress, 100)
  const other = await httpsCall(address, { path: `/admin/v1/tasks/${running}`, identity: certs.admin })
  t.same(other.json.task.progress, { step: 'upload', done: 3 })
  t.notOk('result' in other.json.task, 'a running task has no result')

  const list = await httpsCall(address, { path: `/admin/v1/tasks?queue=${queue}&state=processing`, identity: certs.admin })
  t.same(list.json.tasks.map((task: { id: string, progress?: unknown }) => [task.id, task.progress]), [[running, { step: 'upload', done: 3 }]], 'the list carries progress')
})
