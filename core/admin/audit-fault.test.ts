import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createPostgresBackend } from '@switchyard/backend-postgres'
import { dropSchema, testSchema, TEST_POSTGRES_URL, withRawClient } from '../../plugins/backend-postgres/test-support.ts'
import { openTestBackend, TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import type { AuditEvent, Backend } from '../backend/types.ts'
import type { MetricEvent } from '../plugin/kinds.ts'
import { call, makeService, MemorySink, rejection, suffix } from './test-support.ts'
import type { AuditSink } from './types.ts'

// The backend's audit store and the sinks are separate destinations: real faults in
// one (an audit table that refuses inserts, a backend whose connections are gone, a
// Redis audit key of the wrong type)
// must not lose the record in the others, and every failed write is counted.

type TapTest = Test

async function faultyBackend (t: TapTest) {
  const schema = testSchema()
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 2 })
  t.teardown(async () => {
    await backend.close().catch(() => {})
    await dropSchema(schema)
  })
  await backend.init()
  return { backend, schema }
}

/** a service over the backend whose metric events and reported failures are kept for assertions */
function harness (t: TapTest, backend: Backend, sinks?: AuditSink[]) {
  const observed: MetricEvent[] = []
  const errors: string[] = []
  const h = makeService(t, backend, {}, {
    observe: event => { observed.push(event) },
    onError: (_err, context) => { errors.push(context) },
    ...(sinks === undefined ? {} : { auditSinks: sinks })
  })
  return { ...h, observed, errors }
}

/** makes the backend's audit table refuse every insert, as a read-only store would */
async function refuseAuditInserts (schema: string): Promise<void> {
  await withRawClient(async client => {
    await client.query(`CREATE FUNCTION "${schema}".refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store is read-only'; END $$`)
    await client.query(`CREATE TRIGGER refuse_audit BEFORE INSERT ON "${schema}".audit FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_audit()`)
  })
}

function failures (observed: MetricEvent[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const event of observed) if (event.type === 'audit.write_failed') counts[event.destination] = (counts[event.destination] ?? 0) + 1
  return counts
}

t.test('an audit table that refuses writes: the mutation is archived in the sinks and the failure counted', async t => {
  const { backend, schema } = await faultyBackend(t)
  const { service, sink, observed, errors } = harness(t, backend)
  await refuseAuditInserts(schema)
  const queue = `q-${suffix()}`
  await backend.ensureQueues([queue])

  const ctx = call('CN=alice')
  const answer = await service.PauseQueue({ name: queue, paused: true }, ctx)
  t.equal(answer.queue.paused, true, 'the pause was applied and answered: a sink holds its audit record')
  const record = sink.events.find(event => event.requestId === ctx.requestId) as AuditEvent
  t.match(record, { action: 'queue.pause', target: queue, actor: 'CN=alice', outcome: 'ok' })
  t.match(record.id, /^local-/, 'without the backend the record keeps a local id')
  t.same(failures(observed), { backend: 1 })
  t.ok(errors.includes('audit write to backend'), 'the failure is reported')
  t.same((await backend.listAudit({ limit: 10 })).length, 0, 'the backend really kept nothing')

  // A refused mutation (404) is audited in the sinks too, and counted again.
  const missing = call('CN=alice')
  t.equal((await rejection(service.PauseQueue({ name: `nope-${suffix()}`, paused: true }, missing))).code, 'QUEUE_NOT_FOUND')
  t.match(sink.events.find(event => event.requestId === missing.requestId), { outcome: 'error', error: /QUEUE_NOT_FOUND/ })
  t.same(failures(observed), { backend: 2 })
})

t.test('a backend whose connections are gone: the failed mutation still reaches every sink', async t => {
  const { backend } = await faultyBackend(t)
  const queue = `q-${suffix()}`
  await backend.ensureQueues([queue])
  const { service, sink, observed } = harness(t, backend)
  await backend.close()

  const ctx = call('CN=bob')
  const err = await rejection(service.PauseQueue({ name: queue, paused: true }, ctx))
  t.not(err.code, undefined, 'the mutation failed in the backend')
  const record = sink.events.find(event => event.requestId === ctx.requestId)
  t.match(record, { action: 'queue.pause', target: queue, actor: 'CN=bob', outcome: 'error' }, 'its audit record is not dropped')
  t.same(failures(observed), { backend: 1 })
})

t.test('a sink that fails does not keep the record from the backend or the other sinks', async t => {
  const { backend } = await faultyBackend(t)
  const broken: AuditSink = { name: 'broken', write: async () => { throw new Error('disk full') } }
  const kept: AuditEvent[] = []
  const second: AuditSink = { name: 'second', write: async event => { kept.push(event) } }
  const first = new MemorySink()
  const { service, observed } = harness(t, backend, [broken, first, second])
  const queue = `q-${suffix()}`
  await backend.ensureQueues([queue])
  const ctx = call('CN=carol')
  await service.PauseQueue({ name: queue, paused: true }, ctx)
  const stored = (await backend.listAudit({ limit: 10 })).find(event => event.requestId === ctx.requestId)
  t.match(stored, { action: 'queue.pause', actor: 'CN=carol', outcome: 'ok' }, 'the backend has it')
  t.ok(first.events.some(event => event.requestId === ctx.requestId) && kept.some(event => event.requestId === ctx.requestId), 'so do the healthy sinks')
  t.same(failures(observed), { 'sink:broken': 1 })
})

t.test('a record that reaches no destination at all is not answered as an audited success', async t => {
  const { backend, schema } = await faultyBackend(t)
  await refuseAuditInserts(schema)
  const queue = `q-${suffix()}`
  await backend.ensureQueues([queue])
  const { service, observed } = harness(t, backend, [])
  const err = await rejection(service.PauseQueue({ name: queue, paused: true }, call('CN=dave')))
  t.equal(err.code, 'AUDIT_UNAVAILABLE')
  t.match(err.message, /was applied but its audit event could not be stored/)
  t.same(failures(observed), { backend: 1 })
})

t.test('Redis: an audit key of the wrong type refuses the write; the sinks keep the record', async t => {
  const { backend, destroy } = await openTestBackend()
  t.teardown(destroy)
  const raw = new Redis(TEST_REDIS_URL)
  t.teardown(async () => { await raw.quit() })
  await raw.set(backend.keys.audit, 'not a stream')
  const queue = `q-${suffix()}`
  await backend.ensureQueues([queue])
  const { service, sink, observed } = harness(t, backend)
  const ctx = call('CN=erin')
  await service.PauseQueue({ name: queue, paused: true }, ctx)
  t.match(sink.events.find(event => event.requestId === ctx.requestId), { action: 'queue.pause', actor: 'CN=erin', outcome: 'ok' })
  t.same(failures(observed), { backend: 1 })
})
