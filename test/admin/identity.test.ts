import t from 'tap'
import https from 'node:https'
import tls from 'node:tls'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { issueCertificate } from '../../core/transport/certs.ts'
import { identityFromCertificate, parseSubjectAltNames, requireIdentity } from '../../core/transport/identity.ts'
import { startGrpcServer } from '../../core/transport/index.ts'
import { embeddedBackend } from '../../core/admin/test-support.ts'
import { ADMIN_IDENTITY, VIEWER_IDENTITY, WORKLOAD_URI, adminService, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts, portOf, type ClientIdentity } from './support.ts'

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

/** GETs on one keep-alive TLS connection per identity, in turn; answers each session's actor */
async function sessionActors (address: string, identities: ClientIdentity[], rounds: number): Promise<string[]> {
  const agents = identities.map(identity => new https.Agent({ keepAlive: true, maxSockets: 1, ...identity }))
  const sockets = new Set<unknown>()
  const actors: string[] = []
  try {
    for (let round = 0; round < rounds; round++) {
      for (const agent of agents) {
        actors.push(await new Promise<string>((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port: portOf(address), path: '/admin/v1/session', agent, servername: 'localhost' }, res => {
            sockets.add(res.socket)
            let text = ''
            res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
            res.on('end', () => resolve((JSON.parse(text) as { actor: string }).actor))
          })
          req.on('error', reject)
          req.end()
        }))
      }
    }
  } finally {
    for (const agent of agents) agent.destroy()
  }
  if (sockets.size !== identities.length) throw new Error(`expected one connection per identity, saw ${sockets.size}`)
  return actors
}

t.test('keep-alive connections: each request is its own connection\'s caller, worked out once per connection', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  const { address } = await gatewayFor(t, service, certs)
  const actors = await sessionActors(address, [certs.admin, certs.viewer, certs.workload], 3)
  t.same(actors, Array.from({ length: 3 }, () => [ADMIN_IDENTITY, VIEWER_IDENTITY, WORKLOAD_URI]).flat(), 'interleaved requests keep their own identities')
})

t.test('a TLS 1.2 client cannot renegotiate (and so cannot swap certificates) once it has asked something', async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  const { address } = await gatewayFor(t, service, certs)
  const outcome = await new Promise<string>((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: portOf(address), servername: 'localhost', maxVersion: 'TLSv1.2', ...certs.admin }, () => {
      socket.write('GET /admin/v1/session HTTP/1.1\r\nHost: localhost\r\n\r\n')
    })
    const timer = setTimeout(() => { socket.destroy(); resolve('no outcome within 10 s') }, 10_000)
    let asked = false
    socket.on('data', () => {
      if (asked) return
      asked = true
      socket.renegotiate({ rejectUnauthorized: true }, err => { if (err === null || err === undefined) { clearTimeout(timer); socket.destroy(); resolve('renegotiated') } })
    })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(asked ? 'refused' : 'closed before answering') })
  })
  t.equal(outcome, 'refused', 'the server ends the connection instead of renegotiating')
})
