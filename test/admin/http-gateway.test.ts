import t, { type Test } from 'tap'
import { RPC_LIST } from '../../core/contract/rpcs.ts'
import { embeddedBackend, newTask, serverBackend, suffix } from '../../core/admin/test-support.ts'
import {
  ADMIN_IDENTITY, VIEWER_IDENTITY, WORKLOAD_URI, adminService, gatewayFor, httpsCall, makeCerts, rawHttpsExchange, runRouteSuite, type HttpResult
} from './support.ts'

// The HTTPS gateway over a real service on the Postgres server: every route of the
// RPC table, the router's and the body parser's own errors, the TLS refusals and the
// service's guards, each answered with the one error envelope.

function expectEnvelope (t: Test, res: HttpResult, status: number, code: string, message?: RegExp): void {
  t.equal(res.status, status, `status ${status} for ${code}`)
  t.match(res.json, { error: { code, message: message ?? String, requestId: res.headers['x-request-id'], details: Object } }, `${code} envelope`)
  t.match(res.headers['content-type'], /^application\/json/)
}

t.test('every route of the RPC table answers over HTTPS with mutual TLS, on embedded PGlite', async t => {
  const backend = await embeddedBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  await runRouteSuite(t, address, { service, backend, identity: certs.admin, expectedActor: ADMIN_IDENTITY })
})

t.test('every route of the RPC table answers over HTTPS with mutual TLS, on the Postgres server', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  await runRouteSuite(t, address, { service, backend, identity: certs.admin, expectedActor: ADMIN_IDENTITY })
  const queue = `http-${suffix()}`
  await backend.enqueue([newTask(queue)])

  const listed = await httpsCall(address, { path: `/admin/v1/tasks?queue=${queue}&limit=1&offset=1&state=ready`, identity: certs.admin })
  t.match(listed.json, { limit: 1, offset: 1 }, 'query values are coerced to the schema types')
  const spaced = await httpsCall(address, { path: `/admin/v1/dlq?limit=100&offset=0&queue=&handler=&query=`, identity: certs.admin })
  t.equal(spaced.status, 200, 'empty query parameters mean "not given"')
  const generated = await httpsCall(address, { path: '/admin/v1/health', identity: certs.admin })
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'a request id is generated when none is sent')
  const hostile = await httpsCall(address, { path: '/admin/v1/health', headers: { 'x-request-id': 'bad id\twith spaces' }, identity: certs.admin })
  t.not(hostile.headers['x-request-id'], 'bad id\twith spaces', 'an unusable request id is replaced')
})

t.test('the router, the body parser and the query string answer with the envelope', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const timed: Array<{ route: string, status: number, ms: number }> = []
  const { address } = await gatewayFor(t, service, certs, { onRequestTimed: (route, status, ms) => timed.push({ route, status, ms }) })
  const queue = `parse-${suffix()}`
  await backend.ensureQueues([queue])
  const as = { identity: certs.admin }

  const openapi = await httpsCall(address, { path: '/admin/v1/openapi.json', ...as })
  t.equal(openapi.status, 200)
  t.equal(openapi.json.openapi, '3.1.0')
  for (const def of RPC_LIST) {
    const path = def.http.path.replace(/:([A-Za-z]+)/g, '{$1}')
    t.equal(openapi.json.paths[path]?.[def.http.method.toLowerCase()]?.operationId, def.name, `${def.name} is in the OpenAPI document`)
  }

  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/nothing-here', ...as }), 404, 'NOT_FOUND')
  expectEnvelope(t, await httpsCall(address, { path: '/elsewhere', ...as }), 404, 'NOT_FOUND')
  const wrongMethod = await httpsCall(address, { method: 'PUT', path: `/admin/v1/queues/${queue}/weight`, ...as })
  expectEnvelope(t, wrongMethod, 405, 'METHOD_NOT_ALLOWED')
  t.equal(wrongMethod.headers.allow, 'POST, DELETE')

  const malformed = await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/weight`, body: '{"weight": 3,', ...as })
  expectEnvelope(t, malformed, 400, 'VALIDATION_FAILED', /^body: malformed JSON/)
  t.equal(malformed.json.error.details.field, 'body')

  const huge = Buffer.from(`{"ids":["${'a'.repeat(10 * 1024 * 1024)}"]}`)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: '/admin/v1/dlq/replay/ids', body: huge, ...as }), 413, 'PAYLOAD_TOO_LARGE', /1048576 bytes/)

  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/pause`, body: 'paused=true', headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...as }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/pause`, body: '[true]', ...as }), 400, 'VALIDATION_FAILED', /^body: must be a JSON object/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/pause`, body: '{"paused":true,"name":"other"}', ...as }), 400, 'VALIDATION_FAILED', /^name: is taken from the path/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/pause`, body: '{}', ...as }), 400, 'VALIDATION_FAILED', /^paused: is required/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/weight`, body: '{"weight":"heavy"}', ...as }), 400, 'VALIDATION_FAILED', /^weight:/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', body: '{"really":true}', ...as }), 400, 'VALIDATION_FAILED', /^really: is not accepted/)
  t.equal((await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', body: '', ...as })).status, 200, 'an empty JSON body is no fields')
  t.equal((await httpsCall(address, { method: 'POST', path: '/admin/v1/resume', ...as })).status, 200, 'no body at all is fine too')

  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/tasks?limit=abc', ...as }), 400, 'VALIDATION_FAILED', /^limit:/)
  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/tasks?limit=5000', ...as }), 400, 'VALIDATION_FAILED', /^limit:/)
  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/tasks?bogus=1', ...as }), 400, 'VALIDATION_FAILED', /^bogus: is not a parameter of ListTasks/)
  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/tasks?__proto__=x', ...as }), 400, 'VALIDATION_FAILED', /^__proto__:/)
  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/tasks?limit=1&limit=2', ...as }), 400, 'VALIDATION_FAILED', /^limit: given more than once/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: `/admin/v1/queues/${queue}/weight?weight=3`, body: '{}', ...as }), 400, 'VALIDATION_FAILED', /^weight: belongs in the JSON body/)
  expectEnvelope(t, await httpsCall(address, { path: `/admin/v1/queues/${'x'.repeat(200)}`, ...as }), 400, 'VALIDATION_FAILED', /^name:/)
  expectEnvelope(t, await httpsCall(address, { path: `/admin/v1/queues/nope-${suffix()}`, ...as }), 404, 'QUEUE_NOT_FOUND')

  // onResponse runs after the bytes are out, so the client can be ahead of it.
  const reported = (): boolean => timed.some(entry => entry.route === '/admin/v1/queues/:name' && entry.status === 404 && entry.ms >= 0)
  for (let i = 0; i < 200 && !reported(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.ok(reported(), 'request durations are reported by route template')
  t.ok(timed.some(entry => entry.route === '(unmatched)' && entry.status === 404), 'unmatched requests are reported too')
})

/** an answer read off the socket: status line, headers, and the JSON body */
function parseRawAnswer (raw: string): HttpResult {
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2)
  const [statusLine = '', ...headerLines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let json: unknown
  try { json = JSON.parse(body) } catch { json = undefined }
  return { status: Number(statusLine.split(' ')[1]), headers, text: body, json, body: Buffer.from(body) }
}

t.test('the framework\'s own refusals are the envelope too, and never echo the URL', async t => {
  const backend = await embeddedBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  const as = { identity: certs.admin }

  const badEncoding = await httpsCall(address, { path: '/admin/v1/tasks/%ff', headers: { 'x-request-id': 'bad-encoding' }, ...as })
  expectEnvelope(t, badEncoding, 400, 'BAD_REQUEST', /^path: not a valid URL/)
  t.equal(badEncoding.json.error.requestId, 'bad-encoding', 'the caller\'s request id is kept')
  t.equal(badEncoding.headers['cache-control'], 'no-store')
  t.notMatch(badEncoding.text, /%ff/, 'the URL is not echoed')

  const long = 'y'.repeat(300)
  const tooLong = await httpsCall(address, { path: `/admin/v1/tasks/${long}`, ...as })
  expectEnvelope(t, tooLong, 414, 'URI_TOO_LONG', /^path: a path segment is longer than 256 characters/)
  t.match(tooLong.json.error.details, { field: 'path', maxLength: 256 })
  t.notMatch(tooLong.text, /yyyyyyyy/, 'the URL is not echoed')

  const unknownMethod = parseRawAnswer(await rawHttpsExchange(address, certs.admin, 'FROB /admin/v1/tasks HTTP/1.1\r\nHost: localhost\r\n\r\n'))
  expectEnvelope(t, unknownMethod, 405, 'METHOD_NOT_ALLOWED', /method/)
  const otherMethod = await httpsCall(address, { method: 'PROPFIND', path: '/admin/v1/tasks', ...as })
  expectEnvelope(t, otherMethod, 405, 'METHOD_NOT_ALLOWED')
  const notHttp = parseRawAnswer(await rawHttpsExchange(address, certs.admin, 'GET /admin/v1/health HTTP/1.1\r\nHost localhost\r\n\r\n'))
  expectEnvelope(t, notHttp, 400, 'BAD_REQUEST', /not valid HTTP/)
  const bigHeaders = await httpsCall(address, { path: '/admin/v1/health', headers: { 'x-padding': 'p'.repeat(20 * 1024) }, ...as })
  expectEnvelope(t, bigHeaders, 431, 'HEADERS_TOO_LARGE')

  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/no-such-route', ...as }), 404, 'NOT_FOUND')
  expectEnvelope(t, await httpsCall(address, { method: 'DELETE', path: '/favicon.ico', ...as }), 404, 'NOT_FOUND')

  const plain = await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', body: '{}', headers: { 'content-type': 'text/plain' }, ...as })
  expectEnvelope(t, plain, 415, 'UNSUPPORTED_MEDIA_TYPE', /^body: send JSON with Content-Type: application\/json/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', body: '{}', headers: { 'content-type': 'application/octet-stream' }, ...as }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  t.equal((await httpsCall(address, { method: 'POST', path: '/admin/v1/resume', body: '{}', headers: { 'content-type': 'application/json; charset=utf-8' }, ...as })).status, 200, 'JSON with a charset is JSON')
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', body: '{"a":', ...as }), 400, 'VALIDATION_FAILED', /^body: malformed JSON/)
  expectEnvelope(t, await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', body: `{"pad":"${'z'.repeat(1024 * 1024)}"}`, ...as }), 413, 'PAYLOAD_TOO_LARGE')
})

t.test('TLS: without a valid client certificate there is no connection; the identity is the certificate\'s', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)

  await t.rejects(httpsCall(address, { path: '/admin/v1/health', identity: null, ca: certs.server.ca }), 'no client certificate: the handshake fails')
  await t.rejects(httpsCall(address, { path: '/admin/v1/health', identity: certs.otherCa }), 'a certificate from another CA: the handshake fails')
  await t.rejects(httpsCall(address, { path: '/admin/v1/health', identity: certs.expired }), 'an expired certificate: the handshake fails')
  await t.rejects(httpsCall(address, { path: '/admin/v1/health', identity: certs.admin, ca: certs.otherCa.cert.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n' }),
    'the client refuses a server its CA did not sign')

  const rid = `uri-${suffix()}`
  const paused = await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', headers: { 'x-request-id': rid }, identity: certs.workload })
  t.equal(paused.status, 200)
  const audit = await service.ListAuditEvents({ action: 'dequeue.pause' }, { actor: ADMIN_IDENTITY, requestId: 'check' })
  t.equal(audit.events.find(event => event.requestId === rid)?.actor, WORKLOAD_URI, 'a URI SAN is preferred over DNS SAN and CN')
})

t.test('the service\'s guards reach HTTP callers: roles, approval, read-only, caps', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const queue = `guard-${suffix()}`
  await backend.ensureQueues([queue])

  const guarded = adminService(t, backend, { roles: { [ADMIN_IDENTITY]: 'admin', [VIEWER_IDENTITY]: 'viewer' }, requireApproval: true, approvalToken: 'let-me-in' })
  const { address } = await gatewayFor(t, guarded.service, certs)
  const pause = { method: 'POST', path: `/admin/v1/queues/${queue}/pause`, body: '{"paused":true}' }

  t.equal((await httpsCall(address, { path: `/admin/v1/queues/${queue}`, identity: certs.viewer })).status, 200, 'a viewer reads')
  expectEnvelope(t, await httpsCall(address, { ...pause, identity: certs.viewer, headers: { 'x-admin-approval': 'let-me-in' } }), 403, 'FORBIDDEN', /needs role operator/)
  expectEnvelope(t, await httpsCall(address, { path: '/admin/v1/health', identity: certs.workload }), 403, 'FORBIDDEN', /spiffe:\/\/switchyard\.test\/ops-console is not allowed/)
  expectEnvelope(t, await httpsCall(address, { ...pause, identity: certs.admin }), 412, 'APPROVAL_REQUIRED')
  expectEnvelope(t, await httpsCall(address, { ...pause, identity: certs.admin, headers: { 'x-admin-approval': 'wrong' } }), 412, 'APPROVAL_REQUIRED')
  const approved = await httpsCall(address, { ...pause, identity: certs.admin, headers: { 'x-admin-approval': 'let-me-in' } })
  t.equal(approved.status, 200)
  t.equal(approved.json.queue.paused, true)

  const readOnly = adminService(t, backend, { readOnly: true })
  const ro = await gatewayFor(t, readOnly.service, certs)
  expectEnvelope(t, await httpsCall(ro.address, { ...pause, identity: certs.admin }), 403, 'READ_ONLY')
  t.equal((await httpsCall(ro.address, { path: '/admin/v1/queues', identity: certs.admin })).status, 200, 'reads still work in read-only mode')

  const open = adminService(t, backend)
  const main = await gatewayFor(t, open.service, certs)
  const cap = await httpsCall(main.address, { method: 'POST', path: '/admin/v1/dlq/replay', body: '{"limit":51}', identity: certs.admin })
  expectEnvelope(t, cap, 429, 'GUARDRAIL_EXCEEDED', /WORKER_ADMIN_REPLAY_LIMIT_MAX/)
  t.match(cap.json.error.details, { field: 'limit', requested: 51, max: 50 })
  expectEnvelope(t, await httpsCall(main.address, { method: 'POST', path: '/admin/v1/dlq/replay/ids', body: JSON.stringify({ ids: ['a', 'b', 'c', 'd', 'e', 'f'] }), identity: certs.admin }), 429, 'GUARDRAIL_EXCEEDED')
  expectEnvelope(t, await httpsCall(main.address, { method: 'POST', path: `/admin/v1/queues/nope-${suffix()}/pause`, body: '{"paused":true}', identity: certs.admin }), 404, 'QUEUE_NOT_FOUND')
  expectEnvelope(t, await httpsCall(main.address, { path: '/admin/v1/tasks/missing-task', identity: certs.admin }), 404, 'TASK_NOT_FOUND')
})

t.test('input no backend can store gets a 400 naming the field over HTTPS, whichever backend serves it', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  // a body limit above the payload bound, so the payload's own bound is what answers
  const { address } = await gatewayFor(t, service, certs, { bodyLimitBytes: 4 * 1024 * 1024 })
  const as = { identity: certs.admin }
  const handler = `unstorable-${suffix()}`
  const enqueue = (fields: Record<string, unknown>) => httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', body: JSON.stringify({ handler, ...fields }), ...as })
  // the payload as JSON text, for what JSON.stringify cannot write (1e999)
  const enqueuePayload = (payload: string) => httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', body: `{"handler":${JSON.stringify(handler)},"payload":${payload}}`, ...as })
  const cases: Array<[string, Promise<HttpResult>, string, RegExp]> = [
    ['NUL in a payload string', enqueuePayload('{"text":"a\\u0000b"}'), 'payload.text', /^payload\.text: contains a NUL character/],
    ['an unpaired surrogate in a payload key', enqueuePayload('{"k\\ud800":1}'), 'payload["k\\ud800"]', /^payload\["k\\ud800"\]: the key contains an unpaired UTF-16 surrogate/],
    ['1e999 in a payload', enqueuePayload('{"n":1e999}'), 'payload.n', /^payload\.n: must be a finite number/],
    ['a payload too deep', enqueuePayload('['.repeat(101) + ']'.repeat(101)), 'payload', /^payload: nested deeper than 100 levels/],
    ['a payload over 1 MiB as JSON', enqueuePayload(JSON.stringify({ blob: 'é'.repeat(600 * 1024) })), 'payload', /^payload: \d+ bytes as JSON, more than the 1048576 allowed/],
    ['a string payload of 1 MiB (its quotes count)', enqueue({ payload: 'x'.repeat(1024 * 1024) }), 'payload', /^payload: 1048578 bytes as JSON/],
    ['NUL in an idempotency key', enqueue({ idempotencyKey: 'k\u0000' }), 'idempotencyKey', /^idempotencyKey: contains a NUL character/],
    ['runAt past the delayMs bound', enqueue({ runAt: new Date(Date.now() + 400 * 24 * 3600_000).toISOString() }), 'runAt', /^runAt: at most 365 days from now/],
    ['NUL in a query', httpsCall(address, { path: '/admin/v1/tasks?query=a%00b', ...as }), 'query', /^query: contains a NUL character/],
    ['NUL in a DLQ query', httpsCall(address, { path: '/admin/v1/dlq?query=%00', ...as }), 'query', /^query: contains a NUL character/]
  ]
  for (const [what, pending, field, message] of cases) {
    const res = await pending
    expectEnvelope(t, res, 400, 'VALIDATION_FAILED', message)
    t.equal(res.json.error.details.field, field, `${what}: names ${field}`)
  }
  const listed = await httpsCall(address, { path: `/admin/v1/tasks?handler=${handler}`, ...as })
  t.same(listed.json.tasks, [], 'nothing was enqueued')
})
