import t from 'tap'
import { newTask, serverBackend, suffix } from '../../core/admin/test-support.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import { ADMIN_IDENTITY, GATEWAY_IDENTITY, adminService, gatewayFor, httpsCall, makeCerts } from './support.ts'

// Task dependencies on the wire: EnqueueTask with dependsOn, the blocked state in task
// detail, counts and overview, and GetTaskGraph, through the gateway and a gRPC hop
// (gateway → gRPC → service), on a Postgres server.

t.test('EnqueueTask with dependsOn, blocked counts, GetTaskGraph and cancel of a blocked task, over the gateway and gRPC', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY], onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  const remote = createGrpcAdminClient({ target: server.address, tls: { ca: certs.server.ca, cert: certs.gateway.cert, key: certs.gateway.key } })
  t.teardown(() => { remote.close() })
  const { address } = await gatewayFor(t, remote, certs)
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> =>
    await httpsCall(address, { method, path, identity: certs.admin, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) })

  const ctx = { actor: ADMIN_IDENTITY, requestId: `r-${suffix()}` }
  const queue = `deps-${suffix()}`
  const parents = (await backend.enqueue([newTask(queue), newTask(queue), newTask(queue)])).map(r => r.id)
  const created = await call('POST', '/admin/v1/tasks', { handler: 'join', queue, dependsOn: { ids: parents, onParentFailure: 'dead' } })
  t.equal(created.status, 200, JSON.stringify(created.json))
  const child = created.json.id as string
  const grandchild = (await remote.EnqueueTask({ handler: 'after', queue, dependsOn: { ids: [child] } }, ctx)).id

  const detail = await call('GET', `/admin/v1/tasks/${child}`)
  t.match(detail.json.task, { state: 'blocked', dependsOn: parents, onParentFailure: 'dead' }, 'task detail shows its parents and policy')
  t.same((await call('GET', `/admin/v1/tasks/${parents[0]}`)).json.task.dependsOn, [], 'a task without parents: an empty list')
  t.match((await call('GET', `/admin/v1/queues/${queue}`)).json.queue, { blocked: 2, ready: 3 }, 'queue detail counts blocked tasks')
  t.ok((await call('GET', '/admin/v1/overview')).json.totals.blocked >= 2, 'overview totals count them')
  t.same((await call('GET', `/admin/v1/tasks?queue=${queue}&state=blocked`)).json.tasks.map((x: { id: string }) => x.id).sort(), [child, grandchild].sort())

  const graph = await call('GET', `/admin/v1/tasks/${child}/graph`)
  t.equal(graph.status, 200)
  t.equal(graph.json.id, child)
  t.same(graph.json.nodes.map((n: { id: string }) => n.id).sort(), [...parents, child, grandchild].sort(), 'ancestors and descendants')
  t.same(graph.json.edges.map((e: { parent: string, child: string }) => `${e.parent}>${e.child}`).sort(),
    [...parents.map(p => `${p}>${child}`), `${child}>${grandchild}`].sort(), 'every link')
  t.match(graph.json.nodes.find((n: { id: string }) => n.id === child), { handler: 'join', queue, state: 'blocked' })
  t.equal(graph.json.truncated, false)
  const shallow = await remote.GetTaskGraph({ id: grandchild, depth: 1 }, ctx)
  t.same(shallow.nodes.map(n => n.id).sort(), [child, grandchild].sort(), 'over gRPC, bounded by depth')
  t.equal(shallow.truncated, true, 'and says so')
  t.equal((await call('GET', '/admin/v1/tasks/999999999/graph')).json.error.code, 'TASK_NOT_FOUND')

  const unknown = await call('POST', '/admin/v1/tasks', { handler: 'join', queue, dependsOn: { ids: [parents[0], '999999999'] } })
  t.equal(unknown.status, 400)
  t.match(unknown.json.error, { code: 'VALIDATION_FAILED', details: { field: 'dependsOn' } })
  t.match(unknown.json.error.message, /999999999/, 'names the unknown parent')
  const badPolicy = await call('POST', '/admin/v1/tasks', { handler: 'join', queue, dependsOn: { ids: [parents[0]], onParentFailure: 'maybe' } })
  t.equal(badPolicy.status, 400)
  t.match((await call('GET', `/admin/v1/queues/${queue}`)).json.queue, { blocked: 2, ready: 3 }, 'refused enqueues stored nothing')

  // a parent dies: the child is dead-lettered by its policy, the grandchild canceled by its own
  const [lease] = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 1, leaseMs: 30_000 })
  t.ok(lease)
  await backend.failTasks([{ id: lease!.id, leaseToken: lease!.leaseToken, error: { message: 'down' }, retryDelayMs: null }])
  t.match((await call('GET', `/admin/v1/tasks/${child}`)).json.task, { state: 'dead', lastError: new RegExp(`parent task ${lease!.id}`) })
  t.match((await call('GET', `/admin/v1/tasks/${grandchild}`)).json.task, { state: 'canceled', lastError: new RegExp(`parent task ${child}`) })

  // cancel of a blocked task through the contract, audited like any cancel
  const waiting = (await call('POST', '/admin/v1/tasks', { handler: 'join', queue, dependsOn: { ids: [parents[1]] } })).json.id as string
  t.equal((await call('GET', `/admin/v1/tasks/${waiting}`)).json.task.state, 'blocked')
  const canceled = await call('POST', `/admin/v1/tasks/${waiting}/cancel`)
  t.match(canceled, { status: 200, json: { id: waiting, state: 'canceled' } })
  const audit = await call('GET', `/admin/v1/audit?action=task.cancel&target=${waiting}`)
  t.equal(audit.json.events.length, 1, 'the cancel is audited')
})
