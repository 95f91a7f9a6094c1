// The console's role over gRPC: a gateway's client sends the session's role in
// x-forwarded-role; the admin service takes it from a trusted gateway only, and only to
// lower a role (the lowest of the claim, the gateway's own admin.roles role and the
// person's, when admin.roles lists them). Real TLS, real gRPC, a real Postgres schema.
import t from 'tap'
import { DEFAULT_GUARDRAILS } from '../../core/config/resolve.ts'
import { serverBackend } from '../../core/admin/test-support.ts'
import type { CallContext } from '../../core/admin/types.ts'
import type { Role } from '../../core/contract/rpcs.ts'
import { createGrpcAdminClient, startAdminListeners, type AdminListenerConfig } from '../../core/transport/index.ts'
import { ADMIN_IDENTITY, GATEWAY_IDENTITY, VIEWER_IDENTITY, WORKLOAD_URI, adminService, makeCerts, memoryLogger, type ClientIdentity, type TestCerts } from './support.ts'

function adminConfig (certs: TestCerts, overrides: Partial<AdminListenerConfig>): AdminListenerConfig {
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
    guardrails: DEFAULT_GUARDRAILS,
    ...overrides
  }
}

/** a console session's call: the person and the role their session has */
function session (actor: string, grantedRole: string, requestId: string): CallContext {
  return { actor, grantedRole: grantedRole as Role, requestId }
}

t.test('a trusted gateway\'s role claim caps the role; an untrusted peer\'s is ignored and reported', async t => {
  const backend = await serverBackend(t)
  await backend.ensureQueues(['mail'])
  const certs = await makeCerts(t)
  const roles: Record<string, Role> = { [ADMIN_IDENTITY]: 'admin', [GATEWAY_IDENTITY]: 'operator', [VIEWER_IDENTITY]: 'viewer', carol: 'viewer' }
  const { service } = adminService(t, backend, { roles })
  const lines: string[] = []
  // WORKLOAD_URI is trusted to forward but has no admin.roles entry of its own.
  const workers = await startAdminListeners({ service, config: adminConfig(certs, { trustedGateways: [GATEWAY_IDENTITY, WORKLOAD_URI], roles }), log: memoryLogger(t, lines) })
  t.teardown(() => workers.close())
  const clientAs = (identity: ClientIdentity) => {
    const client = createGrpcAdminClient({ target: workers.grpcAddress ?? '', tls: identity, serverName: 'localhost', timeoutMs: 10_000 })
    t.teardown(() => { client.close() })
    return client
  }
  const gateway = clientAs(certs.gateway)
  const pause = { name: 'mail', paused: true }
  const audited = async (requestId: string) => (await service.ListAuditEvents({ limit: 20 }, { actor: ADMIN_IDENTITY, requestId: 'check' })).events.find(event => event.requestId === requestId)

  // An operator session: admin.roles does not list alice, the gateway is an operator.
  t.match(await gateway.GetSession({}, session('alice', 'operator', 'alice-session')), { actor: 'alice', via: GATEWAY_IDENTITY, role: 'operator', canMutate: true })
  t.equal((await gateway.PauseQueue(pause, session('alice', 'operator', 'alice-pause'))).queue.paused, true)
  const record = await audited('alice-pause')
  t.equal(record?.actor, 'alice', 'the audit log names the person')
  t.match(record?.params, { via: GATEWAY_IDENTITY, forwardedRole: 'operator' })

  // A viewer session is refused a mutation by the service itself.
  t.match(await gateway.GetSession({}, session('alice', 'viewer', 'viewer-session')), { role: 'viewer', canMutate: false })
  await t.rejects(gateway.PauseQueue(pause, session('alice', 'viewer', 'viewer-pause')), { code: 'FORBIDDEN', statusCode: 403, details: { actor: 'alice', role: 'viewer', required: 'operator' } })

  // No raise: an admin session through an operator gateway is an operator.
  t.match(await gateway.GetSession({}, session('alice', 'admin', 'admin-session')), { role: 'operator' })
  await t.rejects(gateway.PauseDequeue({}, session('alice', 'admin', 'admin-dequeue')), { code: 'FORBIDDEN', details: { role: 'operator', required: 'admin' } }, 'capped by the gateway\'s own role')
  // A person admin.roles lists keeps at most that role, whatever the session says.
  await t.rejects(gateway.PauseQueue(pause, session('carol', 'operator', 'carol-pause')), { code: 'FORBIDDEN', details: { actor: 'carol', role: 'viewer' } }, 'capped by the person\'s own entry')
  // A name that is no role refuses the call rather than being dropped (dropping it could raise the role).
  await t.rejects(gateway.GetSession({}, session('alice', 'root', 'bogus-role')), { code: 'FORBIDDEN', message: /forwarded the role "root" for alice/ })

  // A trusted forwarder without an admin.roles entry grants nothing.
  const roleless = clientAs(certs.workload)
  await t.rejects(roleless.GetSession({}, session('alice', 'viewer', 'roleless')), { code: 'FORBIDDEN', details: { via: WORKLOAD_URI }, message: /has no admin\.roles entry itself/ })

  // An untrusted peer (a viewer) claims a person and the admin role: both ignored.
  const untrusted = clientAs(certs.viewer)
  await t.rejects(untrusted.PauseQueue(pause, session('boss', 'admin', 'untrusted-pause')), { code: 'FORBIDDEN', details: { actor: VIEWER_IDENTITY, role: 'viewer' } })
  t.match(await untrusted.GetSession({}, session('boss', 'admin', 'untrusted-session')), { actor: VIEWER_IDENTITY, role: 'viewer' })
  const refused = await audited('untrusted-pause')
  t.equal(refused?.actor, VIEWER_IDENTITY, 'the peer is the audited actor')
  t.match(refused?.params, { untrustedForwardedIdentity: 'boss', untrustedForwardedRole: 'admin' }, 'the claims are audited as not believed')
  const warnings = lines.filter(line => line.includes('not in admin.trustedGateways'))
  t.equal(warnings.length, 1, 'reported once')
  t.match(warnings[0], `caller ${VIEWER_IDENTITY} forwards the identity boss and the role admin`)
})

t.test('without admin.roles the session\'s role decides, and a role-only claim is reported too', async t => {
  const backend = await serverBackend(t)
  await backend.ensureQueues(['mail'])
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  const lines: string[] = []
  const workers = await startAdminListeners({ service, config: adminConfig(certs, { trustedGateways: [GATEWAY_IDENTITY] }), log: memoryLogger(t, lines) })
  t.teardown(() => workers.close())
  const gateway = createGrpcAdminClient({ target: workers.grpcAddress ?? '', tls: certs.gateway, serverName: 'localhost' })
  const other = createGrpcAdminClient({ target: workers.grpcAddress ?? '', tls: certs.admin, serverName: 'localhost' })
  t.teardown(() => { gateway.close(); other.close() })
  await t.rejects(gateway.PauseQueue({ name: 'mail', paused: true }, session('vic', 'viewer', 'vic-pause')), { code: 'FORBIDDEN', details: { actor: 'vic', role: 'viewer' } }, 'everyone is admin without admin.roles, but a viewer session stays a viewer')
  t.equal((await gateway.PauseDequeue({}, session('ada', 'admin', 'ada-dequeue'))).globalPaused, true, 'an admin session is an admin')
  await gateway.ResumeDequeue({}, session('ada', 'admin', 'ada-resume'))
  // An untrusted peer that forwards only a role, as itself.
  t.match(await other.GetSession({}, { actor: '', grantedRole: 'viewer', requestId: 'role-only' }), { actor: ADMIN_IDENTITY, role: 'admin' }, 'its own role, not the claimed one')
  t.match(lines.find(line => line.includes('not in admin.trustedGateways')), `caller ${ADMIN_IDENTITY} forwards the role viewer`)
})
