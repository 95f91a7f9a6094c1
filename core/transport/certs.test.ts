// Real TLS handshakes with the generated certificates: the server demands a client
// certificate from our CA; no certificate, another CA's, or an expired one fail.
import t from 'tap'
import { mkdtemp, rm, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import { X509Certificate } from 'node:crypto'
import { ensureDevCertificates, issueCertificate, parseCertHosts, readKeyPair, DEV_CLIENT_IDENTITY } from './certs.ts'

async function handshake (port: number, ca: string, client?: { cert: string, key: string }): Promise<{ ok: true } | { ok: false, error: string }> {
  return await new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...(client ?? {}) })
    // TLS 1.3 reports a rejected client certificate after the client's handshake completes,
    // so wait for the server's first byte (or the alert) before judging.
    socket.once('data', () => { socket.destroy(); resolve({ ok: true }) })
    socket.once('error', (err) => { socket.destroy(); resolve({ ok: false, error: err.message }) })
    socket.once('close', () => resolve({ ok: false, error: 'closed' }))
  })
}

t.test('generated certificates give mutual TLS', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-certs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { paths, created } = await ensureDevCertificates(dir)
  t.ok(created)
  t.equal((await stat(paths.clientKey)).mode & 0o777, 0o600, 'keys are private')
  const again = await ensureDevCertificates(dir)
  t.notOk(again.created, 'second call keeps the existing files')

  const ca = await readFile(paths.ca, 'utf8')
  const server = await readKeyPair(paths.server, paths.serverKey)
  const identities: string[] = []
  const srv = tls.createServer({ ...server, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (socket) => {
    identities.push(String(socket.getPeerCertificate().subject?.CN ?? ''))
    socket.end('hello')
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => srv.close(() => resolve())))
  const port = (srv.address() as AddressInfo).port

  const client = await readKeyPair(paths.client, paths.clientKey)
  t.same(await handshake(port, ca, client), { ok: true }, 'our client certificate is accepted')
  t.same(identities, [DEV_CLIENT_IDENTITY])

  t.equal((await handshake(port, ca)).ok, false, 'no client certificate: refused')

  const otherCa = await issueCertificate({ commonName: 'Other CA', usage: 'ca' })
  const foreign = await issueCertificate({ issuer: otherCa, commonName: 'intruder', usage: 'client' })
  t.equal((await handshake(port, ca, foreign)).ok, false, 'certificate from another CA: refused')

  const caPair = await readKeyPair(paths.ca, paths.caKey)
  const expired = await issueCertificate({ issuer: caPair, commonName: 'late', usage: 'client', notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) })
  t.equal((await handshake(port, ca, expired)).ok, false, 'expired certificate: refused')

  t.same(identities, [DEV_CLIENT_IDENTITY], 'no refused client reached the handler')
})

t.test('SWITCHYARD_CERT_HOSTS adds the names a container network or cluster dials the server by', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-certs-hosts-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { paths } = await ensureDevCertificates(dir, { env: { SWITCHYARD_CERT_HOSTS: 'switchyard-admin, switchyard-admin.jobs.svc,10.1.2.3,localhost' } })
  const server = new X509Certificate(await readFile(paths.server))
  t.equal(server.subjectAltName, 'DNS:localhost, DNS:switchyard-admin, DNS:switchyard-admin.jobs.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.1.2.3')
  t.equal(server.checkHost('switchyard-admin'), 'switchyard-admin', 'a gateway dialing switchyard-admin:50052 accepts it')
  t.equal(server.checkHost('elsewhere'), undefined)

  t.throws(() => parseCertHosts('good,bad name'), /SWITCHYARD_CERT_HOSTS: "bad name" is neither a DNS name nor an IP address/)
  t.throws(() => parseCertHosts(Array.from({ length: 101 }, (_, i) => `h${i}`).join(',')), /at most 100 host names/)
  t.same(parseCertHosts(undefined), { dnsNames: [], ipAddresses: [] })
})
