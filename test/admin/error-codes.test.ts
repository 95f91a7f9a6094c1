import t, { type Test } from 'tap'
import { readFile } from 'node:fs/promises'
import { SwitchyardError, defineError } from '../../core/errors.ts'
import { ERROR_CODES, ERROR_CODE_LIST, GrpcStatus, HTTP_FOR_GRPC, type ErrorCode } from '../../core/contract/error-codes.ts'
import type { AdminService, CallContext } from '../../core/admin/types.ts'
import { serverBackend, suffix } from '../../core/admin/test-support.ts'
import { createGrpcAdminClient, startGrpcServer } from '../../core/transport/index.ts'
import { createScheduler } from '../../core/scheduler/index.ts'
import { renderErrorCodes } from '../../core/scripts/error-docs.ts'
import { GATEWAY_IDENTITY, TEST_FACTORY, adminService, gatewayFor, grpcCall, grpcClient, httpsCall, makeCerts, type HttpResult, type TestCerts } from './support.ts'

// Every code of the error registry is mapped, documented, and answered with the same
// HTTP status by a gateway in front of the service in its own process and by a
// gateway apart from it, calling it over real gRPC with mutual TLS (what
// WORKER_ADMIN_GRPC_TARGET wires). Codes no RPC can cause are raised by a test-only
// GetHealth; the ones the issue names are also provoked through real RPCs.

interface Gateways {
  /** the gateway in the service's own process */
  local: string
  /** a gateway apart from the service, calling it over gRPC */
  split: string
  /** the service's gRPC server */
  grpc: string
}

/** both layouts in front of `service`; `workerBodyLimitBytes` is the service side's limit (its gRPC message cap) */
async function gateways (t: Test, service: AdminService, certs: TestCerts, limits: { workerBodyLimitBytes?: number, gatewayBodyLimitBytes?: number } = {}): Promise<Gateways> {
  const workerLimit = limits.workerBodyLimitBytes ?? 1024 * 1024
  const server = await startGrpcServer({
    service,
    addr: '127.0.0.1:0',
    tls: certs.server,
    trustedGateways: [GATEWAY_IDENTITY],
    maxMessageBytes: workerLimit,
    onError: err => { t.fail(`unexpected gRPC failure: ${String(err)}`) }
  })
  t.teardown(async () => { await server.close() })
  const remote = createGrpcAdminClient({ target: server.address, tls: { ca: certs.server.ca, cert: certs.gateway.cert, key: certs.gateway.key } })
  t.teardown(() => { remote.close() })
  const local = await gatewayFor(t, service, certs, { bodyLimitBytes: workerLimit })
  const split = await gatewayFor(t, remote, certs, { bodyLimitBytes: limits.gatewayBodyLimitBytes ?? workerLimit })
  return { local: local.address, split: split.address, grpc: server.address }
}

const RAISE_PREFIX = 'raise.'

/**
 * A test-only admin service: GetHealth fails with the error the request id names
 * (`raise.<CODE>.<n>`), so each code crosses the real transports. The request id is
 * the one value that travels unchanged from the HTTP caller through the gRPC hop.
 */
function raisingService (raise: (code: string) => Error): AdminService {
  return {
    GetHealth: async (_request: unknown, ctx: CallContext) => {
      const code = ctx.requestId.slice(RAISE_PREFIX.length).split('.')[0] ?? ''
      throw raise(code)
    }
  } as unknown as AdminService
}

function expectSame (t: Test, what: string, local: HttpResult, split: HttpResult, status: number, code: string): void {
  t.equal(local.status, status, `${what}: in-process gateway answers ${status}`)
  t.equal(split.status, status, `${what}: split gateway answers ${status}`)
  t.match(local.json, { error: { code, message: String, requestId: String, details: Object } }, `${what}: in-process envelope`)
  t.match(split.json, { error: { code, message: local.json?.error?.message, requestId: String, details: local.json?.error?.details ?? {} } }, `${what}: the split gateway answers the same envelope`)
}

t.test('the registry: every code has an HTTP status, a gRPC status and a description', async t => {
  const grpcNames = new Set(Object.keys(GrpcStatus))
  for (const code of ERROR_CODE_LIST) {
    const spec = ERROR_CODES[code]
    t.match(code, /^[A-Z][A-Z0-9_]+$/, `${code}: an UPPER_SNAKE code`)
    t.ok(spec.http >= 400 && spec.http <= 599, `${code}: an HTTP error status`)
    t.ok(grpcNames.has(spec.grpc) && spec.grpc !== 'OK', `${code}: a gRPC error status`)
    t.ok(spec.description.length > 10 && !spec.description.includes('\n'), `${code}: a one-line description`)
    const factory = defineError(code)
    t.equal(factory('x').statusCode, spec.http, `${code}: its factory carries the registry status`)
  }
  t.throws(() => defineError('NOT_A_REGISTERED_CODE' as ErrorCode), /not in the error registry/, 'a code outside the registry has no factory')
})

t.test('the README documents every code with its statuses', async t => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  t.ok(readme.includes(renderErrorCodes()), 'the README table is the generated one (npm run docs:errors)')
  for (const code of ERROR_CODE_LIST) {
    const spec = ERROR_CODES[code]
    t.ok(readme.includes(`| \`${code}\` | ${spec.http} | \`${spec.grpc}\` |`), `${code} is documented`)
  }
})

t.test('every code: the same status in-process and through a split gateway over gRPC', async t => {
  const certs = await makeCerts(t)
  const service = raisingService(code => defineError(code as ErrorCode)(`raised ${code} for the test`, { details: { code, n: 1 } }))
  const { local, split, grpc } = await gateways(t, service, certs)
  const client = grpcClient(t, grpc, certs.admin, certs.admin.ca)
  for (const code of ERROR_CODE_LIST) {
    const call = async (address: string): Promise<HttpResult> => await httpsCall(address, { path: '/admin/v1/health', identity: certs.admin, headers: { 'x-request-id': `${RAISE_PREFIX}${code}.${suffix()}` } })
    expectSame(t, code, await call(local), await call(split), ERROR_CODES[code].http, code)
    const direct = await grpcCall(client, 'GetHealth', {}, { 'x-request-id': `${RAISE_PREFIX}${code}.${suffix()}` })
    t.match({ status: direct.error?.code, code: direct.code }, { status: GrpcStatus[ERROR_CODES[code].grpc], code }, `${code}: gRPC ${ERROR_CODES[code].grpc} with the code in metadata`)
  }
})

t.test('a code the gateway does not know keeps the kind of its gRPC status, never a 500', async t => {
  const certs = await makeCerts(t)
  // A newer service raising codes this gateway's registry has never heard of.
  const statuses: Record<string, number> = { NEWER_THING_NOT_FOUND: 404, NEWER_THING_BUSY: 409, NEWER_QUOTA: 429, NEWER_BAD_INPUT: 400, NEWER_OUTAGE: 503 }
  const service = raisingService(code => new SwitchyardError(code, statuses[code] ?? 500, `${code} from a newer service`))
  const { local, split } = await gateways(t, service, certs)
  for (const [code, status] of Object.entries(statuses)) {
    const call = async (address: string): Promise<HttpResult> => await httpsCall(address, { path: '/admin/v1/health', identity: certs.admin, headers: { 'x-request-id': `${RAISE_PREFIX}${code}.${suffix()}` } })
    expectSame(t, code, await call(local), await call(split), status, code)
  }
  for (const [grpc, http] of Object.entries(HTTP_FOR_GRPC)) {
    if (Number(grpc) !== GrpcStatus.INTERNAL && Number(grpc) !== GrpcStatus.DATA_LOSS) t.not(http, 500, `gRPC status ${grpc} does not fall back to 500`)
  }
})

t.test('SCHEDULE_NOT_FOUND and PAYLOAD_TOO_LARGE through real RPCs, SCHEDULE_FACTORY_EXISTS through the real registration', async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const { service } = adminService(t, backend)
  // The worker side takes 64 KiB; the gateway apart from it takes more, so only the gRPC hop can refuse.
  const workerBodyLimitBytes = 64 * 1024
  const { local, split } = await gateways(t, service, certs, { workerBodyLimitBytes, gatewayBodyLimitBytes: 1024 * 1024 })
  const as = { identity: certs.admin }

  for (const [method, path, body] of [['POST', '/admin/v1/schedules/ghost/run', undefined], ['POST', '/admin/v1/schedules/ghost/pause', '{"paused":true}']] as const) {
    const call = async (address: string): Promise<HttpResult> => await httpsCall(address, { method, path, ...(body === undefined ? {} : { body }), ...as })
    expectSame(t, `${method} ${path}`, await call(local), await call(split), 404, 'SCHEDULE_NOT_FOUND')
  }

  const big = JSON.stringify({ handler: 'big.payload', queue: `big-${suffix()}`, payload: { blob: 'x'.repeat(100 * 1024) } })
  const enqueue = async (address: string): Promise<HttpResult> => await httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', body: big, ...as })
  const inProcess = await enqueue(local)
  const viaGrpc = await enqueue(split)
  t.equal(inProcess.status, 413, 'the service\'s own gateway refuses the body over its limit')
  t.equal(viaGrpc.status, 413, 'the split gateway answers the gRPC server\'s refusal of the message as 413, not 500 or 502')
  t.match(inProcess.json, { error: { code: 'PAYLOAD_TOO_LARGE', details: { field: 'body' } } })
  t.match(viaGrpc.json, { error: { code: 'PAYLOAD_TOO_LARGE', message: /EnqueueTask: the request is larger than the admin service accepts/, details: { field: 'body' } } })

  // Registering a factory is code, not an RPC: a test-only GetHealth makes the real registration fail.
  const scheduler = createScheduler({ backend, options: { autoTick: false } })
  t.teardown(async () => { await scheduler.stop() })
  scheduler.scheduleFactory(TEST_FACTORY, () => ({ handler: 'report.build' }))
  const registering = raisingService(() => {
    try {
      scheduler.scheduleFactory(TEST_FACTORY, () => ({ handler: 'report.build' }))
    } catch (err) {
      return err as Error
    }
    return new Error('registering a factory twice did not fail')
  })
  const both = await gateways(t, registering, certs)
  const call = async (address: string): Promise<HttpResult> => await httpsCall(address, { path: '/admin/v1/health', headers: { 'x-request-id': `${RAISE_PREFIX}X.${suffix()}` }, ...as })
  expectSame(t, 'SCHEDULE_FACTORY_EXISTS', await call(both.local), await call(both.split), 409, 'SCHEDULE_FACTORY_EXISTS')
})
