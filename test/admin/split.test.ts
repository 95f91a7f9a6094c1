import t, { type Test } from 'tap'
import { DEFAULT_GUARDRAILS } from '../../core/config/resolve.ts'
import { serverBackend, suffix } from '../../core/admin/test-support.ts'
import { startAdminListeners, type AdminListenerConfig, type StartAdminListenersOptions } from '../../core/transport/index.ts'
import {
  ADMIN_IDENTITY, GATEWAY_IDENTITY, WORKLOAD_URI, adminService, httpsCall, makeCerts, memoryLogger, readSse, runRouteSuite, type TestCerts
} from './support.ts'

// The split layout: workers run the admin service behind the gRPC server; a gateway
// process apart from them (WORKER_ADMIN_GRPC_TARGET) serves HTTPS by calling it over
// gRPC with its own client certificate. Both are started with startAdminListeners.

function adminConfig (certs: TestCerts, overrides: Partial<AdminListenerConfig> = {}): AdminListenerConfig {
  return {
    grpcAddr: '127.0.0.1:0',
    grpcTarget: null,
    httpAddr: '127.0.0.1:0',
    tls: { cert: certs.paths.cert, key: certs.paths.key, ca: certs.paths.ca },
    trustedGateways: [],
    readOnly: false,
    requireApproval: false,
    approvalToken: null,
    roles: null,
    requestTimeoutMs: 5_000,
    bodyLimitBytes: 1024 * 1024,
    audit: { eventLimit: 10_000, retentionMs: null, archiveDir: null, archiveIntervalMs: 60_000, exportLimitMax: 200 },
    guardrails: { ...DEFAULT_GUARDRAILS, replayLimitMax: 50, replayIdsMax: 5 },
    ...overrides
  }
}

function paramsOf (event: { params: unknown } | undefined): Record<string, unknown> {
  return (event?.params ?? {}) as Record<string, unknown>
}

async function listeners (t: Test, options: StartAdminListenersOptions) {
  const running = await startAdminListeners(options)
  t.teardown(async () => { await running.close() })
  return running
}

t.test('a gateway apart from the workers serves every route through the gRPC client', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const { service, events } = adminService(t, backend)
  const lines: string[] = []
  const workers = await listeners(t, { service, config: adminConfig(certs, { trustedGateways: [GATEWAY_IDENTITY] }), log: memoryLogger(t, lines) })
  t.type(workers.grpcAddress, 'string', 'the worker process serves gRPC')
  const gateway = await listeners(t, {
    config: adminConfig(certs, { grpcTarget: workers.grpcAddress }),
    clientTls: { cert: certs.paths.gatewayCert, key: certs.paths.gatewayKey },
    log: memoryLogger(t, lines)
  })
  t.equal(gateway.grpcAddress, null, 'the gateway process starts no gRPC server of its own')
  t.ok(lines.some(line => line.includes(`calls the admin service at ${workers.grpcAddress}`)))
  t.ok(lines.some(line => line.includes(`https://${gateway.httpAddress}/admin/v1`)))

  // The gateway is trusted to name its callers, so the audit log shows the end user.
  await runRouteSuite(t, gateway.httpAddress, { service, backend, identity: certs.admin, expectedActor: ADMIN_IDENTITY })
  const viaGateway = await httpsCall(gateway.httpAddress, { method: 'POST', path: '/admin/v1/pause', identity: certs.workload, headers: { 'x-request-id': 'trusted-hop' } })
  t.equal(viaGateway.status, 200)
  const trusted = (await service.ListAuditEvents({ limit: 10 }, { actor: ADMIN_IDENTITY, requestId: 'check' })).events.find(event => event.requestId === 'trusted-hop')
  t.equal(trusted?.actor, WORKLOAD_URI, 'the end user is the actor')
  t.match(paramsOf(trusted), { via: GATEWAY_IDENTITY }, 'the gateway it came through is recorded')

  const missing = await httpsCall(gateway.httpAddress, { path: `/admin/v1/queues/nope-${suffix()}`, identity: certs.admin, headers: { 'x-request-id': 'two-hops' } })
  t.equal(missing.status, 404)
  t.match(missing.json, { error: { code: 'QUEUE_NOT_FOUND', requestId: 'two-hops', details: { queue: String } } }, 'code, details and request id survive both hops')
  const cap = await httpsCall(gateway.httpAddress, { method: 'POST', path: '/admin/v1/dlq/replay', body: '{"limit":51}', identity: certs.admin })
  t.equal(cap.status, 429)
  t.match(cap.json.error, { code: 'GUARDRAIL_EXCEEDED', details: { field: 'limit', max: 50 } })
  const unknown = await httpsCall(gateway.httpAddress, { path: '/admin/v1/dlq?bogus=1', identity: certs.admin })
  t.equal(unknown.status, 400)
  t.match(unknown.json.error, { code: 'VALIDATION_FAILED', details: { field: 'bogus' } })

  // Events stream through gRPC into SSE, and resume by id the same way.
  const live = await readSse(gateway.httpAddress, certs.admin, {
    onOpen: () => { events.emit('test.split.1', {}); events.emit('test.split.2', {}); void events.flush() },
    until: seen => seen.length >= 2
  })
  t.same(live.events.map(event => event.event), ['test.split.1', 'test.split.2'])
  events.emit('test.split.missed', {})
  await events.flush()
  const resumed = await readSse(gateway.httpAddress, certs.admin, {
    lastEventId: live.events[0]?.id,
    until: seen => seen.some(event => event.event === 'test.split.missed')
  })
  t.same(resumed.events.map(event => event.event), ['test.split.2', 'test.split.missed'], 'Last-Event-ID reaches the service as afterId')
})

t.test('a gateway that is not trusted acts as itself; an unreachable admin service is 503', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  const lines: string[] = []
  const workers = await listeners(t, { service, config: adminConfig(certs), log: memoryLogger(t, lines), trustedGateways: [GATEWAY_IDENTITY] })
  const untrusted = await listeners(t, {
    config: adminConfig(certs, { grpcTarget: workers.grpcAddress }),
    clientTls: { cert: certs.paths.clientCert, key: certs.paths.clientKey },
    log: memoryLogger(t, lines)
  })
  const paused = await httpsCall(untrusted.httpAddress, { method: 'POST', path: '/admin/v1/pause', identity: certs.workload, headers: { 'x-request-id': 'untrusted-hop' } })
  t.equal(paused.status, 200)
  const audit = await service.ListAuditEvents({ limit: 10 }, { actor: ADMIN_IDENTITY, requestId: 'check' })
  const record = audit.events.find(event => event.requestId === 'untrusted-hop')
  t.equal(record?.actor, ADMIN_IDENTITY, 'the gateway\'s own certificate identity is the actor')
  t.match(paramsOf(record), { untrustedForwardedIdentity: WORKLOAD_URI }, 'the identity it claimed is not believed, and the audit record says so')
  t.notOk('via' in paramsOf(record))
  const warnings = lines.filter(line => line.startsWith('warn') && line.includes('not in admin.trustedGateways'))
  t.equal(warnings.length, 1, 'the untrusted forwarder is logged once')
  t.match(warnings[0], `caller ${ADMIN_IDENTITY} forwards the identity ${WORKLOAD_URI}`)
  await httpsCall(untrusted.httpAddress, { method: 'POST', path: '/admin/v1/resume', identity: certs.workload })
  t.equal(lines.filter(line => line.includes('not in admin.trustedGateways')).length, 1, 'once per caller, not once per call')

  await workers.close()
  const down = await httpsCall(untrusted.httpAddress, { path: '/admin/v1/health', identity: certs.admin })
  t.equal(down.status, 503)
  t.match(down.json.error, { code: 'ADMIN_SERVICE_UNAVAILABLE' })
})
