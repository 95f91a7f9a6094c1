import t from 'tap'
import type { Backend, BackendCapabilities } from '../backend/types.ts'
import { RPC_LIST, RPCS, type RpcName } from '../contract/rpcs.ts'
import { PAYLOAD_MAX_BYTES } from '../contract/messages.ts'
import { createAdminService } from './service.ts'
import { BASE_OPTIONS, call, makeDead, makeService, rejection, serverBackend, suffix } from './test-support.ts'
import { EventLog } from '../events/event-log.ts'
import { DEFAULT_TASK_DEFAULTS } from '../tasks/enqueue.ts'
import type { AdminService } from './types.ts'

/** backend methods that only read */
const READ_METHODS = new Set(['name', 'capabilities', 'init', 'close', 'now', 'getTask', 'listTasks', 'dlqStats', 'queueStats', 'getCoordinationState', 'listWorkers', 'pendingHandlers', 'readEvents', 'listAudit', 'subscribeEvents', 'subscribeWork', 'listFlowLimits'])

function countingWrites (backend: Backend): { backend: Backend, writes: string[] } {
  const writes: string[] = []
  const proxy = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop !== 'string' || typeof value !== 'function' || READ_METHODS.has(prop)) return value
      return (...args: unknown[]) => { writes.push(prop); return value.apply(target, args) }
    }
  })
  return { backend: proxy, writes }
}

/** a valid request for every mutation, aimed at real things in the backend */
function sampleRequests (queue: string, deadId: string): Record<string, unknown> {
  return {
    UpdateQueueWeight: { name: queue, weight: 3 },
    ResetQueueWeight: { name: queue },
    PauseQueue: { name: queue, paused: true },
    ReplayDLQ: { limit: 1 },
    ReplayDLQByID: { ids: [deadId] },
    DeleteDLQEntry: { id: deadId },
    PurgeDLQ: { queue, dryRun: false },
    PauseDequeue: {},
    ResumeDequeue: {},
    EnqueueTask: { handler: 'h', queue },
    CancelTask: { id: deadId },
    RetryTask: { id: deadId },
    CancelTaskByKey: { key: 'some-key' },
    DeleteTaskByKey: { key: 'some-key' },
    CreateSchedule: { name: 'nightly', spec: '0 2 * * *' },
    DeleteSchedule: { name: 'nightly' },
    PauseSchedule: { name: 'nightly', paused: true },
    PauseSchedules: { paused: true },
    RunSchedule: { name: 'nightly' },
    UpsertJob: { name: 'build', source: 'git_tag', repo: 'https://git.example/app.git', tag: 'v1', command: [], env: [] },
    DeleteJob: { name: 'build' },
    RunJob: { name: 'build' },
    CancelJobRun: { runId: '0000000000000-000000' },
    SetFlowLimit: { kind: 'queue', name: queue, concurrency: 3 },
    ClearFlowLimit: { kind: 'queue', name: queue },
    BulkTaskAction: { action: 'delete', ids: [deadId] },
    DrainQueue: { name: queue },
    RescheduleTask: { id: deadId, priority: 5 },
    CordonWorker: { id: 'worker-1' },
    UncordonWorker: { id: 'worker-1' },
    ReleaseWorkerLeases: { id: 'worker-1', force: true },
    SweepWorkers: {}
  }
}

async function invoke (service: AdminService, name: RpcName, request: unknown, ctx = call()): Promise<unknown> {
  const method = service[name] as (request: unknown, ctx: unknown) => Promise<unknown>
  return await method(request, ctx)
}

const MUTATIONS = RPC_LIST.filter(def => def.kind === 'mutation').map(def => def.name as RpcName)

t.test('read-only mode refuses every mutation in the table with zero backend writes', async t => {
  const real = await serverBackend(t)
  const q = `ro-${suffix()}`
  const [deadId] = await makeDead(real, q, 1) as [string]
  const { backend, writes } = countingWrites(real)
  const { service, sink, events } = makeService(t, backend, { readOnly: true })
  const requests = sampleRequests(q, deadId)
  t.same(Object.keys(requests).sort(), [...MUTATIONS].sort(), 'a sample request for every mutation in the table')
  for (const name of MUTATIONS) {
    const err = await rejection(invoke(service, name, requests[name]))
    t.match(err, { code: 'READ_ONLY', statusCode: 403 }, `${name} refused`)
  }
  await events.flush()
  await service.close()
  t.same(writes, [], 'nothing was written to the backend, not even audit or events')
  t.equal(sink.events.length, MUTATIONS.length, 'each refusal reached the audit sinks')
  t.ok(sink.events.every(event => event.outcome === 'denied' && event.error?.startsWith('READ_ONLY')))
  t.equal((await real.getTask(deadId))?.state, 'dead')
  t.match(await service.GetQueue({ name: q }, call()), { queue: { dead: 1 } }, 'reads still work')
})

t.test('roles: viewer reads, operator acts, admin-only actions, unknown callers refused', async t => {
  const backend = await serverBackend(t)
  const roles = { 'CN=viewer': 'viewer', 'CN=operator': 'operator', 'CN=admin': 'admin' } as const
  const { service, sink } = makeService(t, backend, { roles })
  const q = `roles-${suffix()}`
  await backend.ensureQueues([q])

  t.match(await service.GetQueue({ name: q }, call('CN=viewer')), { queue: { name: q } })
  const viewerPause = await rejection(service.PauseQueue({ name: q, paused: true }, call('CN=viewer')))
  t.match(viewerPause, { code: 'FORBIDDEN', statusCode: 403, message: /PauseQueue needs role operator; CN=viewer has role viewer/ })
  t.equal((await backend.queueStats([q]))[0]?.paused, false, 'the refused pause changed nothing')
  t.match(sink.events.at(-1), { actor: 'CN=viewer', action: 'queue.pause', outcome: 'denied' })
  t.match(await service.ListAuditEvents({ limit: 1 }, call('CN=viewer')), { events: [{ actor: 'CN=viewer', outcome: 'denied' }] }, 'denials are stored in the backend audit log')

  t.match(await service.PauseQueue({ name: q, paused: true }, call('CN=operator')), { queue: { paused: true } })
  t.match(await rejection(service.PauseDequeue({}, call('CN=operator'))), { code: 'FORBIDDEN' }, 'global pause is admin-only')
  t.match(await rejection(service.ExportAudit({}, call('CN=viewer'))), { code: 'FORBIDDEN' }, 'export is for operators')
  t.same(await service.PauseDequeue({}, call('CN=admin')), { globalPaused: true })
  await service.ResumeDequeue({}, call('CN=admin'))

  t.match(await rejection(service.GetHealth({}, call('CN=stranger'))), { code: 'FORBIDDEN', message: /CN=stranger is not allowed/ }, 'unknown caller refused even for reads')
  t.match(await rejection(service.PauseQueue({ name: q, paused: false }, call('CN=stranger'))), { code: 'FORBIDDEN' })
  t.match(sink.events.at(-1), { actor: 'CN=stranger', outcome: 'denied' })
  t.match(await rejection(service.GetHealth({}, call(''))), { code: 'UNAUTHENTICATED', statusCode: 401 })
  const stream = service.StreamEvents({}, call('CN=stranger'))
  t.match(await rejection(stream.ready), { code: 'FORBIDDEN' }, 'the stream refuses before it starts')
})

t.test('approval: required token for every mutation, never for reads', async t => {
  const backend = await serverBackend(t)
  const events = new EventLog(backend)
  const info = { version: 'v', commit: 'c', backendName: backend.name, startedAt: Date.now(), weightDefaults: () => 1, defaultQueue: 'default', taskDefaults: DEFAULT_TASK_DEFAULTS }
  t.throws(() => createAdminService({ backend, events, info, options: { ...BASE_OPTIONS, requireApproval: true } }), { code: 'ADMIN_OPTIONS_INVALID', message: /WORKER_ADMIN_APPROVAL_TOKEN/ }, 'approval without a token refuses to start')

  const { service, sink } = makeService(t, backend, { requireApproval: true, approvalToken: 's3cret' })
  const q = `appr-${suffix()}`
  await backend.ensureQueues([q])
  t.match(await rejection(service.PauseQueue({ name: q, paused: true }, call())), { code: 'APPROVAL_REQUIRED', statusCode: 412 })
  t.match(await rejection(service.PauseQueue({ name: q, paused: true }, call('CN=admin', { approvalToken: 'wrong' }))), { code: 'APPROVAL_REQUIRED' })
  t.match(await rejection(service.ReplayDLQ({ limit: 1, dryRun: true }, call())), { code: 'APPROVAL_REQUIRED' }, 'dry runs are mutations too')
  t.equal((await backend.queueStats([q]))[0]?.paused, false)
  t.match(await service.PauseQueue({ name: q, paused: true }, call('CN=admin', { approvalToken: 's3cret' })), { queue: { paused: true } })
  t.match(await service.GetQueue({ name: q }, call()), { queue: { paused: true } }, 'reads need no approval')
  t.same(sink.events.map(event => event.outcome), ['denied', 'denied', 'denied', 'ok'])
  t.notMatch(JSON.stringify(sink.events), /s3cret|wrong/, 'tokens are never audited')
})

t.test('guardrails: replay and export caps answer 429 naming the variable', async t => {
  const backend = await serverBackend(t)
  const { service, sink } = makeService(t, backend)
  const q = `cap-${suffix()}`
  const ids = await makeDead(backend, q, 2)
  const tooMany = await rejection(service.ReplayDLQ({ limit: 51 }, call()))
  t.match(tooMany, { code: 'GUARDRAIL_EXCEEDED', statusCode: 429, message: /WORKER_ADMIN_REPLAY_LIMIT_MAX/, details: { max: 50, requested: 51, env: 'WORKER_ADMIN_REPLAY_LIMIT_MAX' } })
  const idsOver = await rejection(service.ReplayDLQByID({ ids: [...ids, 'a', 'b', 'c', 'd'] }, call()))
  t.match(idsOver, { code: 'GUARDRAIL_EXCEEDED', details: { env: 'WORKER_ADMIN_REPLAY_IDS_MAX', max: 5, requested: 6 } })
  t.match(await rejection(service.ExportAudit({ limit: 201 }, call())), { code: 'GUARDRAIL_EXCEEDED', details: { env: 'WORKER_ADMIN_AUDIT_EXPORT_LIMIT_MAX' } })
  t.equal((await backend.queueStats([q]))[0]?.dead, 2, 'nothing was replayed')
  t.same(sink.events.map(event => event.outcome), ['denied', 'denied'], 'refused mutations are audited as denied')
  t.match(await service.ReplayDLQ({ limit: 50, queue: q }, call()), { count: 2 }, 'at the cap is allowed')
})

t.test('validation: 400 naming the field, nothing half-applied', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const q = `val-${suffix()}`
  const [deadId] = await makeDead(backend, q, 1) as [string]
  const cases: Array<[RpcName, unknown, RegExp]> = [
    ['UpdateQueueWeight', { name: q, weight: 0 }, /^weight: must be >= 1/],
    ['UpdateQueueWeight', { name: q }, /^weight: is required/],
    ['PauseQueue', { name: q, paused: true, force: true }, /^force: is not a field of this request/],
    ['GetQueue', { name: 'has space' }, /^name: must be 1-128 characters/],
    ['ListTasks', { limit: 5000 }, /^limit: must be <= 1000/],
    ['ListTasks', { state: 'exploded' }, /^state: must be one of scheduled, ready/],
    ['ListDLQ', { offset: -1 }, /^offset: must be >= 0/],
    ['EnqueueTask', { queue: q }, /^handler: is required/],
    ['EnqueueTask', { handler: 'h', payload: { n: Number.NaN } }, /^payload\.n: must be a finite number/],
    ['EnqueueTask', { handler: 'h', runAt: 'tomorrow' }, /^runAt: must be an RFC 3339 timestamp/],
    ['ReplayDLQByID', { ids: [] }, /^ids: must not have fewer than 1 items/],
    ['ReplayDLQByID', { ids: [deadId], payload: ['ok', 'a\u0000b'] }, /^payload\[1\]: contains a NUL character/],
    ['ReplayDLQByID', { ids: [deadId], payload: { blob: 'x'.repeat(PAYLOAD_MAX_BYTES) } }, /^payload: \d+ bytes as JSON, more than the 1048576 allowed/],
    ['ReplayDLQ', {}, /^limit: is required/],
    ['ExportAudit', { format: 'xml' }, /^format: must be one of jsonl, json, csv/]
  ]
  for (const [name, request, message] of cases) {
    const err = await rejection(invoke(service, name, request))
    t.match(err, { code: 'VALIDATION_FAILED', statusCode: 400, message }, `${name} ${JSON.stringify(request)}`)
    t.type(err.details?.field, 'string')
  }
  t.equal((await backend.getTask(deadId))?.state, 'dead', 'the replay with a bad payload did not move the task')
  t.same((await backend.listTasks({ queue: q, state: 'ready', limit: 10, offset: 0 })).tasks, [], 'no task was enqueued')
})

t.test('a backend that never answers gives 503 BACKEND_TIMEOUT within the timeout', async t => {
  // A hung backend cannot be produced on demand, so this one is a Proxy whose calls never settle.
  const capabilities: BackendCapabilities = {
    taskFilters: ['state', 'queue', 'handler', 'query'], taskCount: { exact: ['state', 'queue', 'handler', 'query'], examineUpTo: 0 }, priorities: true, delayedTasks: true, idempotencyKeys: true,
    cancel: true, queuePause: true, globalPause: true, queueWeights: true, rateLimit: true, leaderLock: true, workerRegistry: true,
    eventLog: true, audit: true, workNotifications: false, records: false
  }
  const hung = new Proxy({} as Backend, {
    get (_target, prop) {
      if (prop === 'name') return 'hung'
      if (prop === 'capabilities') return capabilities
      if (prop === 'subscribeEvents' || prop === 'subscribeWork' || prop === 'then') return undefined
      return () => new Promise(() => {})
    }
  })
  const backgroundErrors: unknown[] = []
  const { service } = makeService(t, hung, { requestTimeoutMs: 200 }, { onError: err => { backgroundErrors.push(err) } })
  for (const [name, request] of [['GetQueue', { name: 'q' }], ['ListTasks', {}], ['GetOverview', {}], ['PauseQueue', { name: 'q', paused: true }]] as const) {
    const started = Date.now()
    const err = await rejection(invoke(service, name, request))
    const elapsed = Date.now() - started
    t.match(err, { code: 'BACKEND_TIMEOUT', statusCode: 503 }, `${name} times out`)
    t.ok(elapsed < 2_000, `${name} answered in ${elapsed} ms`)
  }
  t.match(await service.GetHealth({}, call()), { status: 'degraded', backendError: /BACKEND_TIMEOUT/ }, 'health reports a hung backend instead of hanging')
  t.ok(backgroundErrors.length >= 1, 'the audit write of the failed mutation timed out too and was reported')
})

t.test('every RPC in the table has a service method', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  for (const def of RPC_LIST) t.type(service[def.name as RpcName], 'function', def.name)
  t.equal(RPCS.StreamEvents.stream, true)
})
