import t, { type Test } from 'tap'
import * as grpc from '@grpc/grpc-js'
import { RPCS, type RequestOf, type RpcName } from '../../core/contract/rpcs.ts'
import { newTask, serverBackend, suffix, waitFor } from '../../core/admin/test-support.ts'
import type { Backend, WorkerInfo } from '../../core/backend/types.ts'
import { startGrpcServer } from '../../core/transport/index.ts'
import { ADMIN_IDENTITY, VIEWER_IDENTITY, adminService, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts, toHttp, type ClientIdentity, type TestCerts } from './support.ts'

// Worker operations through both transports, in front of a service on the Postgres
// server: cordon and uncordon (stored on the registry entry, answered by the worker's
// heartbeat), releasing a lost worker's leases (refused while it heartbeats unless
// forced, with a dry run first), sweeping stale entries, and what each refuses.

function info (id: string): WorkerInfo {
  return { id, host: 'ops-host', pid: 4242, version: '1.0.0', queues: ['default'], handlers: ['mail.send'], concurrency: 4, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now() }
}

async function http (address: string, identity: ClientIdentity, name: RpcName, request: Record<string, unknown>): Promise<{ status: number, json: any }> {
  const call = toHttp(RPCS[name], request)
  const res = await httpsCall(address, { ...call, identity })
  return { status: res.status, json: res.json }
}

async function setup (t: Test): Promise<{ backend: Backend, address: string, grpcAddress: string, certs: TestCerts }> {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend, { roles: { [ADMIN_IDENTITY]: 'admin', [VIEWER_IDENTITY]: 'viewer' } })
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  return { backend, address, grpcAddress: server.address, certs }
}

t.test('cordon and uncordon over the gateway: stored, listed, answered by the heartbeat, audited; unknown workers are 404', async t => {
  const { backend, address, certs } = await setup(t)
  const id = `host-1:4242:${suffix()}`
  await backend.heartbeatWorker(info(id), 60_000)

  const cordoned = await http(address, certs.admin, 'CordonWorker', { id })
  t.equal(cordoned.status, 200, JSON.stringify(cordoned.json))
  t.match(cordoned.json, { worker: { id, cordoned: true, stale: false }, changed: true })
  t.same(await backend.heartbeatWorker(info(id), 60_000), { cordoned: true }, 'the worker learns it on its next heartbeat')
  const listed = await http(address, certs.admin, 'ListWorkers', {})
  t.match(listed.json.workers.find((w: { id: string }) => w.id === id), { cordoned: true, stale: false }, 'ListWorkers shows cordoned')
  t.match((await http(address, certs.admin, 'CordonWorker', { id })).json, { changed: false }, 'cordoning twice: same state, nothing changed')

  const uncordoned = await http(address, certs.admin, 'UncordonWorker', { id })
  t.match(uncordoned, { status: 200, json: { worker: { cordoned: false }, changed: true } })
  t.same(await backend.heartbeatWorker(info(id), 60_000), { cordoned: false })

  const unknown = await http(address, certs.admin, 'CordonWorker', { id: 'no-such-worker' })
  t.match(unknown, { status: 404, json: { error: { code: 'WORKER_NOT_FOUND', message: /no-such-worker/ } } }, 'an unknown worker: a clear 404')
  const viewer = await http(address, certs.viewer, 'CordonWorker', { id })
  t.match(viewer, { status: 403, json: { error: { code: 'FORBIDDEN' } } }, 'viewers cannot cordon')

  const audit = await http(address, certs.admin, 'ListAuditEvents', { action: 'worker.cordon', limit: 10 })
  const outcomes = audit.json.events.map((e: { target: string, outcome: string }) => `${e.target} ${e.outcome}`)
  t.ok(outcomes.includes(`${id} ok`), 'the cordon is audited with the worker as target')
  t.ok(outcomes.includes('no-such-worker error'), 'so is the refused one')
  t.ok(outcomes.includes(`${id} denied`), 'and the viewer\'s attempt')
})

t.test('a cordoned worker serves no handler: its pending tasks are reported unserved until it is uncordoned', async t => {
  const { backend, address, certs } = await setup(t)
  const id = `fax-${suffix()}`
  const queue = `fax-${suffix()}`
  await backend.heartbeatWorker({ ...info(id), handlers: ['fax.send'] }, 60_000)
  const [task] = await backend.enqueue([newTask(queue, { handler: 'fax.send' })])
  const served = async (): Promise<boolean> => (await http(address, certs.admin, 'GetTask', { id: task!.id })).json.handlerServed
  t.equal(await served(), true, 'served while the worker leases')
  await http(address, certs.admin, 'CordonWorker', { id })
  t.equal(await served(), false, 'unserved while it is cordoned')
  t.match((await http(address, certs.admin, 'GetQueue', { name: queue })).json.unservedHandlers, ['fax.send'])
  await http(address, certs.admin, 'UncordonWorker', { id })
  t.equal(await served(), true, 'served again once uncordoned')
})

t.test('release-leases: refused while the worker heartbeats, dry run first, then the lost worker\'s tasks are recovered at once', async t => {
  const { backend, address, certs } = await setup(t)
  const queue = `release-${suffix()}`
  const lost = `lost-${suffix()}`
  const [a, b] = (await backend.enqueue([newTask(queue, { priority: 1 }), newTask(queue, { maxAttempts: 1 })])).map(r => r.id)
  const held = await backend.leaseTasks({ workerId: lost, queues: [queue], limit: 2, leaseMs: 3_600_000 })
  t.equal(held.length, 2)

  const alive = `alive-${suffix()}`
  await backend.heartbeatWorker(info(alive), 60_000)
  const refused = await http(address, certs.admin, 'ReleaseWorkerLeases', { id: alive })
  t.match(refused, { status: 409, json: { error: { code: 'WORKER_ALIVE', message: /still heartbeats.*force/ } } }, 'a live worker: refused, naming force')
  t.match((await http(address, certs.admin, 'ReleaseWorkerLeases', { id: alive, force: true, dryRun: true })).json, { alive: true, dryRun: true, count: 0 }, 'forced dry run of a worker holding nothing')

  const preview = await http(address, certs.admin, 'ReleaseWorkerLeases', { id: lost, dryRun: true })
  t.match(preview, { status: 200, json: { id: lost, dryRun: true, alive: false, count: 2, requeued: [a], dead: [b] } }, 'the dry run names what would move')
  t.equal((await backend.getTask(a as string))?.state, 'processing', 'and moves nothing')

  const released = await http(address, certs.admin, 'ReleaseWorkerLeases', { id: lost })
  t.match(released, { status: 200, json: { dryRun: false, count: 2, requeued: [a], dead: [b] } }, 'the same set is released')
  t.equal((await backend.getTask(a as string))?.state, 'ready')
  t.equal((await backend.getTask(b as string))?.state, 'dead', 'its last attempt: dead-lettered')
  t.same(await backend.completeTasks(held.map(l => ({ id: l.id, leaseToken: l.leaseToken }))), ['lease_lost', 'lease_lost'], 'the lost worker\'s late acks change nothing')
  const audit = await http(address, certs.admin, 'ListAuditEvents', { action: 'worker.release_leases', limit: 10 })
  t.ok(audit.json.events.some((e: { target: string, outcome: string }) => e.target === lost && e.outcome === 'ok'), 'audited')
})

t.test('sweep: stale entries are listed with includeStale, a dry run reports them, the sweep removes only them', async t => {
  const { backend, address, certs } = await setup(t)
  const stale = `stale-${suffix()}`
  const live = `live-${suffix()}`
  await backend.heartbeatWorker(info(stale), 1_000)
  await backend.heartbeatWorker(info(live), 60_000)
  await waitFor(async () => !(await backend.listWorkers()).some(w => w.id === stale), 'the silent worker to go stale', 10_000)

  t.notOk((await http(address, certs.admin, 'ListWorkers', {})).json.workers.some((w: { id: string }) => w.id === stale), 'not a live worker')
  const all = await http(address, certs.admin, 'ListWorkers', { includeStale: true })
  t.match(all.json.workers.find((w: { id: string }) => w.id === stale), { stale: true }, 'listed as stale with includeStale')

  t.match((await http(address, certs.admin, 'SweepWorkers', { olderThanMs: 600_000, dryRun: true })).json, { dryRun: true, count: 0, workers: [] }, 'younger than --older-than: nothing')
  const preview = await http(address, certs.admin, 'SweepWorkers', { dryRun: true })
  t.match(preview, { status: 200, json: { dryRun: true, count: 1, workers: [{ id: stale, stale: true }] } })
  const swept = await http(address, certs.admin, 'SweepWorkers', {})
  t.match(swept, { status: 200, json: { dryRun: false, count: 1, workers: [{ id: stale }] } })
  const after = (await http(address, certs.admin, 'ListWorkers', { includeStale: true })).json.workers.map((w: { id: string }) => w.id)
  t.notOk(after.includes(stale), 'gone')
  t.ok(after.includes(live), 'the live worker is never swept')
  t.match(await http(address, certs.admin, 'SweepWorkers', { olderThanMs: -1 }), { status: 400, json: { error: { code: 'VALIDATION_FAILED', details: { field: 'olderThanMs' } } } })
})

t.test('the same operations over gRPC, with their statuses', async t => {
  const { backend, grpcAddress, certs } = await setup(t)
  const client = grpcClient(t, grpcAddress, certs.admin, certs.server.ca)
  const id = `grpc-${suffix()}`
  await backend.heartbeatWorker(info(id), 60_000)

  const cordoned = await grpcCall(client, 'CordonWorker', { id } satisfies RequestOf<'CordonWorker'>)
  t.match(cordoned.response, { worker: { id, cordoned: true }, changed: true })
  t.match((await grpcCall(client, 'ListWorkers', {})).response.workers.find((w: { id: string }) => w.id === id), { cordoned: true, stale: false })
  t.match((await grpcCall(client, 'UncordonWorker', { id })).response, { worker: { cordoned: false }, changed: true })

  const missing = await grpcCall(client, 'CordonWorker', { id: 'nobody' })
  t.equal(missing.error?.code, grpc.status.NOT_FOUND)
  t.equal(missing.code, 'WORKER_NOT_FOUND')
  const alive = await grpcCall(client, 'ReleaseWorkerLeases', { id })
  t.equal(alive.error?.code, grpc.status.FAILED_PRECONDITION)
  t.equal(alive.code, 'WORKER_ALIVE')
  t.match((await grpcCall(client, 'ReleaseWorkerLeases', { id: `gone-${suffix()}`, dryRun: true })).response, { dryRun: true, alive: false, count: 0, requeued: [], dead: [] })
  t.match((await grpcCall(client, 'SweepWorkers', { dryRun: true })).response, { dryRun: true })

  const viewer = grpcClient(t, grpcAddress, certs.viewer, certs.server.ca)
  const forbidden = await grpcCall(viewer, 'SweepWorkers', {})
  t.equal(forbidden.code, 'FORBIDDEN', 'a viewer may not sweep')
})

t.test('read-only mode refuses every worker operation', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend, { readOnly: true })
  const id = `ro-${suffix()}`
  await backend.heartbeatWorker(info(id), 60_000)
  const call = { actor: ADMIN_IDENTITY, requestId: suffix() }
  await t.rejects(service.CordonWorker({ id }, call), { code: 'READ_ONLY' }, 'CordonWorker refused')
  await t.rejects(service.UncordonWorker({ id }, call), { code: 'READ_ONLY' }, 'UncordonWorker refused')
  await t.rejects(service.ReleaseWorkerLeases({ id }, call), { code: 'READ_ONLY' }, 'ReleaseWorkerLeases refused')
  await t.rejects(service.SweepWorkers({}, call), { code: 'READ_ONLY' }, 'SweepWorkers refused')
  t.equal((await backend.listWorkers()).find(w => w.id === id)?.cordoned, false, 'nothing applied')
})
