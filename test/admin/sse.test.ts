import t from 'tap'
import { serverBackend, waitFor } from '../../core/admin/test-support.ts'
import type { EventLog } from '../../core/events/event-log.ts'
import { ADMIN_IDENTITY, adminService, gatewayFor, makeCerts, observeStreams, readSse, type SseEvent } from './support.ts'

// GET /admin/v1/events: the event log as Server-Sent Events. A client that
// reconnects with Last-Event-ID gets exactly what it missed, from the log persisted
// in the backend, so even a gateway restart loses nothing.

async function emitAll (events: EventLog, types: string[]): Promise<void> {
  for (const type of types) events.emit(type, { type })
  await events.flush()
}

function types (events: SseEvent[]): string[] {
  return events.map(event => event.event)
}

t.test('SSE: disconnect, miss events, resume with Last-Event-ID — on the same gateway and after a restart', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const first = adminService(t, backend)
  const observed = observeStreams(first.service)
  const one = await gatewayFor(t, observed.admin, certs)

  const live = await readSse(one.address, certs.admin, {
    onOpen: () => { void emitAll(first.events, ['test.a', 'test.b', 'test.c']) },
    until: events => events.length >= 3
  })
  t.equal(live.status, 200)
  t.same(types(live.events), ['test.a', 'test.b', 'test.c'], 'only events appended after connecting, in order')
  for (const event of live.events) {
    t.same(event.data, { id: event.id, type: event.event, time: (event.data as { time: string }).time, data: { type: event.event } }, 'id: and event: lines match the AdminEvent in data:, its data a JSON value')
  }
  await waitFor(async () => observed.open() === 0, 'the gateway to stop iterating once the client left')
  t.pass('the disconnect aborted the service stream')

  await emitAll(first.events, ['test.missed.1', 'test.missed.2'])
  const resumed = await readSse(one.address, certs.admin, {
    lastEventId: live.events.at(-1)?.id,
    onOpen: () => { void emitAll(first.events, ['test.sentinel.1']) },
    until: events => events.some(event => event.event === 'test.sentinel.1')
  })
  t.same(types(resumed.events), ['test.missed.1', 'test.missed.2', 'test.sentinel.1'], 'exactly the missed events, then live ones')

  await one.gateway.close()
  await first.service.close()
  const second = adminService(t, backend)
  await emitAll(second.events, ['test.missed.3', 'test.missed.4'])
  const two = await gatewayFor(t, second.service, certs)
  const afterRestart = await readSse(two.address, certs.admin, {
    lastEventId: resumed.events.at(-1)?.id,
    onOpen: () => { void emitAll(second.events, ['test.sentinel.2']) },
    until: events => events.some(event => event.event === 'test.sentinel.2')
  })
  t.same(types(afterRestart.events), ['test.missed.3', 'test.missed.4', 'test.sentinel.2'], 'a new gateway and service replay from the persisted log')

  let opened = (): void => {}
  const open = new Promise<void>(resolve => { opened = resolve })
  const held = readSse(two.address, certs.admin, { onOpen: () => opened(), until: () => false })
  await open
  const started = Date.now()
  await two.gateway.close()
  const ended = await held
  t.equal(ended.status, 200, 'closing the gateway ends open streams instead of waiting for them')
  t.ok(Date.now() - started < 5_000, 'close() did not wait for the client')
})

t.test('SSE: Last-Event-ID "0" replays from the oldest retained event, then follows', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const open = adminService(t, backend)
  await emitAll(open.events, ['test.old.1', 'test.old.2'])
  const gateway = await gatewayFor(t, open.service, certs)
  const replayed = await readSse(gateway.address, certs.admin, {
    lastEventId: '0',
    onOpen: () => { void emitAll(open.events, ['test.new']) },
    until: events => events.some(event => event.event === 'test.new')
  })
  t.equal(replayed.status, 200)
  t.same(types(replayed.events), ['test.old.1', 'test.old.2', 'test.new'], 'every retained event, oldest first, then live ones')
})

t.test('SSE: heartbeats, and refusals answered as JSON before any event', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const open = adminService(t, backend)
  const fast = await gatewayFor(t, open.service, certs, { sseHeartbeatMs: 100 })
  const beating = await readSse(fast.address, certs.admin, { until: (_events, comments) => comments.length >= 2 })
  t.same(beating.comments.slice(0, 2), [': heartbeat', ': heartbeat'], 'comment lines keep an idle stream alive')

  const tooLong = await readSse(fast.address, certs.admin, { lastEventId: 'x'.repeat(200), until: () => true })
  t.equal(tooLong.status, 400)
  t.match(JSON.parse(tooLong.text), { error: { code: 'VALIDATION_FAILED', message: /^afterId \(HTTP header Last-Event-ID\): /, details: { field: 'afterId', header: 'Last-Event-ID' } } }, 'a too long Last-Event-ID is a 400 naming the field and the header')
  const malformed = await readSse(fast.address, certs.admin, { lastEventId: 'not-an-id', until: () => true })
  t.equal(malformed.status, 400, 'an id the backend never issued: 400 before the stream starts')
  t.match(malformed.headers['content-type'], /^application\/json/)
  t.match(JSON.parse(malformed.text), { error: { code: 'VALIDATION_FAILED', message: /Last-Event-ID.*"not-an-id"/, details: { field: 'afterId', header: 'Last-Event-ID' } } })

  const guarded = adminService(t, backend, { roles: { [ADMIN_IDENTITY]: 'admin' } })
  const strict = await gatewayFor(t, guarded.service, certs)
  const refused = await readSse(strict.address, certs.viewer, { until: () => true })
  t.equal(refused.status, 403)
  t.match(refused.headers['content-type'], /^application\/json/)
  t.match(JSON.parse(refused.text), { error: { code: 'FORBIDDEN', requestId: refused.headers['x-request-id'] } }, 'an unauthorised caller gets the JSON envelope, not a stream')
})
