// The contract's argument checks run in core, in front of every backend: a bad call
// is refused with VALIDATION_FAILED naming the field and never reaches the backend.
// The backend here records what reaches it, which is all these cases need to see;
// the conformance suite (cases/refused-input.ts) runs the same guard against the
// four real backends.
import t from 'tap'
import { isSwitchyardError } from '../errors.ts'
import { normalizeNewTask, DEFAULT_TASK_DEFAULTS } from '../tasks/enqueue.ts'
import { hasArgumentChecks, withArgumentChecks } from './argument-guard.ts'
import { ARGUMENT_CHECKS, MAX_BATCH } from './arguments.ts'
import { newTask } from './conformance/support.ts'
import { withTimeouts } from './guard.ts'
import type { Backend } from './types.ts'

function recordingBackend (): { backend: Backend, calls: string[] } {
  const calls: string[] = []
  const target = { name: 'recording', capabilities: {} } as Record<string, unknown>
  for (const method of Object.keys(ARGUMENT_CHECKS)) {
    target[method] = async () => { calls.push(method); return method === 'getTask' ? null : [] }
  }
  return { backend: target as unknown as Backend, calls }
}

const ref = { id: '1', leaseToken: 't' }
const lease = { workerId: 'w', queues: ['q'], limit: 1, leaseMs: 1000 }

t.test('bad arguments are refused naming the field, before the backend sees them', async t => {
  const { backend: raw, calls } = recordingBackend()
  const backend = withArgumentChecks(raw)
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['enqueue: empty queue', () => backend.enqueue([newTask('')]), 'tasks[0].queue'],
    ['enqueue: priority out of range', () => backend.enqueue([newTask('q', { priority: 5000 })]), 'tasks[0].priority'],
    ['enqueue: too many', () => backend.enqueue(Array.from({ length: MAX_BATCH + 1 }, () => newTask('q'))), 'tasks'],
    ['enqueue: NUL in a payload string', () => backend.enqueue([newTask('q', { payload: { a: ['x\u0000'] } })]), 'tasks[0].payload.a[0]'],
    ['enqueue: NUL in an idempotency key', () => backend.enqueue([newTask('q', { idempotencyKey: 'k\u0000' })]), 'tasks[0].idempotencyKey'],
    ['enqueue: Infinity in a payload', () => backend.enqueue([newTask('q', { payload: { n: Infinity } })]), 'tasks[0].payload.n'],
    ['enqueue: a function as payload', () => backend.enqueue([newTask('q', { payload: () => 1 })]), 'tasks[0].payload'],
    ['leaseTasks: negative limit', () => backend.leaseTasks({ ...lease, limit: -1 }), 'limit'],
    ['awaitPushedTasks: waitMs 0', () => backend.awaitPushedTasks!({ ...lease, waitMs: 0 }), 'waitMs'],
    ['awaitPushedTasks: waitMs past the bound', () => backend.awaitPushedTasks!({ ...lease, waitMs: 3_600_000 }), 'waitMs'],
    ['awaitPushedTasks: a signal that is not one', () => backend.awaitPushedTasks!({ ...lease, waitMs: 10, signal: {} as never }), 'signal'],
    ['awaitPushedTasks: bad lease', () => backend.awaitPushedTasks!({ ...lease, queues: 'q' as never, waitMs: 10 }), 'queues'],
    ['leaseTasks: leaseMs 0', () => backend.leaseTasks({ ...lease, leaseMs: 0 }), 'leaseMs'],
    ['leaseTasks: empty worker id', () => backend.leaseTasks({ ...lease, workerId: '' }), 'workerId'],
    ['completeAndLease: bad lease', () => backend.completeAndLease!([ref], { ...lease, queues: 'q' as never }), 'queues'],
    ['completeTasks: not a lease reference', () => backend.completeTasks([{ id: 1 } as never]), 'items[0]'],
    ['failTasks: negative delay', () => backend.failTasks([{ ...ref, error: { message: 'x' }, retryDelayMs: -1 }]), 'items[0].retryDelayMs'],
    ['extendLeases: leaseMs too long', () => backend.extendLeases([ref], 8 * 24 * 3600_000), 'leaseMs'],
    ['recoverExpiredLeases: fractional limit', () => backend.recoverExpiredLeases(1.5), 'limit'],
    ['getTask: empty id', () => backend.getTask(''), 'id'],
    ['listTasks: negative offset', () => backend.listTasks({ limit: 10, offset: -1 }), 'offset'],
    ['listTasks: unknown state', () => backend.listTasks({ limit: 10, offset: 0, state: 'nope' as never }), 'state'],
    ['listTasks: NUL in the query', () => backend.listTasks({ limit: 10, offset: 0, query: 'a\u0000' }), 'query'],
    ['requeueTasks: no states', () => backend.requeueTasks({ fromStates: [], ids: ['1'] }), 'fromStates'],
    ['requeueTasks: ids and filter', () => backend.requeueTasks({ fromStates: ['dead'], ids: ['1'], filter: { limit: 1 } }), 'ids'],
    ['requeueTasks: NUL in the new payload', () => backend.requeueTasks({ fromStates: ['dead'], ids: ['1'], payload: { s: '\u0000' } }), 'payload.s'],
    ['deleteTasks: ids not an array', () => backend.deleteTasks({ fromStates: ['dead'], ids: '1' as never }), 'ids'],
    ['pruneFinished: limit too large', () => backend.pruneFinished({ state: 'succeeded', finishedOlderThanMs: 0, limit: 1e9 }), 'limit'],
    ['pruneFinished: a state that is not final', () => backend.pruneFinished({ state: 'ready' as never, finishedOlderThanMs: 0, limit: 1 }), 'state'],
    ['leaseTasks: handlers not an array', () => backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 1, leaseMs: 10, handlers: 'mail' as never }), 'handlers'],
    ['leaseTasks: an empty handler name', () => backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 1, leaseMs: 10, handlers: ['mail', ''] }), 'handlers[1]'],
    ['pendingHandlers: negative limit', () => backend.pendingHandlers({ queues: ['q'], limit: -1 }), 'limit'],
    ['readOverview: negative pendingLimit', () => backend.readOverview!({ pendingLimit: -1, events: null }), 'pendingLimit'],
    ['readOverview: fractional events.limit', () => backend.readOverview!({ pendingLimit: 10, events: { afterId: null, limit: 1.5 } }), 'events.limit'],
    ['readOverview: events.afterId a number', () => backend.readOverview!({ pendingLimit: 10, events: { afterId: 5 as never, limit: 10 } }), 'events.afterId'],
    ['heartbeatWorker: handlers missing', () => backend.heartbeatWorker({ id: 'w', host: 'h', pid: 1, version: 'v', queues: [], concurrency: 1, inFlight: 0, startedAt: 0, lastHeartbeatAt: 0 } as never, 1000), 'info.handlers'],
    ['setQueueWeight: negative', () => backend.setQueueWeight('q', -1), 'weight'],
    ['setWorkerCordoned: not a boolean', () => backend.setWorkerCordoned('w', 'yes' as never), 'cordoned'],
    ['setWorkerCordoned: empty id', () => backend.setWorkerCordoned('', true), 'id'],
    ['releaseWorkerLeases: empty worker id', () => backend.releaseWorkerLeases({ workerId: '', limit: 1 }), 'workerId'],
    ['releaseWorkerLeases: negative limit', () => backend.releaseWorkerLeases({ workerId: 'w', limit: -1 }), 'limit'],
    ['sweepWorkers: negative age', () => backend.sweepWorkers({ olderThanMs: -1, limit: 1 }), 'olderThanMs'],
    ['listWorkers: includeStale not a boolean', () => backend.listWorkers({ includeStale: 1 as never }), 'options.includeStale'],
    ['setQueuePaused: not a boolean', () => backend.setQueuePaused('q', 'yes' as never), 'paused'],
    ['acquireLeader: ttl 0', () => backend.acquireLeader('l', 'h', 0), 'ttlMs'],
    ['setRateLimit: window 0', () => backend.setRateLimit({ limit: 1, windowMs: 0 }), 'rateLimit.windowMs'],
    ['takeRatePermits: negative', () => backend.takeRatePermits(-1), 'n'],
    ['leaseWithinRateLimit: leaseMs 0', () => backend.leaseWithinRateLimit!({ ...lease, leaseMs: 0 }), 'leaseMs'],
    ['leaseWithinRateLimit: not an object', () => backend.leaseWithinRateLimit!(null as never), 'lease'],
    ['heartbeatWorker: no id', () => backend.heartbeatWorker({ id: '', queues: [] } as never, 1000), 'info.id'],
    ['appendEvents: empty type', () => backend.appendEvents([{ type: '', data: null }]), 'events[0].type'],
    ['readEvents: negative limit', () => backend.readEvents({ afterId: null, limit: -1 }), 'limit'],
    ['appendAudit: bad outcome', () => backend.appendAudit({ action: 'a', target: 't', actor: 'x', requestId: 'r', params: {}, outcome: 'maybe' as never }), 'outcome'],
    ['pruneAudit: negative count', () => backend.pruneAudit({ maxCount: -1 }), 'maxCount'],
    ['putRecord: upper-case collection', () => backend.putRecord('Bad', 'k', 1), 'collection'],
    ['putRecord: NUL in the value', () => backend.putRecord('c', 'k', { s: '\u0000' }), 'value.s'],
    ['claimOnce: ttl 0', () => backend.claimOnce('k', 0), 'ttlMs']
  ]
  for (const [what, call, field] of cases) {
    const err = await call().then(() => null, (e: unknown) => e)
    t.ok(isSwitchyardError(err) && err.code === 'VALIDATION_FAILED', `${what}: VALIDATION_FAILED`, { found: err })
    t.equal((err as { details?: { field?: unknown } } | null)?.details?.field, field, `${what}: names ${field}`)
  }
  t.same(calls, [], 'no refused call reached the backend')
})

t.test('valid calls pass through unchanged', async t => {
  const { backend: raw, calls } = recordingBackend()
  const backend = withArgumentChecks(raw)
  await backend.enqueue([newTask('q', { payload: { text: 'tab\there, é, 😀', n: -1.5, at: new Date(0) } })])
  await backend.leaseTasks(lease)
  await backend.listTasks({ limit: 10, offset: 0, query: 'x' })
  await backend.requeueTasks({ fromStates: ['dead'], filter: { queue: 'q', limit: 5 } })
  await backend.setQueueWeight('q', null)
  await backend.readEvents({ afterId: null, limit: 10 })
  t.same(calls, ['enqueue', 'leaseTasks', 'listTasks', 'requeueTasks', 'setQueueWeight', 'readEvents'])
  t.equal(backend.name, 'recording', 'properties pass through')
  t.equal(backend.enqueue, backend.enqueue, 'one wrapper per method, not one per access')
})

t.test('guarding once: again, or under withTimeouts, adds no second layer', async t => {
  const { backend: raw } = recordingBackend()
  const checked = withArgumentChecks(raw)
  t.equal(withArgumentChecks(checked), checked)
  const bounded = withTimeouts(checked, 1000)
  t.ok(hasArgumentChecks(bounded), 'a bounded checked backend counts as checked')
  t.equal(withArgumentChecks(bounded), bounded)
  t.notOk(hasArgumentChecks(raw))
})

t.test('tasks normalizeNewTask built are not walked twice; others are', async t => {
  const { backend: raw, calls } = recordingBackend()
  const backend = withArgumentChecks(raw)
  const normalized = normalizeNewTask({ handler: 'h', payload: { ok: true } }, DEFAULT_TASK_DEFAULTS)
  // changed after normalizing: the guard trusts normalizeNewTask's walk and lets it by
  ;(normalized.payload as Record<string, unknown>).late = 'x\u0000'
  await backend.enqueue([normalized])
  t.same(calls, ['enqueue'])
  await t.rejects(backend.enqueue([{ ...normalized }]), { code: 'VALIDATION_FAILED', details: { field: 'tasks[0].payload.late' } }, 'a copy is walked')
})
