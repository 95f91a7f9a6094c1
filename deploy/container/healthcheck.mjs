// The image's health check: GET /admin/v1/health on this container's own gateway over
// mutual TLS, healthy when it answers 200 with status "ok". Plain Node, no dependencies,
// so it costs one node start-up and one TLS handshake.
//
// Where it reads from, the same variables the server and the CLI use:
//   WORKER_ADMIN_HTTP_ADDR        the gateway's listen address (0.0.0.0 and :: are dialed on loopback)
//   WORKER_ADMIN_TLS_CA           the CA the server certificate is checked against
//   SWITCHYARD_CLIENT_CERT/KEY    the client certificate presented
//   SWITCHYARD_HEALTHCHECK_SERVERNAME  the name the server certificate is checked for (localhost)
// each defaulting to the development certificates under $SWITCHYARD_DATA_DIR/certs.
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'

const TIMEOUT_MS = 5_000
const env = process.env
const certDir = join(env.SWITCHYARD_DATA_DIR ?? '.switchyard', 'certs')

function fail (message) {
  process.stderr.write(`unhealthy: ${message}\n`)
  process.exit(1)
}

function dialAddress (listen) {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(listen)
  if (match === null) fail(`WORKER_ADMIN_HTTP_ADDR is not host:port: ${JSON.stringify(listen)}`)
  const host = match[1] === '0.0.0.0' || match[1] === '' ? '127.0.0.1' : match[1] === '::' ? '::1' : match[1]
  return { host, port: Number(match[2]) }
}

function read (path) {
  try { return readFileSync(path) } catch (err) { return fail(`cannot read ${path}: ${err.code ?? err.message}`) }
}

const { host, port } = dialAddress(env.WORKER_ADMIN_HTTP_ADDR ?? '127.0.0.1:8081')
const req = request({
  host,
  port,
  path: '/admin/v1/health',
  method: 'GET',
  // Dialed on loopback, so the name checked is not the address dialed: localhost, which
  // the development certificates carry, unless the deployment's certificate says otherwise.
  servername: env.SWITCHYARD_HEALTHCHECK_SERVERNAME ?? 'localhost',
  ca: read(env.WORKER_ADMIN_TLS_CA ?? join(certDir, 'ca.pem')),
  cert: read(env.SWITCHYARD_CLIENT_CERT ?? join(certDir, 'client.pem')),
  key: read(env.SWITCHYARD_CLIENT_KEY ?? join(certDir, 'client-key.pem')),
  timeout: TIMEOUT_MS
}, (res) => {
  let body = ''
  res.setEncoding('utf8')
  res.on('data', (chunk) => { if (body.length < 65_536) body += chunk })
  res.on('end', () => {
    let status
    try { status = JSON.parse(body).status } catch { status = undefined }
    if (res.statusCode !== 200 || status !== 'ok') fail(`HTTP ${res.statusCode}, status ${JSON.stringify(status)}: ${body.slice(0, 300)}`)
    process.stdout.write(`healthy: ${body}\n`)
  })
})
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)))
req.on('error', (err) => fail(`https://${host}:${port}/admin/v1/health: ${err.message}`))
req.end()
