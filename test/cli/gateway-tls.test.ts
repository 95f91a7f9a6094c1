// A CLI command whose certificates do not match the gateway's says so in one line:
// the URL, the CA file or client certificate, and the likely mismatch. Real TLS: an
// HTTPS server demanding client certificates from one development CA, the CLI holding
// another's.
import t from 'tap'
import https from 'node:https'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDevCertificates } from '../../core/transport/certs.ts'
import { runCli } from './support.ts'

t.test('certificate mismatches with the gateway are named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-tls-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const gateway = await ensureDevCertificates(join(dir, 'gateway-certs'))
  const other = await ensureDevCertificates(join(dir, 'other-certs'))
  const server = https.createServer({
    cert: await readFile(gateway.paths.server),
    key: await readFile(gateway.paths.serverKey),
    ca: await readFile(gateway.paths.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2'
  }, (_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"status":"ok"}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`

  const wrongCa = await runCli(['queues', '--url', url, '--cacert', other.paths.ca, '--client-cert', gateway.paths.client, '--client-key', gateway.paths.clientKey], dir)
  t.equal(wrongCa.code, 1)
  t.equal(wrongCa.stderr.trim().split('\n').length, 1, `one line: ${wrongCa.stderr}`)
  t.match(wrongCa.stderr, `GATEWAY_TLS_FAILED: the gateway at ${url} presents a certificate not signed by the CA ${other.paths.ca}`)
  t.match(wrongCa.stderr, /self-signed certificate in certificate chain/, 'node\'s reason is kept')
  t.match(wrongCa.stderr, /--config \(or SWITCHYARD_CONFIG\) that `switchyard start` uses, or --cacert/, 'suggests the likely mismatch')

  const wrongClient = await runCli(['queues', '--url', url, '--cacert', gateway.paths.ca, '--client-cert', other.paths.client, '--client-key', other.paths.clientKey], dir)
  t.equal(wrongClient.code, 1)
  t.equal(wrongClient.stderr.trim().split('\n').length, 1, `one line: ${wrongClient.stderr}`)
  t.match(wrongClient.stderr, `GATEWAY_TLS_FAILED: the gateway at ${url} refused the client certificate ${other.paths.client}`)
})
