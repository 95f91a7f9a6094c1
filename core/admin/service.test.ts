import t from 'tap'
import { call, serverBackend, makeDead, makeService, newTask, rejection, suffix, waitFor } from './test-support.ts'

t.test('queues: list, get, weight, pause', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const q = `q-${suffix()}`
  await backend.enqueue([newTask(q), newTask(q)])

  const list = await service.ListQueues({}, call())
  const listed = list.queues.find(queue => queue.name === q)
  t.match(listed, { name: q, ready: 2, weight: 1, defaultWeight: 1, weightOverridden: false, paused: false })
  t.ok(list.queues.some(queue => queue.name === 'critical' && queue.weight === 5), 'a queue named only in config is listed')

  t.match((await service.GetQueue({ name: q }, call())).queue, { name: q, ready: 2 })
  t.match((await service.UpdateQueueWeight({ name: q, weight: 7 }, call())).queue, { weight: 7, weightOverridden: true })
  t.match((await service.ResetQueueWeight({ name: q }, call())).queue, { weight: 1, weightOverridden: false })
  t.match((await service.PauseQueue({ name: q, paused: true }, call())).queue, { paused: true })
  t.match((await service.PauseQueue({ name: q, paused: true }, call())).queue, { paused: true }, 'pausing a paused queue is a no-op')
  t.equal((await backend.queueStats([q]))[0]?.paused, true, 'the pause is stored in the backend')
  t.match((await service.PauseQueue({ name: q, paused: false }, call())).queue, { paused: false })

  t.match((await service.UpdateQueueWeight({ name: 'critical', weight: 9 }, call())).queue, { name: 'critical', weight: 9 }, 'a configured queue can be weighted before its first task')

  const missing = await rejection(service.GetQueue({ name: `nope-${suffix()}` }, call()))
  t.match(missing, { code: 'QUEUE_NOT_FOUND', statusCode: 404 })
  t.match(await rejection(service.PauseQueue({ name: `nope-${suffix()}`, paused: true }, call())), { code: 'QUEUE_NOT_FOUND' })
  t.match(await rejection(service.UpdateQueueWeight({ name: `nope-${suffix()}`, weight: 2 }, call())), { code: 'QUEUE_NOT_FOUND' })
})

t.test('DLQ: list, stats, entry, replay by filter and by id, delete', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const q = `dlq-${suffix()}`
  const ids = await makeDead(backend, q, 4)

  const page = await service.ListDLQ({ queue: q, limit: 10 }, call())
  t.same(page.entries.map(entry => entry.id).sort(), [...ids].sort())
  t.match(page, { total: 4, limit: 10, offset: 0 })
  t.match(page.entries[0], { state: 'dead', queue: q, lastError: 'boom', attempts: 1 })

  const stats = await service.GetDLQStats({}, call())
  t.equal(stats.byQueue[q], 4)
  t.ok(stats.total >= 4)
  t.type(stats.newestFailedAt, 'string')

  const entry = await service.GetDLQEntry({ id: ids[0] as string }, call())
  t.match(entry.entry, { id: ids[0], state: 'dead', errors: [{ attempt: 1, message: 'boom' }] })
  t.same(entry.entry.payload, { i: 0 }, 'the payload is a JSON value')

  const dry = await service.ReplayDLQByID({ ids: [ids[0] as string], dryRun: true }, call())
  t.match(dry, { dryRun: true, count: 1, replayed: [ids[0]] })
  t.equal((await backend.getTask(ids[0] as string))?.state, 'dead', 'a dry run changes nothing')

  const target = `target-${suffix()}`
  const byId = await service.ReplayDLQByID({ ids: [ids[0] as string, 'no-such-id'], payload: { edited: true }, targetQueue: target }, call())
  t.match(byId, { dryRun: false, count: 1, replayed: [ids[0]], skipped: [{ id: 'no-such-id', reason: 'not_found' }] })
  const replayed = await backend.getTask(ids[0] as string)
  t.match(replayed, { state: 'ready', queue: target, payload: { edited: true }, attempts: 0, replays: 1 })

  const again = await service.ReplayDLQByID({ ids: [ids[0] as string] }, call())
  t.match(again, { count: 0, replayed: [], skipped: [{ id: ids[0], reason: 'wrong_state', state: 'ready' }] }, 'replaying twice moves it once')
  t.match(await rejection(service.GetDLQEntry({ id: ids[0] as string }, call())), { code: 'DLQ_ENTRY_NOT_FOUND', statusCode: 404 })

  const byFilter = await service.ReplayDLQ({ limit: 2, queue: q }, call())
  t.equal(byFilter.count, 2)
  t.equal((await backend.queueStats([q]))[0]?.dead, 1)

  const last = (await service.ListDLQ({ queue: q }, call())).entries[0]?.id as string
  t.same(await service.DeleteDLQEntry({ id: last }, call()), { id: last, deleted: true })
  t.same(await service.DeleteDLQEntry({ id: last }, call()), { id: last, deleted: false }, 'deleting twice is harmless')
  t.equal(await backend.getTask(last), null)
  t.match(await rejection(service.DeleteDLQEntry({ id: ids[0] as string }, call())), { code: 'CONFLICT', statusCode: 409 }, 'a ready task is not a DLQ entry')
})

t.test('tasks: enqueue, list, get with timeline, cancel, retry', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const q = `tasks-${suffix()}`

  const enqueued = await service.EnqueueTask({ handler: 'mail.send', queue: q, payload: { to: 'a@b' }, priority: 5, idempotencyKey: `k-${suffix()}` }, call())
  t.match(enqueued, { created: true, queue: q })
  const repeat = await service.EnqueueTask({ handler: 'mail.send', queue: q, idempotencyKey: (await backend.getTask(enqueued.id))?.idempotencyKey as string }, call())
  t.same(repeat, { id: enqueued.id, created: false, queue: q, warnings: enqueued.warnings, outcome: 'existing' }, 'the idempotency key deduplicates')

  const got = await service.GetTask({ id: enqueued.id }, call())
  t.match(got.task, { id: enqueued.id, handler: 'mail.send', state: 'ready', priority: 5 })
  t.same(got.task.payload, { to: 'a@b' })
  t.same(got.timeline.map(entry => entry.event), ['created'])

  const listed = await service.ListTasks({ queue: q, state: 'ready' }, call())
  t.same(listed.tasks.map(task => task.id), [enqueued.id])
  t.equal(listed.total, 1)

  t.same(await service.CancelTask({ id: enqueued.id }, call()), { id: enqueued.id, state: 'canceled' })
  t.same(await service.CancelTask({ id: enqueued.id }, call()), { id: enqueued.id, state: 'canceled' }, 'canceling twice reaches the same state')
  t.same(await service.RetryTask({ id: enqueued.id }, call()), { id: enqueued.id, requeued: true, state: 'ready' })
  t.same(await service.RetryTask({ id: enqueued.id }, call()), { id: enqueued.id, requeued: false, state: 'ready' }, 'retrying twice runs it once')

  const [leased] = await backend.leaseTasks({ workerId: 'w', queues: [q], limit: 1, leaseMs: 60_000 })
  t.equal(leased?.id, enqueued.id)
  t.match(await rejection(service.CancelTask({ id: enqueued.id }, call())), { code: 'CONFLICT', statusCode: 409, details: { state: 'processing' } }, 'a started task cannot be canceled')
  t.match(await rejection(service.RetryTask({ id: enqueued.id }, call())), { code: 'CONFLICT', details: { state: 'processing' } }, 'a running task is never re-queued')
  const timeline = (await service.GetTask({ id: enqueued.id }, call())).timeline
  t.same(timeline.map(entry => entry.event), ['created', 'started'])

  t.match(await rejection(service.GetTask({ id: 'missing' }, call())), { code: 'TASK_NOT_FOUND', statusCode: 404 })
  t.match(await rejection(service.CancelTask({ id: 'missing' }, call())), { code: 'TASK_NOT_FOUND' })
  t.match(await rejection(service.RetryTask({ id: 'missing' }, call())), { code: 'TASK_NOT_FOUND' })

  const delayed = await service.EnqueueTask({ handler: 'later', queue: q, runAt: new Date(Date.now() + 3600_000).toISOString() }, call())
  t.equal((await backend.getTask(delayed.id))?.state, 'scheduled')
})

t.test('health, overview, workers, global pause', async t => {
  const backend = await serverBackend(t)
  const { service, events } = makeService(t, backend)
  const q = `ov-${suffix()}`
  await backend.enqueue([newTask(q), newTask(q, { delayMs: 3600_000 })])
  await makeDead(backend, q, 1)
  await backend.heartbeatWorker({ id: 'w1', host: 'h', pid: 1, version: 'v', queues: [q], handlers: ['conformance.handler'], concurrency: 4, inFlight: 2, startedAt: Date.now(), lastHeartbeatAt: Date.now() }, 60_000)
  events.emit('task.succeeded', { id: 'x', durationMs: 10 })
  events.emit('task.succeeded', { id: 'y', durationMs: 30 })
  events.emit('task.dead', { id: 'z', durationMs: 20 })
  await events.flush()

  const health = await service.GetHealth({}, call())
  t.match(health, { status: 'ok', version: '0.1.0-test', backend: backend.name, nodeVersion: process.version })
  t.ok(health.uptimeSeconds >= 1)

  t.same((await service.PauseDequeue({}, call())), { globalPaused: true })
  const overview = await service.GetOverview({}, call())
  t.match(overview.totals, { ready: 1, scheduled: 1, dead: 1 })
  t.match(overview.queues.find(queue => queue.name === q), { ready: 1, scheduled: 1, dead: 1 })
  t.match(overview, { activeWorkers: 1, inFlight: 2, coordination: { globalPaused: true } })
  t.match(overview.latency, { samples: 3, avgMs: 20, p95Ms: 30 })
  t.match(overview.actions, { pauses: 1, byAction: { 'dequeue.pause': 1 } })
  t.same((await service.ResumeDequeue({}, call())), { globalPaused: false })
  t.match((await service.GetOverview({}, call())).actions, { pauses: 1, resumes: 1 })

  const workers = await service.ListWorkers({}, call())
  t.match(workers.workers, [{ id: 'w1', concurrency: 4, inFlight: 2, queues: [q] }])
})

t.test('audit: every mutation is listed before it answers, exported in three formats', async t => {
  const backend = await serverBackend(t)
  const { service, sink } = makeService(t, backend)
  const q = `audit-${suffix()}`
  await backend.ensureQueues([q])
  const ctx = call('CN=alice')
  await service.PauseQueue({ name: q, paused: true }, ctx)
  // No waiting: the audit event must already be stored when the call answered.
  const listed = await service.ListAuditEvents({ action: 'queue.pause', target: q }, call())
  t.match(listed.events, [{ action: 'queue.pause', target: q, actor: 'CN=alice', requestId: ctx.requestId, outcome: 'ok' }])
  t.same(listed.events[0]?.params, { name: q, paused: true }, 'params are a JSON value')
  t.equal(sink.events.length, 1, 'the sink got it too')

  await rejection(service.GetQueue({ name: 'x y' }, call()))
  t.equal(sink.events.length, 1, 'reads are not audited')
  const failed = await rejection(service.PauseQueue({ name: `gone-${suffix()}`, paused: true }, call('CN=bob')))
  t.equal(failed.code, 'QUEUE_NOT_FOUND')
  const [latest] = (await service.ListAuditEvents({ limit: 1 }, call())).events
  t.match(latest, { actor: 'CN=bob', outcome: 'error', error: /QUEUE_NOT_FOUND/ }, 'failed mutations are audited')

  await service.EnqueueTask({ handler: 'secret.job', queue: q, payload: { password: 'hunter2' } }, call())
  const [enqueue] = (await service.ListAuditEvents({ action: 'task.enqueue' }, call())).events
  t.notMatch(JSON.stringify(enqueue?.params), /hunter2/, 'payloads are not copied into the audit log')
  t.match(enqueue?.params, { payloadBytes: 22, handler: 'secret.job' }, 'only their size as JSON')
  t.notOk('payload' in (enqueue?.params as object), 'not even as a type name')

  const jsonl = await service.ExportAudit({}, call())
  t.match(jsonl, { contentType: 'application/x-ndjson', count: 3 })
  t.equal(jsonl.body.trim().split('\n').length, 3)
  const json = await service.ExportAudit({ format: 'json', action: 'queue.pause' }, call())
  t.equal(JSON.parse(json.body).length, 2)
  const csv = await service.ExportAudit({ format: 'csv', limit: 2 }, call())
  t.equal(csv.count, 2)
  t.match(csv.body, /^id,time,action,target,actor,requestId,outcome,error,params\r\n/)
  t.match(csv.body, /,"\{""name"":""gone-[^"]+"",""paused"":true\}"\r\n/, 'the params cell is the JSON text, quoted for CSV')
  const jsonlEvent = JSON.parse(jsonl.body.trim().split('\n')[0] as string) as { params: unknown }
  t.type(jsonlEvent.params, 'object', 'jsonl carries params as a JSON value')
  t.match(csv.filename, /\.csv$/)

  const paged = await service.ListAuditEvents({ limit: 2 }, call())
  t.equal(paged.events.length, 2)
  const next = await service.ListAuditEvents({ limit: 2, beforeId: paged.nextBeforeId }, call())
  t.equal(next.events.length, 1)
  t.equal(next.nextBeforeId, undefined)
})

t.test('StreamEvents: live events, then resume after an id', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const q = `stream-${suffix()}`
  await backend.ensureQueues([q])
  await backend.appendEvents([{ type: 'task.old', data: { before: true } }])

  const abort = new AbortController()
  const stream = service.StreamEvents({}, call('CN=viewer', { signal: abort.signal }))
  await stream.ready
  const seen: Array<{ id: string, type: string, data: unknown }> = []
  const consuming = (async () => {
    for await (const event of stream) {
      seen.push(event)
      if (seen.length === 3) abort.abort()
    }
  })()
  await service.PauseQueue({ name: q, paused: true }, call())
  await service.PauseQueue({ name: q, paused: false }, call())
  await waitFor(async () => seen.length >= 3, 'three live events')
  await consuming
  t.notOk(seen.some(event => event.type === 'task.old'), 'without afterId only new events come')
  t.match(seen.find(event => event.type === 'queue.paused')?.data, { queue: q }, 'event data is a JSON value')
  t.ok(seen.some(event => event.type === 'audit'))

  const first = seen[0] as { id: string }
  const resumed = service.StreamEvents({ afterId: first.id }, call())
  const iterator = resumed[Symbol.asyncIterator]()
  const next = await iterator.next()
  t.equal(next.value?.id, seen[1]?.id, 'resuming after an id starts with the event after it')
  await iterator.return?.()
})

t.test('audit retention runs periodically after writes, not on every write', async t => {
  const real = await serverBackend(t)
  let prunes = 0
  const backend = new Proxy(real, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (prop !== 'pruneAudit' || typeof value !== 'function') return value
      return async (...args: unknown[]) => { prunes++; return await value.apply(target, args) }
    }
  })
  const q = `ret-${suffix()}`
  await real.ensureQueues([q])
  const slow = makeService(t, backend, { auditEventLimit: 3 })
  for (let i = 0; i < 6; i++) await slow.service.PauseQueue({ name: q, paused: i % 2 === 0 }, call())
  await slow.service.close()
  t.equal(prunes, 1, 'six writes inside one interval prune once')

  const eager = makeService(t, backend, { auditEventLimit: 3, auditPruneIntervalMs: 0 })
  await eager.service.PauseQueue({ name: q, paused: true }, call())
  await eager.service.close()
  t.equal((await real.listAudit({ limit: 100 })).length, 3, 'retention keeps WORKER_ADMIN_AUDIT_EVENT_LIMIT events')
})

t.test('StreamEvents resumes from an id in another service instance (replay survives a restart)', async t => {
  const backend = await serverBackend(t)
  const first = makeService(t, backend)
  const q = `restart-${suffix()}`
  await backend.ensureQueues([q])
  await first.service.PauseQueue({ name: q, paused: true }, call())
  await first.events.flush()
  const all = await backend.readEvents({ afterId: null, limit: 100 })
  t.ok(all.length >= 2, 'the pause appended its events')
  await first.service.close()

  const second = makeService(t, backend)
  const abort = new AbortController()
  const got: string[] = []
  for await (const event of second.service.StreamEvents({ afterId: all[0]?.id }, call('CN=admin', { signal: abort.signal }))) {
    got.push(event.id)
    if (got.length === all.length - 1) abort.abort()
  }
  t.same(got, all.slice(1).map(event => event.id), 'exactly the events after the given id, in order, then the stream ended on abort')
})

t.test('a refused request whose target holds a NUL is still audited on Postgres', async t => {
  const backend = await serverBackend(t)
  const { service } = makeService(t, backend)
  const refused = await rejection(service.CancelTask({ id: 'a\u0000b' }, call()))
  t.match(refused, { code: 'VALIDATION_FAILED', statusCode: 400 }, 'a 400 naming the id, not a 500 from the audit write')
  const audit = await backend.listAudit({ limit: 10, action: 'task.cancel' })
  t.ok(audit.some(event => event.target === 'a\uFFFDb' && event.outcome !== 'ok'), 'the audit record keeps the target as storable text')
})
