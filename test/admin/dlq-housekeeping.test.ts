import t, { type Test } from 'tap'
import { RPCS, type RequestOf, type RpcName } from '../../core/contract/rpcs.ts'
import { embeddedBackend, newTask, suffix } from '../../core/admin/test-support.ts'
import type { Backend } from '../../core/backend/types.ts'
import { startGrpcServer } from '../../core/transport/index.ts'
import {
  ADMIN_IDENTITY, adminService, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts, toHttp, type TestCerts
} from './support.ts'

// DLQ housekeeping and time windows through both transports, on embedded PGlite:
// ListTasks/ListDLQ windows, ReplayDLQ by text and window, batch replay with per-task
// payloads into another queue, PurgeDLQ with a dry run that matches the deletion, the
// guardrail cap and the refusals naming their field.

type Caller = (name: RpcName, request: Record<string, unknown>) => Promise<{ ok: boolean, status: string, code?: string, body: any }>

async function callers (t: Test, backend: Backend, certs: TestCerts, options: Parameters<typeof adminService>[2] = {}): Promise<Array<[string, Caller]>> {
  const { service } = adminService(t, backend, options)
  const { address: http } = await gatewayFor(t, service, certs)
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) } })
  t.teardown(async () => { await server.close() })
  const client = grpcClient(t, server.address, certs.admin, certs.server.ca)
  const overHttp: Caller = async (name, request) => {
    const req = toHttp(RPCS[name], request)
    const res = await httpsCall(http, { method: req.method, path: req.path, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }), identity: certs.admin })
    return { ok: res.status === 200, status: String(res.status), code: res.json?.error?.code, body: res.json }
  }
  const overGrpc: Caller = async (name, request) => {
    const res = await grpcCall(client, name, request)
    return { ok: res.error === undefined, status: String(res.error?.code ?? 0), ...(res.code === undefined ? {} : { code: res.code }), body: res.response }
  }
  return [['HTTP', overHttp], ['gRPC', overGrpc]]
}

/** enqueues tasks and dead-letters them, as a worker would */
async function dead (backend: Backend, queue: string, payloads: unknown[]): Promise<string[]> {
  const results = await backend.enqueue(payloads.map(payload => newTask(queue, { payload, maxAttempts: 1 })))
  const leased = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: payloads.length, leaseMs: 60_000 })
  await backend.failTasks(leased.map(task => ({ id: task.id, leaseToken: task.leaseToken, error: { message: 'connection reset' }, retryDelayMs: null })))
  return results.map(r => r.id)
}

async function tick (backend: Backend, ms: number): Promise<void> {
  const start = await backend.now()
  while (await backend.now() < start + ms) await new Promise(resolve => setTimeout(resolve, 10))
}

t.test('time windows, replay by text and window, batch edit, purge: over HTTP and gRPC', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  for (const [transport, call] of await callers(t, backend, certs)) {
    await t.test(transport, async t => {
      const queue = `hk-${suffix()}`
      const old = await dead(backend, queue, [{ note: 'old-1' }, { note: 'old-2' }, { note: 'old-3' }])
      await tick(backend, 1500)
      const cut = new Date(await backend.now()).toISOString()
      const fresh = await dead(backend, queue, [{ note: 'needle-a' }, { note: 'needle-b' }])

      const recent = await call('ListDLQ', { queue, since: cut })
      t.ok(recent.ok, `ListDLQ since: ${recent.code ?? 'ok'}`)
      t.same(recent.body.entries.map((e: { id: string }) => e.id).sort(), [...fresh].sort(), 'dead since the cut: judged on the failure time')
      t.equal(recent.body.total, 2, 'with its exact total')
      const older = await call('ListDLQ', { queue, until: cut })
      t.same(older.body.entries.map((e: { id: string }) => e.id).sort(), [...old].sort(), 'dead until the cut')
      const created = await call('ListTasks', { queue, since: cut, timeField: 'created' })
      t.same(created.body.tasks.map((e: { id: string }) => e.id).sort(), [...fresh].sort(), 'ListTasks by creation time')
      const badWindow = await call('ListTasks', { queue, since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' })
      t.equal(badWindow.code, 'VALIDATION_FAILED', 'since after until is refused')

      const dry = await call('ReplayDLQ', { limit: 10, queue, query: 'NEEDLE', since: cut, dryRun: true })
      t.ok(dry.ok, `ReplayDLQ dry run: ${dry.code ?? 'ok'}`)
      t.same([...dry.body.replayed].sort(), [...fresh].sort(), 'ReplayDLQ selects by text and window as ListDLQ does')

      const target = `${queue}-edited`
      const [a, b] = fresh as [string, string]
      const replay = await call('ReplayDLQByID', { ids: [a, b, old[0]], payload: { shared: true }, payloads: { [a]: { edited: 'a' } }, targetQueue: target })
      t.ok(replay.ok, `ReplayDLQByID with payloads: ${replay.code ?? 'ok'}`)
      t.same(replay.body.replayed, [a, b, old[0]], 'every named dead task replayed, in request order')
      t.match(await backend.getTask(a), { state: 'ready', queue: target, payload: { edited: 'a' } }, 'its own payload')
      t.match(await backend.getTask(b), { state: 'ready', queue: target, payload: { shared: true } }, 'the shared payload for the others')
      const stray = await call('ReplayDLQByID', { ids: [old[1]], payloads: { nope: { x: 1 } } })
      t.equal(stray.code, 'VALIDATION_FAILED', 'a payload for an id not in ids is refused')
      t.match((await backend.getTask(old[1] as string))?.state, 'dead', 'and nothing moved')

      // purge: the rest of the queue is old[1], old[2] (old[0] was replayed)
      const preview = await call('PurgeDLQ', { queue, dryRun: true })
      t.ok(preview.ok, `PurgeDLQ dry run: ${preview.code ?? 'ok'}`)
      t.match(preview.body, { dryRun: true, count: 2, more: false }, 'the dry run counts what matches')
      t.same([...preview.body.sample].sort(), [old[1], old[2]].sort(), 'and names them')
      const capped = await call('PurgeDLQ', { queue, limit: 1, dryRun: true })
      t.match(capped.body, { count: 1, more: true, limit: 1 }, 'a limit bounds it and says more remain')
      const done = await call('PurgeDLQ', { queue })
      t.match(done.body, { dryRun: false, count: preview.body.count }, 'the same call deletes exactly what the dry run counted')
      t.same([...done.body.sample].sort(), [...preview.body.sample].sort(), 'the same entries')
      t.equal(await backend.getTask(old[1] as string), null, 'they are gone')
      const again = await call('PurgeDLQ', { queue })
      t.match(again.body, { count: 0 }, 'purging again deletes nothing')
    })
  }
})

t.test('PurgeDLQ by age, its guardrail and its refusals', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const [[, call]] = await callers(t, backend, certs, { purgeLimitMax: 5 }) as [[string, Caller]]
  const queue = `age-${suffix()}`
  const old = await dead(backend, queue, [{ n: 1 }, { n: 2 }])
  await tick(backend, 4000)
  const fresh = await dead(backend, queue, [{ n: 3 }])
  // the recent failure stays younger than the age for the next two calls (well under 2 s)
  const byAge = await call('PurgeDLQ', { queue, olderThan: '2s', dryRun: true })
  const deleted = await call('PurgeDLQ', { queue, olderThan: '2s' })
  t.same([...byAge.body.sample].sort(), [...old].sort(), 'olderThan: only the entries that failed longer ago')
  t.equal(byAge.body.limit, 5, 'the default limit is the configured cap')
  t.equal(deleted.body.count, 2, 'the old entries are purged')
  t.ok(await backend.getTask(fresh[0] as string), 'the recent one stays')
  const over = await call('PurgeDLQ', { queue, limit: 6 })
  t.equal(over.code, 'GUARDRAIL_EXCEEDED', 'a limit above purgeLimitMax is refused')
  t.equal(over.status, '429')
  const mixed = await call('PurgeDLQ', { queue, olderThan: '1s', timeField: 'created' })
  t.equal(mixed.code, 'VALIDATION_FAILED', 'olderThan judges the failure time: not with timeField created')
  t.match(mixed.body.error.message, /olderThan/)
  const badAge = await call('PurgeDLQ', { queue, olderThan: 'soon' })
  t.equal(badAge.code, 'VALIDATION_FAILED', 'a malformed age is refused')
  t.match((await backend.getTask(fresh[0] as string))?.state, 'dead', 'nothing was deleted by the refusals')
  const { service } = adminService(t, backend, { readOnly: true })
  await t.rejects(service.PurgeDLQ({ queue } as RequestOf<'PurgeDLQ'>, { actor: ADMIN_IDENTITY, requestId: `r-${suffix()}` }), { code: 'READ_ONLY' }, 'read-only mode refuses it')
})

t.test('ReplayDLQ and PurgeDLQ filter by tenant and correlation id as ListDLQ does', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  for (const [transport, call] of await callers(t, backend, certs)) {
    await t.test(transport, async t => {
      const queue = `owner-${suffix()}`
      const acme = `acme-${suffix()}`
      const flow = `flow-${suffix()}`
      const tasks = [
        newTask(queue, { tenant: acme, maxAttempts: 1 }),
        newTask(queue, { tenant: acme, correlationId: flow, maxAttempts: 1 }),
        newTask(queue, { correlationId: flow, maxAttempts: 1 }),
        newTask(queue, { maxAttempts: 1 })
      ]
      const ids = (await backend.enqueue(tasks)).map(r => r.id)
      const leased = await backend.leaseTasks({ workerId: 'w', queues: [queue], limit: 10, leaseMs: 60_000 })
      await backend.failTasks(leased.map(task => ({ id: task.id, leaseToken: task.leaseToken, error: { message: 'boom' }, retryDelayMs: null })))
      const [tenantOnly, both, flowOnly, neither] = ids as [string, string, string, string]

      const byTenant = await call('ReplayDLQ', { limit: 10, queue, tenant: acme, dryRun: true })
      t.ok(byTenant.ok, `ReplayDLQ by tenant: ${byTenant.code ?? 'ok'}`)
      t.same([...byTenant.body.replayed].sort(), [tenantOnly, both].sort(), 'only the tenant\'s entries')
      const byFlow = await call('ReplayDLQ', { limit: 10, queue, correlationId: flow, dryRun: true })
      t.same([...byFlow.body.replayed].sort(), [both, flowOnly].sort(), 'only the correlation id\'s entries')
      const replayed = await call('ReplayDLQ', { limit: 10, queue, tenant: acme, correlationId: flow })
      t.same(replayed.body.replayed, [both], 'both filters together')
      t.match(await backend.getTask(both), { state: 'ready' })

      const dry = await call('PurgeDLQ', { queue, tenant: acme, dryRun: true })
      t.ok(dry.ok, `PurgeDLQ by tenant: ${dry.code ?? 'ok'}`)
      t.same(dry.body.sample, [tenantOnly], 'the dry run names the tenant\'s dead entry')
      const purged = await call('PurgeDLQ', { queue, correlationId: flow })
      t.same(purged.body.sample, [flowOnly], 'purge by correlation id deletes only its dead entry')
      t.equal(await backend.getTask(flowOnly), null)
      t.match(await backend.getTask(neither), { state: 'dead' }, 'entries of neither stay')
      t.match(await backend.getTask(tenantOnly), { state: 'dead' }, 'a dry run changed nothing')
      const bad = await call('PurgeDLQ', { queue, tenant: 'x'.repeat(1000) })
      t.equal(bad.code, 'VALIDATION_FAILED', 'a tenant past the name bound is refused')
      t.match(await backend.getTask(neither), { state: 'dead' }, 'nothing was purged by the refused call')
    })
  }
})
