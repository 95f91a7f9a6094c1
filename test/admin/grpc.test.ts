import t, { type Test } from 'tap'
import * as grpc from '@grpc/grpc-js'
import { RPC_LIST, type RequestOf, type RpcName } from '../../core/contract/rpcs.ts'
import { validateMessage } from '../../core/contract/validate.ts'
import { embeddedBackend, newTask, serverBackend, suffix, waitFor } from '../../core/admin/test-support.ts'
import type { AdminService } from '../../core/admin/types.ts'
import type { AdminEventT } from '../../core/contract/messages.ts'
import { createGrpcAdminClient, startGrpcServer, type GrpcServerOptions } from '../../core/transport/index.ts'
import { MAX_JSON_DEPTH } from '../../core/backend/storable.ts'
import {
  NO_ARTIFACT_STORE,
  ADMIN_IDENTITY, GATEWAY_IDENTITY, JSON_VALUE_PAYLOAD_TEXT, TEST_FACTORY, VIEWER_IDENTITY, adminService, fixtureFor, grpcCall, grpcClient, implemented, makeCerts,
  observeStreams, type GrpcResult, type TestCerts
} from './support.ts'

// worker.v1.AdminService over gRPC with mutual TLS, in front of a service on embedded
// PGlite: every RPC of the table, the TLS refusals, the guards' statuses with the
// error code in metadata, and the forwarded identity of trusted gateways.

async function serverFor (t: Test, service: AdminService, certs: TestCerts, extra: Partial<GrpcServerOptions> = {}): Promise<string> {
  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server, onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) }, ...extra })
  t.teardown(async () => { await server.close() })
  return server.address
}

function expectStatus (t: Test, result: GrpcResult, status: grpc.status, code: string): void {
  t.equal(result.error?.code, status, `gRPC status ${grpc.status[status]} for ${code}`)
  t.equal(result.code, code, `${code} in x-switchyard-error-code`)
  t.type(result.details, 'object', 'details in x-switchyard-error-details')
  t.match(result.error?.metadata.get('x-request-id')[0], /\S/, 'the request id travels with the failure')
}

const ctx = (actor = ADMIN_IDENTITY) => ({ actor, requestId: `r-${suffix()}` })

for (const [label, open] of [['embedded PGlite', embeddedBackend], ['the Postgres server', serverBackend]] as const) t.test(`every RPC of the table answers over gRPC with mutual TLS, on ${label}`, async t => {
  const backend = await open(t)
  const { service, events } = adminService(t, backend)
  const certs = await makeCerts(t)
  const address = await serverFor(t, service, certs)
  const client = grpcClient(t, address, certs.admin, certs.server.ca)
  const queue = `grpc-${suffix()}`
  await backend.enqueue([newTask(queue), newTask(queue)])

  for (const def of RPC_LIST) {
    if (!implemented(service, def.name)) {
      const result = await grpcCall(client, def.name as RpcName, await fixtureFor(def.name as RpcName, { backend, service, queue, scheduleFactory: TEST_FACTORY }))
      t.equal(result.error?.code, grpc.status.UNIMPLEMENTED, `${def.name}: the service has no method for it yet, so gRPC answers UNIMPLEMENTED`)
      continue
    }
    const request = await fixtureFor(def.name as RpcName, { backend, service, queue, scheduleFactory: TEST_FACTORY })
    if (def.name === 'GetJobArtifactMeta' || def.name === 'GetJobArtifact') {
      // No artifact store in this service: the RPC is served and refuses with the contract's code (test/jobs/admin.test.ts downloads).
      const remote = createGrpcAdminClient({ target: address, tls: certs.admin, serverName: 'localhost' })
      const answer = def.name === 'GetJobArtifact'
        ? remote.GetJobArtifact(request as RequestOf<'GetJobArtifact'>, ctx()).ready
        : remote.GetJobArtifactMeta(request as RequestOf<'GetJobArtifactMeta'>, ctx()).then(() => undefined)
      await t.rejects(answer, { code: NO_ARTIFACT_STORE.code, statusCode: NO_ARTIFACT_STORE.status }, `${def.name} answers ${NO_ARTIFACT_STORE.code} over gRPC`)
      remote.close()
      continue
    }
    if (def.stream === true) {
      const remote = createGrpcAdminClient({ target: address, tls: certs.admin, serverName: 'localhost' })
      const abort = new AbortController()
      const stream = remote.StreamEvents(request, { ...ctx(), signal: abort.signal })
      await stream.ready
      events.emit('test.grpc', { n: 1 })
      const seen: AdminEventT[] = []
      for await (const event of stream) {
        seen.push(event)
        if (event.type === 'test.grpc') abort.abort()
      }
      t.match(seen.at(-1), { type: 'test.grpc', data: { n: 1 } }, `${def.name} streams events, their data a JSON value`)
      t.doesNotThrow(() => validateMessage(def.response, seen.at(-1), 'AdminEvent'))
      remote.close()
      continue
    }
    const requestId = `req-${def.name}-${suffix()}`
    const result = await grpcCall(client, def.name as RpcName, request, { 'x-request-id': requestId })
    t.equal(result.error, undefined, `${def.name}: ${result.error?.message ?? 'ok'}`)
    t.equal(result.headers?.get('x-request-id')[0], requestId, `${def.name} echoes the request id`)
    t.doesNotThrow(() => validateMessage(def.response, result.response, `${def.name} response`), `${def.name} answers its response message (optional fields keep presence)`)
    if (def.kind === 'mutation') {
      const audit = await service.ListAuditEvents({ limit: 100 }, ctx())
      t.match(audit.events.find(event => event.requestId === requestId), { actor: ADMIN_IDENTITY, outcome: 'ok' }, `${def.name} is audited with the certificate identity`)
    }
  }

  const page = await grpcCall(client, 'ListDLQ', { queue: `empty-${suffix()}` })
  t.same(page.response, { entries: [], total: 0, limit: 100, offset: 0 }, 'zero values and empty lists arrive; absent optionals stay absent')
  const health = await grpcCall(client, 'GetHealth', {})
  t.notOk('backendError' in health.response, 'an absent optional field is not defaulted')
})

t.test('gRPC refusals: TLS, guards, caps, bad messages — with the code in metadata', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const queue = `deny-${suffix()}`
  await backend.ensureQueues([queue])
  const open = adminService(t, backend)
  const address = await serverFor(t, open.service, certs)

  for (const [what, identity] of [['no client certificate', null], ['another CA', certs.otherCa], ['an expired certificate', certs.expired]] as const) {
    const result = await grpcCall(grpcClient(t, address, identity, certs.server.ca), 'GetHealth', {}, {}, { timeoutMs: 5_000 })
    t.equal(result.error?.code, grpc.status.UNAVAILABLE, `${what}: the handshake fails, no call is made`)
    t.equal(result.code, undefined, `${what}: no Switchyard error, the service never saw it`)
  }

  const admin = grpcClient(t, address, certs.admin, certs.server.ca)
  expectStatus(t, await grpcCall(admin, 'GetQueue', { name: `nope-${suffix()}` }), grpc.status.NOT_FOUND, 'QUEUE_NOT_FOUND')
  const cap = await grpcCall(admin, 'ReplayDLQ', { limit: 51 })
  expectStatus(t, cap, grpc.status.RESOURCE_EXHAUSTED, 'GUARDRAIL_EXCEEDED')
  t.match(cap.details, { field: 'limit', requested: 51, max: 50 })
  const invalid = await grpcCall(admin, 'ListTasks', { limit: 5000 })
  expectStatus(t, invalid, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED')
  t.match(invalid.details, { field: 'limit' })
  t.match(invalid.error?.details, /^limit:/, 'the status message names the field')
  expectStatus(t, await grpcCall(admin, 'UpdateQueueWeight', { name: queue }), grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED')

  const huge = await grpcCall(admin, 'ReplayDLQByID', { ids: ['a'.repeat(5 * 1024 * 1024)] })
  t.equal(huge.error?.code, grpc.status.RESOURCE_EXHAUSTED, 'a message over the size limit is refused (RESOURCE_EXHAUSTED)')
  const garbage = await grpcCall(admin, 'GetQueue', {}, {}, { serialize: () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) })
  t.ok(garbage.error !== undefined && garbage.error.code !== grpc.status.OK, `undecodable bytes are refused (${garbage.error?.code})`)
  t.equal((await grpcCall(admin, 'GetHealth', {})).error, undefined, 'and the server keeps answering')

  const guarded = adminService(t, backend, { roles: { [ADMIN_IDENTITY]: 'admin', [VIEWER_IDENTITY]: 'viewer' }, requireApproval: true, approvalToken: 'let-me-in' })
  const guardedAddress = await serverFor(t, guarded.service, certs)
  const viewer = grpcClient(t, guardedAddress, certs.viewer, certs.server.ca)
  const boss = grpcClient(t, guardedAddress, certs.admin, certs.server.ca)
  const pause = { name: queue, paused: true }
  t.equal((await grpcCall(viewer, 'GetQueue', { name: queue })).error, undefined, 'a viewer reads')
  expectStatus(t, await grpcCall(viewer, 'PauseQueue', pause, { 'x-admin-approval': 'let-me-in' }), grpc.status.PERMISSION_DENIED, 'FORBIDDEN')
  expectStatus(t, await grpcCall(boss, 'PauseQueue', pause), grpc.status.FAILED_PRECONDITION, 'APPROVAL_REQUIRED')
  t.equal((await grpcCall(boss, 'PauseQueue', pause, { 'x-admin-approval': 'let-me-in' })).response?.queue?.paused, true, 'approved by metadata')
  expectStatus(t, await grpcCall(grpcClient(t, guardedAddress, certs.workload, certs.server.ca), 'GetHealth', {}), grpc.status.PERMISSION_DENIED, 'FORBIDDEN')

  const readOnly = adminService(t, backend, { readOnly: true })
  const roAddress = await serverFor(t, readOnly.service, certs)
  expectStatus(t, await grpcCall(grpcClient(t, roAddress, certs.admin, certs.server.ca), 'PauseQueue', pause), grpc.status.PERMISSION_DENIED, 'READ_ONLY')

  // The client maps statuses back to the SwitchyardErrors the server raised.
  const remote = createGrpcAdminClient({ target: guardedAddress, tls: certs.viewer, serverName: 'localhost' })
  t.teardown(() => { remote.close() })
  await t.rejects(remote.PauseQueue(pause, ctx(VIEWER_IDENTITY)), { code: 'FORBIDDEN', statusCode: 403, details: { role: 'viewer', required: 'operator' } })
  await t.rejects(remote.GetQueue({ name: `nope-${suffix()}` }, ctx(VIEWER_IDENTITY)), { code: 'QUEUE_NOT_FOUND', statusCode: 404 })
  await t.rejects(remote.ListTasks({ limit: 0 }, ctx(VIEWER_IDENTITY)), { code: 'VALIDATION_FAILED', statusCode: 400 })
  const following = new AbortController()
  const stream = remote.StreamEvents({}, { ...ctx(VIEWER_IDENTITY), signal: following.signal })
  await stream.ready
  t.pass('a viewer may follow events')
  following.abort()
  const shut = createGrpcAdminClient({ target: '127.0.0.1:1', tls: certs.admin, timeoutMs: 3_000 })
  await t.rejects(shut.GetHealth({}, ctx()), { code: 'ADMIN_SERVICE_UNAVAILABLE', statusCode: 503 }, 'an unreachable admin service is 503')
  shut.close()
})

t.test('x-forwarded-identity is believed only from a trusted gateway; streams stop on cancel', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const { service, events } = adminService(t, backend)
  const observed = observeStreams(service)
  const address = await serverFor(t, observed.admin, certs, { trustedGateways: [GATEWAY_IDENTITY] })

  const fromGateway = await grpcCall(grpcClient(t, address, certs.gateway, certs.server.ca), 'PauseDequeue', {}, { 'x-forwarded-identity': 'alice@example.com', 'x-request-id': 'fwd-trusted' })
  t.equal(fromGateway.error, undefined)
  const fromUser = await grpcCall(grpcClient(t, address, certs.admin, certs.server.ca), 'ResumeDequeue', {}, { 'x-forwarded-identity': 'alice@example.com', 'x-request-id': 'fwd-untrusted' })
  t.equal(fromUser.error, undefined)
  const audit = (await service.ListAuditEvents({ limit: 10 }, ctx())).events
  t.equal(audit.find(event => event.requestId === 'fwd-trusted')?.actor, 'alice@example.com', 'a trusted gateway names the end user')
  t.equal(audit.find(event => event.requestId === 'fwd-untrusted')?.actor, ADMIN_IDENTITY, 'anyone else\'s header is ignored')

  // Resume after an id, then cancel: the server stops iterating.
  events.emit('test.one', { n: 1 })
  events.emit('test.two', { n: 2 })
  await events.flush()
  const all = await backend.readEvents({ afterId: null, limit: 1000 })
  const one = all.find(event => event.type === 'test.one')
  const remote = createGrpcAdminClient({ target: address, tls: certs.admin, serverName: 'localhost' })
  t.teardown(() => { remote.close() })
  const abort = new AbortController()
  const stream = remote.StreamEvents({ afterId: one?.id }, { ...ctx(), signal: abort.signal })
  await stream.ready
  const seen: string[] = []
  for await (const event of stream) {
    seen.push(event.type)
    abort.abort()
  }
  t.same(seen, ['test.two'], 'resumes exactly after the given id')
  await waitFor(async () => observed.open() === 0, 'the server to stop iterating after the client cancelled')
  t.pass('the server stopped iterating')
})

t.test('JSON values over gRPC: google.protobuf.Value on the wire, the same values and refusals as the gateway', async t => {
  const backend = await embeddedBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const address = await serverFor(t, service, certs)
  const client = grpcClient(t, address, certs.admin, certs.server.ca)
  const remote = createGrpcAdminClient({ target: address, tls: certs.admin, serverName: 'localhost' })
  t.teardown(() => { remote.close() })
  const queue = `json-${suffix()}`
  const payload = JSON.parse(JSON_VALUE_PAYLOAD_TEXT) as unknown

  const enqueued = await remote.EnqueueTask({ handler: 'json.grpc', queue, payload }, ctx())
  const got = await remote.GetTask({ id: enqueued.id }, ctx())
  t.same(got.task.payload, payload, 'the client sends and reads back the same JSON value')
  t.same((await backend.getTask(enqueued.id))?.payload, payload, 'and that is what the backend stored')

  const wire = await grpcCall(client, 'GetTask', { id: enqueued.id }, {}, { wire: true })
  t.match(wire.response?.task?.payload, { structValue: { fields: { to: { stringValue: 'ops@example.com' }, none: { nullValue: 'NULL_VALUE' }, list: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'two' }, { nullValue: 'NULL_VALUE' }, { listValue: {} }, { structValue: {} }] } } } } },
    'on the wire the payload is a google.protobuf.Value')
  const audit = await remote.ListAuditEvents({ action: 'task.enqueue', limit: 5 }, ctx())
  t.match(audit.events[0]?.params, { payloadBytes: Buffer.byteLength(JSON.stringify(payload)), handler: 'json.grpc' }, 'audit params arrive as a JSON value')

  let deep: unknown = 'bottom'
  for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep]
  const deepTask = await remote.EnqueueTask({ handler: 'json.grpc', queue, payload: deep }, ctx())
  t.same((await remote.GetTask({ id: deepTask.id }, ctx())).task.payload, deep, `a payload nested ${MAX_JSON_DEPTH} levels (the gateway's bound too) travels both ways`)
  await t.rejects(remote.EnqueueTask({ handler: 'json.grpc', queue, payload: [deep] }, ctx()), { code: 'VALIDATION_FAILED', message: `payload: nested deeper than ${MAX_JSON_DEPTH} levels` }, 'one level more is refused')
  await t.rejects(remote.EnqueueTask({ handler: 'json.grpc', queue, payload: { n: Number.NaN } }, ctx()), { code: 'VALIDATION_FAILED', message: /^payload\.n: must be a finite number/ }, 'the client refuses NaN')

  // What another client may send: a Value that holds no JSON value. The service
  // refuses it with the message the gateway gives for the same payload, and audits it.
  const value = (v: unknown) => ({ handler: 'json.grpc', queue, payload: v })
  const refusals: Array<[string, unknown, string, RegExp]> = [
    ['NaN in number_value', value({ structValue: { fields: { n: { numberValue: Number.NaN } } } }), 'payload.n', /^payload\.n: must be a finite number \(JSON has no Infinity or NaN\)$/],
    ['Infinity in a list', value({ listValue: { values: [{ numberValue: Number.POSITIVE_INFINITY }] } }), 'payload[0]', /^payload\[0\]: must be a finite number \(JSON has no Infinity or NaN\)$/],
    ['a NUL in a string (storable on no backend)', value({ stringValue: 'a\u0000b' }), 'payload', /^payload: contains a NUL character/],
    ['a payload over 1 MiB as JSON', value({ stringValue: 'x'.repeat(1024 * 1024) }), 'payload', /^payload: 1048578 bytes as JSON, more than the 1048576 allowed$/],
    [`nesting past ${MAX_JSON_DEPTH} levels`, value(nestedListValue(MAX_JSON_DEPTH + 1)), 'payload', new RegExp(`^payload: nested deeper than ${MAX_JSON_DEPTH} levels$`)]
  ]
  for (const [what, request, field, message] of refusals) {
    const requestId = `refused-${suffix()}`
    const result = await grpcCall(client, 'EnqueueTask', request, { 'x-request-id': requestId }, { wire: true })
    expectStatus(t, result, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED')
    t.equal(result.details?.field, field, `${what}: names ${field}`)
    t.match(result.error?.details, message, `${what}: the status message says why`)
    const audited = (await service.ListAuditEvents({ action: 'task.enqueue', limit: 20 }, ctx())).events.find(event => event.requestId === requestId)
    t.match(audited, { outcome: 'error', error: /^VALIDATION_FAILED: payload/ }, `${what}: the refused call is audited, as over the gateway`)
  }
  const empty = await grpcCall(client, 'EnqueueTask', value({ structValue: { fields: { a: {} } } }), {}, { wire: true })
  expectStatus(t, empty, grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED')
  t.match(empty.error?.details, /^payload\.a: a google\.protobuf\.Value with no kind set/, 'a Value with no kind holds nothing the service could check: the transport refuses it')
  t.equal(empty.details?.field, 'payload.a')
  // Deeper than the transport decodes at all: refused before the service, and the server lives on.
  const abyss = await grpcCall(client, 'EnqueueTask', value(nestedListValue(2000)), {}, { wire: true, serialize: () => encodeNestedListPayload(2000) })
  t.ok(abyss.error !== undefined && abyss.error.code !== grpc.status.OK, `a Value nested 2000 levels is refused (${abyss.error?.code}: ${abyss.error?.details})`)
  t.equal((await grpcCall(client, 'GetHealth', {})).error, undefined, 'and the server keeps answering')
  t.same((await backend.listTasks({ queue, limit: 10, offset: 0 })).tasks.length, 2, 'nothing refused was enqueued')
})

function nestedListValue (levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { stringValue: 'bottom' }
  for (let i = 0; i < levels; i++) value = { listValue: { values: [value] } }
  return value
}

/** EnqueueTaskRequest bytes with handler "json.grpc" and a payload of `levels` nested lists, built by hand: no encoder would */
function encodeNestedListPayload (levels: number): Buffer {
  const field = (number: number, body: Buffer): Buffer => Buffer.concat([varint((number << 3) | 2), varint(body.length), body])
  let value = field(3, Buffer.from('bottom')) // Value.string_value
  for (let i = 0; i < levels; i++) value = field(6, field(1, value)) // Value.list_value { values }
  return Buffer.concat([field(1, Buffer.from('json.grpc')), field(10, value)]) // EnqueueTaskRequest.handler, .payload
}

function varint (n: number): Buffer {
  const bytes: number[] = []
  while (n > 0x7f) { bytes.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  bytes.push(n)
  return Buffer.from(bytes)
}
