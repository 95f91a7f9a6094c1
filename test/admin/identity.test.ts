import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { issueCertificate } from '../../core/transport/certs.ts'
import { identityFromCertificate, parseSubjectAltNames, requireIdentity } from '../../core/transport/identity.ts'
import { startGrpcServer } from '../../core/transport/index.ts'
import { embeddedBackend } from '../../core/admin/test-support.ts'
import { ADMIN_IDENTITY, adminService, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts } from './support.ts'

// Who the caller is (the certificate's first URI SAN, DNS SAN, email SAN, else CN),
// and the transports' own deadline when a service does not answer.

t.test('subjectaltname parsing keeps quoted values whole', async t => {
  t.same(parseSubjectAltNames('DNS:a.example, URI:spiffe://x/y, email:ops@example.com'), [
    { type: 'DNS', value: 'a.example' }, { type: 'URI', value: 'spiffe://x/y' }, { type: 'email', value: 'ops@example.com' }
  ])
  t.same(parseSubjectAltNames('URI:"http://a, DNS:evil", DNS:b'), [{ type: 'URI', value: 'http://a, DNS:evil' }, { type: 'DNS', value: 'b' }],
    'a crafted value cannot smuggle in another name')
  t.same(parseSubjectAltNames(''), [])
  t.equal(identityFromCertificate({ subjectaltname: 'DNS:d, email:e@x', subject: { CN: 'cn' } } as never), 'd', 'DNS before email')
  t.equal(identityFromCertificate({ subjectaltname: 'email:e@x', subject: { CN: 'cn' } } as never), 'e@x', 'email before CN')
  t.equal(identityFromCertificate({ subject: { CN: 'only-cn' } } as never), 'only-cn', 'CN when there are no SANs')
  t.equal(identityFromCertificate({} as never), null)
  t.throws(() => requireIdentity(null, false), { code: 'UNAUTHENTICATED' }, 'no verified certificate, no identity')
  t.throws(() => requireIdentity({ subject: { CN: 'x' } } as never, false), { code: 'UNAUTHENTICATED' }, 'an unverified certificate names nobody')
})

t.test('a certificate without SANs is known by its CN on both transports', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const cnOnly = await issueCertificate({ issuer: { cert: certs.server.ca, key: await readFile(join(certs.dir, 'ca-key.pem'), 'utf8') }, commonName: 'cn-only-client', usage: 'client' })
  const identity = { ...cnOnly, ca: certs.server.ca }
  const { service } = adminService(t, backend, { roles: { [ADMIN_IDENTITY]: 'admin' } })
  const { address } = await gatewayFor(t, service, certs)
  const refused = await httpsCall(address, { path: '/admin/v1/health', identity })
  t.equal(refused.status, 403)
  t.match(refused.json.error.message, /^cn-only-client is not allowed/)

  const server = await startGrpcServer({ service, addr: '127.0.0.1:0', tls: certs.server })
  t.teardown(async () => { await server.close() })
  const result = await grpcCall(grpcClient(t, server.address, identity, certs.server.ca), 'GetHealth', {})
  t.equal(result.code, 'FORBIDDEN')
  t.match(result.error?.details, /^cn-only-client is not allowed/)
})

t.test('a service that does not answer is cut off by the transport deadline', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  // The one injected fault: a method that never settles (a real backend hang is bounded by the service itself).
  const stalled = { ...service, GetHealth: () => new Promise<never>(() => {}) }
  const { address } = await gatewayFor(t, stalled, certs, { callTimeoutMs: 200 })
  const res = await httpsCall(address, { path: '/admin/v1/health', identity: certs.admin })
  t.equal(res.status, 504)
  t.match(res.json.error, { code: 'DEADLINE_EXCEEDED', details: { timeoutMs: 200 } })
  t.equal((await httpsCall(address, { path: '/admin/v1/queues', identity: certs.admin })).status, 200, 'other routes are unaffected')

  const server = await startGrpcServer({ service: stalled, addr: '127.0.0.1:0', tls: certs.server, callTimeoutMs: 200 })
  t.teardown(async () => { await server.close() })
  const result = await grpcCall(grpcClient(t, server.address, certs.admin, certs.server.ca), 'GetHealth', {})
  t.equal(result.error?.code, grpc.status.DEADLINE_EXCEEDED)
  t.equal(result.code, 'DEADLINE_EXCEEDED')
})
