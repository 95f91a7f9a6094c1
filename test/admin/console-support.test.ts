import t, { type Test } from 'tap'
import { startGrpcServer } from '../../core/transport/index.ts'
import { call, embeddedBackend, rejection } from '../../core/admin/test-support.ts'
import { createRedisBackend } from '@switchyard/backend-redis'
import { deleteKeys, randomPrefix, TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import type { RedisBackend } from '../../plugins/backend-redis/backend.ts'
import type { Backend, StoredEvent } from '../../core/backend/types.ts'
import { EVENTS_SCAN_MAX } from '../../core/admin/event-list.ts'
import { ADMIN_IDENTITY, adminService, GATEWAY_IDENTITY, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts, VIEWER_IDENTITY } from './support.ts'

// The RPCs the console is built on: GetSession over both transports with role mapping
// and a trusted gateway naming the end user, and ListEvents (the timeline) over real
// backends: filters, paging both ways, audit events, bounds.

t.test('GetSession: identity, role, guards, backend and capabilities over mTLS HTTPS and gRPC', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const roles = { [ADMIN_IDENTITY]: 'admin', [VIEWER_IDENTITY]: 'viewer', [GATEWAY_IDENTITY]: 'viewer', 'alice@example.com': 'operator' } as const
  const { service } = adminService(t, backend, { roles, requireApproval: true, approvalToken: 'approve-me' })
  const { address } = await gatewayFor(t, service, certs)

  const asAdmin = await httpsCall(address, { path: '/admin/v1/session', identity: certs.admin })
  t.equal(asAdmin.status, 200)
  t.match(asAdmin.json, { actor: ADMIN_IDENTITY, role: 'admin', readOnly: false, approvalRequired: true, canMutate: true, backend: backend.name, version: '0.1.0-test', commit: 'test' })
  t.equal(asAdmin.json.via, undefined, 'no gateway named the caller')
  for (const capability of ['eventLog', 'eventsNewestFirst', 'records', 'queuePause', 'audit']) t.ok(asAdmin.json.capabilities.includes(capability), `capability ${capability}`)
  t.same(asAdmin.json.taskFilters, backend.capabilities.taskFilters)

  const asViewer = await httpsCall(address, { path: '/admin/v1/session', identity: certs.viewer })
  t.match(asViewer.json, { actor: VIEWER_IDENTITY, role: 'viewer', canMutate: false }, 'a viewer may not mutate')
  const stranger = await httpsCall(address, { path: '/admin/v1/session', identity: certs.workload })
  t.equal(stranger.status, 403, 'an identity without a role is refused')
  t.equal(stranger.json.error.code, 'FORBIDDEN')

  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, trustedGateways: [GATEWAY_IDENTITY] })
  t.teardown(async () => { await server.close() })
  const viewerOverGrpc = await grpcCall(grpcClient(t, server.address, certs.viewer, certs.server.ca), 'GetSession', {})
  t.match(viewerOverGrpc.response, { actor: VIEWER_IDENTITY, role: 'viewer', canMutate: false, approvalRequired: true, backend: backend.name })
  t.same((viewerOverGrpc.response as { capabilities: string[] }).capabilities, asAdmin.json.capabilities, 'the same capabilities on both transports')
  const forwarded = await grpcCall(grpcClient(t, server.address, certs.gateway, certs.server.ca), 'GetSession', {}, { 'x-forwarded-identity': 'alice@example.com' })
  t.match(forwarded.response, { actor: 'alice@example.com', via: GATEWAY_IDENTITY, role: 'operator', canMutate: true }, 'a trusted gateway names the end user, whose role applies')

  const readOnly = adminService(t, backend, { roles, readOnly: true })
  t.match(await readOnly.service.GetSession({}, call(ADMIN_IDENTITY)), { role: 'admin', readOnly: true, canMutate: false }, 'read-only: nobody may mutate')

  // the timeline's route answers over HTTPS too (query parameters, the event view)
  await backend.ensureQueues(['console-q'])
  await service.PauseQueue({ name: 'console-q', paused: true }, call(ADMIN_IDENTITY, { approvalToken: 'approve-me' }))
  const page = await httpsCall(address, { path: '/admin/v1/events/log?type=audit&target=console-q&limit=5', identity: certs.viewer })
  t.equal(page.status, 200)
  t.match(page.json.events[0], { type: 'audit', data: { action: 'queue.pause', target: 'console-q', actor: ADMIN_IDENTITY } }, 'audit events are in the timeline')
  const history = await httpsCall(address, { path: '/admin/v1/metrics/history?window=24h&queue=console-q', identity: certs.viewer })
  t.equal(history.status, 200)
  t.match(history.json, { window: '24h', stepSeconds: 60, queue: 'console-q' })
  t.equal(history.json.points.length, 1440)
  const badWindow = await httpsCall(address, { path: '/admin/v1/metrics/history?window=2h', identity: certs.viewer })
  t.equal(badWindow.status, 400, 'an unknown window is a validation error')
})

async function redisBackend (t: Test): Promise<Backend> {
  const backend = createRedisBackend({ url: TEST_REDIS_URL, prefix: randomPrefix('events') })
  await backend.init()
  t.teardown(async () => {
    await deleteKeys((backend as RedisBackend).redis, (backend as RedisBackend).keys.base)
    await backend.close()
  })
  return backend
}

for (const [label, open] of [['pglite', embeddedBackend], ['redis', redisBackend]] as const) {
  t.test(`${label}: ListEvents filters, pages back and catches up`, async t => {
    const backend = await open(t)
    const { service, events } = adminService(t, backend)
    const viewer = call(ADMIN_IDENTITY)
    const appended: StoredEvent[] = []
    const append = async (batch: Array<{ type: string, data: unknown }>): Promise<void> => { appended.push(...await backend.appendEvents(batch)) }
    await append([
      { type: 'task.enqueued', data: { id: 't1', queue: 'mail', handler: 'send' } },
      { type: 'task.succeeded', data: { id: 't1', queue: 'mail', handler: 'send' } },
      { type: 'schedule.fired', data: { schedule: 'nightly', taskId: 't2' } }
    ])
    await append([{ type: 'dlq.replayed', data: { count: 2, ids: ['t3', 't4'], targetQueue: 'mail' } }, { type: 'job.started', data: { job: 'build', runId: 'r1' } }])
    const boundary = await backend.now()
    await new Promise(resolve => setTimeout(resolve, 5))
    await append([{ type: 'task.dead', data: { id: 't5', queue: 'other' } }, { type: 'queue.weight_updated', data: { queue: 'mail', weight: 3 } }])

    const newest = await service.ListEvents({}, viewer)
    t.same(newest.events.map(e => e.id), appended.map(e => e.id).reverse(), 'newest first by default')
    t.equal(newest.nextBeforeId, undefined, 'the whole log fit: nothing older')
    t.equal(newest.nextAfterId, appended[appended.length - 1]?.id, 'nextAfterId: the newest event')

    const ids = async (request: Parameters<typeof service.ListEvents>[0]): Promise<string[]> => (await service.ListEvents(request, viewer)).events.map(e => e.type)
    t.same(await ids({ type: 'task.' }), ['task.dead', 'task.succeeded', 'task.enqueued'], 'a prefix')
    t.same(await ids({ type: 'task.*' }), ['task.dead', 'task.succeeded', 'task.enqueued'], 'a prefix with *')
    t.same(await ids({ type: 'task.dead,schedule.fired' }), ['task.dead', 'schedule.fired'], 'several exact types')
    t.same(await ids({ target: 'mail' }), ['queue.weight_updated', 'dlq.replayed', 'task.succeeded', 'task.enqueued'], 'a queue, also as a replay\'s target queue')
    t.same(await ids({ target: 't1' }), ['task.succeeded', 'task.enqueued'], 'a task id')
    t.same(await ids({ target: 't4' }), ['dlq.replayed'], 'an id in a replay\'s ids')
    t.same(await ids({ target: 'nightly' }), ['schedule.fired'], 'a schedule')
    t.same(await ids({ target: 'r1' }), ['job.started'], 'a job run')
    t.same(await ids({ type: 'task.', target: 'other' }), ['task.dead'], 'type and target together')
    const iso = (ms: number): string => new Date(ms).toISOString()
    t.same(await ids({ since: iso(boundary + 1) }), ['queue.weight_updated', 'task.dead'], 'since')
    t.same(await ids({ until: iso(boundary) }), appended.slice(0, 5).map(e => e.type).reverse(), 'until')

    // paging back two at a time, then catching up after the newest seen
    const paged: string[] = []
    let beforeId: string | undefined
    for (let pages = 0; pages < 10; pages++) {
      const page = await service.ListEvents({ limit: 2, ...(beforeId === undefined ? {} : { beforeId }) }, viewer)
      paged.push(...page.events.map(e => e.id))
      beforeId = page.nextBeforeId
      if (beforeId === undefined) break
    }
    t.same(paged, appended.map(e => e.id).reverse(), 'beforeId pages cover the log once, newest first')
    await append([{ type: 'task.enqueued', data: { id: 't9', queue: 'mail' } }, { type: 'task.started', data: { id: 't9', queue: 'mail' } }])
    const caughtUp = await service.ListEvents({ afterId: newest.nextAfterId as string }, viewer)
    t.same(caughtUp.events.map(e => e.data), [{ id: 't9', queue: 'mail' }, { id: 't9', queue: 'mail' }], 'afterId: only what came later, oldest first')
    t.equal(caughtUp.nextAfterId, appended[appended.length - 1]?.id, 'and where to catch up from next')
    const fromOldest = await service.ListEvents({ afterId: '0', limit: 3 }, viewer)
    t.same(fromOldest.events.map(e => e.id), appended.slice(0, 3).map(e => e.id), '"0": from the oldest retained event')

    // audit events are part of the same timeline
    await backend.ensureQueues(['mail'])
    await service.PauseQueue({ name: 'mail', paused: true }, call(ADMIN_IDENTITY))
    await events.flush()
    const audit = await service.ListEvents({ type: 'audit', target: 'mail' }, viewer)
    t.match(audit.events, [{ type: 'audit', data: { action: 'queue.pause', target: 'mail', outcome: 'ok' } }], 'the audited pause, as type audit')

    t.equal((await rejection(service.ListEvents({ beforeId: appended[1]?.id as string, afterId: appended[0]?.id as string }, viewer))).code, 'VALIDATION_FAILED', 'beforeId and afterId together are refused')
    t.match(await rejection(service.ListEvents({ beforeId: 'not-an-id' }, viewer)), { code: 'VALIDATION_FAILED', details: { field: 'beforeId' } }, 'an id the backend did not issue')
    t.equal((await rejection(service.ListEvents({ type: ',,' }, viewer))).code, 'VALIDATION_FAILED', 'an empty type list')
    t.equal((await rejection(service.ListEvents({ since: iso(boundary + 10), until: iso(boundary) }, viewer))).code, 'VALIDATION_FAILED', 'since after until')
    t.equal((await rejection(service.ListEvents({ limit: 501 }, viewer))).code, 'VALIDATION_FAILED', 'limit bounded')

    // a rare filter over a long log answers a bounded scan and a cursor to go on
    await append(Array.from({ length: EVENTS_SCAN_MAX + 100 }, (_, i) => ({ type: 'noise.tick', data: { i } })))
    const rare = await service.ListEvents({ type: 'task.dead' }, viewer)
    t.equal(rare.scanned, EVENTS_SCAN_MAX, 'the scan stops at its bound')
    t.same(rare.events, [], 'nothing matched within it')
    t.ok(rare.nextBeforeId !== undefined, 'with a cursor to continue')
    const more = await service.ListEvents({ type: 'task.dead', beforeId: rare.nextBeforeId as string }, viewer)
    t.same(more.events.map(e => e.data), [{ id: 't5', queue: 'other' }], 'continuing from the cursor finds it')
  })
}
