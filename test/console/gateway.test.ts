// The console in front of remote workers: `switchyard start` (worker + admin service,
// no console) and `switchyard gateway` with the console, each its own process, over
// real mutual TLS. The person signed in to the gateway's console is the audited actor
// on the workers, their session's role is what the workers grant, and events stream
// from the workers through gRPC to the console's SSE.
import t from 'tap'
import { request as httpsRequest } from 'node:https'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword } from '@switchyard/admin-console'
import { issueCertificate } from '../../core/transport/certs.ts'
import { createGrpcAdminClient } from '../../core/transport/index.ts'
import { startDeployment } from '../cli/deployment.ts'
import { startCli } from '../cli/support.ts'
import { browserMissing, launchChromium, screenshot } from './browser.ts'
import { consoleUrls } from './deployment.ts'
import { signInWithForm, timelineFlow } from './flows.ts'
import { Browser } from './support.ts'

t.setTimeout(420_000)

const GATEWAY = 'console-gateway'
const LOWLY = 'lowly-peer'

/** the first SSE events of the console's event stream that satisfy `until` */
function readConsoleEvents (origin: string, ca: Buffer, cookie: string, onOpen: () => void, until: (events: Array<{ event: string, data: string }>) => boolean): Promise<Array<{ event: string, data: string }>> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL('/api/admin/v1/events', origin), { ca, headers: { cookie, accept: 'text/event-stream' }, timeout: 30_000 }, res => {
      if (res.statusCode !== 200) { reject(new Error(`events: status ${String(res.statusCode)}`)); res.resume(); return }
      const events: Array<{ event: string, data: string }> = []
      let buffered = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffered += chunk
        let end: number
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event !== undefined && data !== undefined) events.push({ event, data })
        }
        if (until(events)) { req.destroy(); resolve(events) }
      })
      res.on('error', () => {})
      onOpen()
    })
    req.on('timeout', () => { req.destroy(new Error('events: timed out')) })
    req.on('error', reject)
    req.end()
  })
}

t.test('switchyard gateway serves the console in front of remote workers', async t => {
  const workers = await startDeployment(t, {
    extraConfig: [
      'admin:',
      `  trustedGateways: [${GATEWAY}]`,
      `  roles: { switchyard-admin: admin, ${GATEWAY}: admin, ${LOWLY}: viewer }`,
      'queues: { mail: {} }'
    ]
  })
  const grpcTarget = /grpc: +(\S+) \(worker\.v1\.AdminService/.exec(workers.proc.stdout())?.[1]
  t.ok(grpcTarget, 'the workers serve gRPC')
  t.notMatch(workers.proc.stdout(), /console:/, 'the workers serve no console')

  // The gateway's own client certificate, from the workers' development CA.
  const certs = join(workers.dir, 'data', 'certs')
  const caPair = { cert: await readFile(join(certs, 'ca.pem'), 'utf8'), key: await readFile(join(certs, 'ca-key.pem'), 'utf8') }
  const gatewayPair = await issueCertificate({ issuer: caPair, commonName: GATEWAY, usage: 'client', dnsNames: [GATEWAY] })
  const lowlyPair = await issueCertificate({ issuer: caPair, commonName: LOWLY, usage: 'client', dnsNames: [LOWLY] })
  const dir = await mkdtemp(join(tmpdir(), 'sy-console-gateway-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'gateway.pem'), gatewayPair.cert)
  await writeFile(join(dir, 'gateway-key.pem'), gatewayPair.key, { mode: 0o600 })
  await writeFile(join(dir, 'gateway.yaml'), [
    'dataDir: data',
    'plugins:',
    '  - name: backend-postgres',
    '    options: { embedded: { dataDir: data/pglite } }',
    '  - name: admin-console',
    'admin:',
    `  grpcTarget: "${grpcTarget ?? ''}"`,
    '  httpAddr: 127.0.0.1:0',
    `  tls: { cert: ${join(certs, 'server.pem')}, key: ${join(certs, 'server-key.pem')}, ca: ${join(certs, 'ca.pem')}, clientCert: gateway.pem, clientKey: gateway-key.pem }`,
    'console:',
    '  addr: 127.0.0.1:0',
    '  auth:',
    '    mode: password',
    '    users:',
    `      alice: { passwordHash: "${await hashPassword('alice-secret')}", role: operator }`,
    `      vic: { passwordHash: "${await hashPassword('vic-secret')}", role: viewer }`,
    ''
  ].join('\n'))

  const gateway = startCli(['gateway', '--config', 'gateway.yaml'], dir, { SWITCHYARD_LOG_LEVEL: 'warn' })
  t.teardown(() => { if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL') })
  await gateway.waitFor('Press Ctrl-C to stop.', 60_000)
  const banner = gateway.stdout()
  t.match(banner, /console: +https:\/\/127\.0\.0\.1:\d+\/ \(sign-in: password\)/, 'the banner prints the console URL as start does')
  t.match(banner, /open once to sign in as \S+: https:\/\/\S+\/api\/login\/token\?t=/, 'and the one-time sign-in link')
  const { origin } = consoleUrls(banner)
  const ca = await readFile(join(certs, 'ca.pem'))

  const alice = new Browser(origin, ca)
  t.equal((await alice.login('alice', 'alice-secret')).status, 200)
  const session = await alice.session()
  t.match(session.json, { user: 'alice', role: 'operator', readOnly: false, approvalRequired: false })
  t.match(session.json.backend, `postgres (remote admin service at ${grpcTarget ?? ''})`, 'the backend as the workers report it (GetSession)')
  const service = await alice.request('GET', '/api/admin/v1/session')
  t.match(service.json, { actor: 'alice', via: GATEWAY, role: 'operator', backend: 'postgres' }, 'the workers see alice, through the gateway, as an operator')

  // Live: an event from the workers reaches the console's SSE stream through gRPC.
  const live = readConsoleEvents(origin, ca, alice.cookieHeader(), () => {
    void alice.request('POST', '/api/admin/v1/queues/mail/pause', { body: { paused: true }, csrf: true, headers: { 'x-request-id': 'console-gateway-pause' } })
  }, events => events.some(event => event.data.includes('console-gateway-pause')))
  const seen = await live
  t.ok(seen.some(event => event.data.includes('"alice"')), 'the pause shows up live, naming alice')
  const audit = await workers.admin.call('ListAuditEvents', { limit: 20 })
  const record = audit.events.find(event => event.requestId === 'console-gateway-pause')
  t.equal(record?.action, 'queue.pause')
  t.equal(record?.actor, 'alice', 'the workers\' audit log names the signed-in person, not the gateway certificate')
  t.match(record?.params, { via: GATEWAY, forwardedRole: 'operator' })
  t.equal((await workers.admin.call('GetQueue', { name: 'mail' })).queue.paused, true)
  // A file download through the remote service: the audit export, as the file itself.
  const exported = await alice.request('GET', '/api/admin/v1/audit/export?format=csv&action=queue.pause')
  t.equal(exported.status, 200)
  t.match(exported.headers['content-type'], /^text\/csv/)
  t.match(exported.text, /console-gateway-pause/, 'the workers\' audit log, downloaded through the console')

  // A viewer: the console refuses, and so do the workers when the console is bypassed.
  const vic = new Browser(origin, ca)
  t.equal((await vic.login('vic', 'vic-secret')).status, 200)
  const refused = await vic.request('POST', '/api/admin/v1/queues/mail/pause', { body: { paused: false }, csrf: true })
  t.equal(refused.status, 403)
  const asGateway = createGrpcAdminClient({ target: grpcTarget ?? '', tls: { ...gatewayPair, ca: caPair.cert }, serverName: 'localhost' })
  t.teardown(() => { asGateway.close() })
  await t.rejects(asGateway.PauseQueue({ name: 'mail', paused: false }, { actor: 'vic', grantedRole: 'viewer', requestId: 'bypass' }),
    { code: 'FORBIDDEN', details: { actor: 'vic', role: 'viewer', required: 'operator' } }, 'the workers refuse a viewer session\'s mutation themselves')

  // An untrusted peer claiming a person and the admin role acts as itself, a viewer.
  const untrusted = createGrpcAdminClient({ target: grpcTarget ?? '', tls: { ...lowlyPair, ca: caPair.cert }, serverName: 'localhost' })
  t.teardown(() => { untrusted.close() })
  await t.rejects(untrusted.PauseQueue({ name: 'mail', paused: false }, { actor: 'alice', grantedRole: 'admin', requestId: 'untrusted-claim' }),
    { code: 'FORBIDDEN', details: { actor: LOWLY, role: 'viewer' } }, 'its role claim is ignored')
  await workers.proc.waitFor(`admin gRPC caller ${LOWLY} forwards the identity alice and the role admin but is not in admin.trustedGateways`, 10_000, 'stderr')
  t.pass('and the workers log the untrusted claim')

  // The app in Chromium, through the gateway: the open overview shows a new task live.
  const missing = browserMissing()
  await t.test('the console app through the gateway, live', { skip: missing ?? false }, async t => {
    const browser = await launchChromium()
    t.teardown(() => browser.close())
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true })
    const page = await context.newPage()
    await signInWithForm(page, origin, 'alice', 'alice-secret')
    await timelineFlow(t, page, origin)
    await screenshot(page, 'gateway-console-timeline')
  })

  gateway.child.kill('SIGTERM')
  t.equal(await gateway.exited, 0)
  t.match(gateway.stdout(), 'switchyard gateway stopped cleanly')
  await t.rejects(access(join(dir, 'data', 'pglite')), 'the gateway never opened the configured backend')
})
