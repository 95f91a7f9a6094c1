// `switchyard gateway`: the HTTPS gateway alone in front of a remote admin service,
// started from the command line with only its certificates and the target. The end
// user of a call through it is the audited actor when the service trusts the gateway.
import t from 'tap'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serverBackend } from '../../core/admin/test-support.ts'
import { DEFAULT_GUARDRAILS } from '../../core/config/resolve.ts'
import { startAdminListeners } from '../../core/transport/index.ts'
import { ADMIN_IDENTITY, GATEWAY_IDENTITY, WORKLOAD_URI, adminService, httpsCall, makeCerts, memoryLogger, type TestCerts } from '../admin/support.ts'
import { runCli, startCli } from './support.ts'

async function exists (path: string): Promise<boolean> {
  try { await access(path); return true } catch { return false }
}

/** a config whose backend is an embedded database: a gateway must never open it */
function gatewayConfig (certs: TestCerts, target: string | null, client: { cert: string, key: string }): string {
  return [
    'dataDir: data',
    'plugins:',
    '  - name: backend-postgres',
    '    options: { embedded: { dataDir: data/pglite } }',
    'admin:',
    ...(target === null ? [] : [`  grpcTarget: "${target}"`]),
    '  httpAddr: 127.0.0.1:0',
    '  grpcAddr: 127.0.0.1:0',
    `  tls: { cert: ${certs.paths.cert}, key: ${certs.paths.key}, ca: ${certs.paths.ca}, clientCert: ${client.cert}, clientKey: ${client.key} }`,
    ''
  ].join('\n')
}

t.test('switchyard gateway forwards to the admin service; a trusted gateway\'s callers are the audited actors', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-gateway-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  const workers = await startAdminListeners({
    service,
    config: {
      grpcAddr: '127.0.0.1:0', grpcTarget: null, httpAddr: '127.0.0.1:0',
      tls: { cert: certs.paths.cert, key: certs.paths.key, ca: certs.paths.ca },
      trustedGateways: [GATEWAY_IDENTITY],
      readOnly: false, requireApproval: false, approvalToken: null, roles: null, requestTimeoutMs: 5_000, bodyLimitBytes: 1024 * 1024,
      audit: { eventLimit: 10_000, retentionMs: null, archiveDir: null, archiveIntervalMs: 60_000, exportLimitMax: 200 },
      guardrails: DEFAULT_GUARDRAILS
    },
    log: memoryLogger(t, [])
  })
  t.teardown(() => workers.close())
  await writeFile(join(dir, 'gateway.yaml'), gatewayConfig(certs, workers.grpcAddress, { cert: certs.paths.gatewayCert, key: certs.paths.gatewayKey }))

  const gateway = startCli(['gateway', '--config', 'gateway.yaml'], dir)
  t.teardown(() => { if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL') })
  await gateway.waitFor('Press Ctrl-C to stop.')
  const address = /gateway: {2}https:\/\/(\S+)\/admin\/v1/.exec(gateway.stdout())?.[1] as string
  t.ok(address, 'prints the address it listens on')
  t.match(gateway.stdout(), `target:   ${workers.grpcAddress ?? ''}`)

  const paused = await httpsCall(address, { method: 'POST', path: '/admin/v1/pause', identity: certs.workload, headers: { 'x-request-id': 'cli-gateway-hop' } })
  t.equal(paused.status, 200)
  const health = await httpsCall(address, { path: '/admin/v1/health', identity: certs.admin })
  t.equal(health.status, 200)
  const audit = await service.ListAuditEvents({ limit: 10 }, { actor: ADMIN_IDENTITY, requestId: 'check' })
  const record = audit.events.find(event => event.requestId === 'cli-gateway-hop')
  t.equal(record?.actor, WORKLOAD_URI, 'audited as the end user')
  t.match(record?.params, { via: GATEWAY_IDENTITY })

  gateway.child.kill('SIGTERM')
  t.equal(await gateway.exited, 0)
  t.match(gateway.stdout(), 'switchyard gateway stopped cleanly')
  t.notOk(await exists(join(dir, 'data', 'pglite')), 'the configured backend was never opened')
})

t.test('gateway without a target, and start with one, refuse in one line before opening anything', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-cli-gateway-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const certs = await makeCerts(t)
  const client = { cert: certs.paths.gatewayCert, key: certs.paths.gatewayKey }
  await writeFile(join(dir, 'no-target.yaml'), gatewayConfig(certs, null, client))
  await writeFile(join(dir, 'target.yaml'), gatewayConfig(certs, '127.0.0.1:1', client))

  const noTarget = await runCli(['gateway', '--config', 'no-target.yaml'], dir)
  t.equal(noTarget.code, 1)
  t.match(noTarget.stderr, /^switchyard: CONFIG_INVALID: admin\.grpcTarget: required by `switchyard gateway`/)

  const start = await runCli(['start', '--config', 'target.yaml'], dir)
  t.equal(start.code, 1)
  t.match(start.stderr, /^switchyard: CONFIG_INVALID: admin\.grpcTarget \(WORKER_ADMIN_GRPC_TARGET\) is 127\.0\.0\.1:1: .*run `switchyard gateway`/)
  t.notOk(await exists(join(dir, 'data', 'pglite')), 'start opened no backend')
})
