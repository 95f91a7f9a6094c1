import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import https from 'node:https'
import tls from 'node:tls'
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import * as grpc from '@grpc/grpc-js'
import type { Test } from 'tap'
import type { Backend } from '../../core/backend/types.ts'
import { validateMessage } from '../../core/contract/validate.ts'
import { RPC_LIST, pathParams, type RequestOf, type RpcDefinition, type RpcName } from '../../core/contract/rpcs.ts'
import { ERROR_CODE_METADATA_KEY, ERROR_DETAILS_METADATA_KEY } from '../../core/contract/errors.ts'
import { ensureDevCertificates, issueCertificate, type KeyPairPem } from '../../core/transport/certs.ts'
import { adminRpcCodec, adminServiceDefinition } from '../../core/transport/grpc/proto.ts'
import { makeDead, makeService, newTask, suffix, type Harness } from '../../core/admin/test-support.ts'
import { createMetricsExporter } from '@switchyard/metrics'
import type { AdminOptions } from '../../core/admin/types.ts'
import { createScheduler } from '../../core/scheduler/index.ts'
import type { TlsMaterial } from '../../core/transport/grpc/server.ts'
import type { AdminService } from '../../core/admin/types.ts'
import { createGateway, startGateway, type Gateway, type GatewayOptions } from '../../core/transport/http/gateway.ts'

// Shared by the transport tests: real certificates (the development set plus the
// wrong ones: another CA, expired, other identities), an HTTPS client on real sockets,
// a raw gRPC caller that shows status and metadata, and one valid request per RPC.

export const ADMIN_IDENTITY = 'switchyard-admin'
export const VIEWER_IDENTITY = 'viewer-user'
export const GATEWAY_IDENTITY = 'admin-gateway'
export const WORKLOAD_URI = 'spiffe://switchyard.test/ops-console'

/** a client's key pair plus the CA it trusts for the server */
export interface ClientIdentity {
  cert: string
  key: string
  ca: string
}

export interface TestCerts {
  dir: string
  server: TlsMaterial & { cert: string, key: string, ca: string }
  paths: { cert: string, key: string, ca: string, gatewayCert: string, gatewayKey: string, clientCert: string, clientKey: string }
  admin: ClientIdentity
  viewer: ClientIdentity
  gateway: ClientIdentity
  workload: ClientIdentity
  otherCa: ClientIdentity
  expired: ClientIdentity
}

export async function makeCerts (t: Test): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-admin-certs-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { paths } = await ensureDevCertificates(dir)
  const ca: KeyPairPem = { cert: await readFile(paths.ca, 'utf8'), key: await readFile(paths.caKey, 'utf8') }
  const server = { cert: await readFile(paths.server, 'utf8'), key: await readFile(paths.serverKey, 'utf8'), ca: ca.cert }
  const trusting = (pair: KeyPairPem): ClientIdentity => ({ ...pair, ca: ca.cert })
  const day = 24 * 3600_000
  const foreignCa = await issueCertificate({ commonName: 'Some other CA', usage: 'ca' })
  const [viewer, gateway, workload, otherCa, expired] = await Promise.all([
    issueCertificate({ issuer: ca, commonName: VIEWER_IDENTITY, usage: 'client', dnsNames: [VIEWER_IDENTITY] }),
    issueCertificate({ issuer: ca, commonName: GATEWAY_IDENTITY, usage: 'client', dnsNames: [GATEWAY_IDENTITY] }),
    issueCertificate({ issuer: ca, commonName: 'ops-console', usage: 'client', dnsNames: ['ops-console.internal'], uris: [WORKLOAD_URI] }),
    issueCertificate({ issuer: foreignCa, commonName: ADMIN_IDENTITY, usage: 'client', dnsNames: [ADMIN_IDENTITY] }),
    issueCertificate({ issuer: ca, commonName: ADMIN_IDENTITY, usage: 'client', dnsNames: [ADMIN_IDENTITY], notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) })
  ])
  const gatewayCert = join(dir, 'gateway.pem')
  const gatewayKey = join(dir, 'gateway-key.pem')
  await writeFile(gatewayCert, gateway.cert)
  await writeFile(gatewayKey, gateway.key, { mode: 0o600 })
  return {
    dir,
    server,
    paths: { cert: paths.server, key: paths.serverKey, ca: paths.ca, gatewayCert, gatewayKey, clientCert: paths.client, clientKey: paths.clientKey },
    admin: { cert: await readFile(paths.client, 'utf8'), key: await readFile(paths.clientKey, 'utf8'), ca: ca.cert },
    viewer: trusting(viewer),
    gateway: trusting(gateway),
    workload: trusting(workload),
    otherCa: trusting(otherCa),
    expired: trusting(expired)
  }
}

/** a logger that keeps its lines, so the test can see what operators would */
export function memoryLogger (t: Test, lines: string[]): FastifyBaseLogger {
  const keep = (level: string) => (first: unknown, second?: unknown): void => {
    lines.push(`${level} ${typeof first === 'string' ? first : String(second)}`)
    if (level === 'error' || level === 'fatal') t.fail(`logged an error: ${String(second ?? first)}`)
  }
  const logger = {
    level: 'info',
    info: keep('info'),
    warn: keep('warn'),
    error: keep('error'),
    fatal: keep('fatal'),
    debug: keep('debug'),
    trace: keep('trace'),
    silent: () => {},
    child: () => logger
  }
  return logger as unknown as FastifyBaseLogger
}

/** the schedule factory every test service registers */
export const TEST_FACTORY = 'report.nightly'

/** the real admin service over `backend`, with a scheduler (driven by hand, no timer) that knows TEST_FACTORY */
export function adminService (t: Test, backend: Backend, options: Partial<AdminOptions> = {}): Harness {
  const scheduler = createScheduler({ backend, options: { autoTick: false } })
    .scheduleFactory(TEST_FACTORY, () => ({ handler: 'report.build', queue: 'reports', payload: { kind: 'nightly' } }), { description: 'builds the nightly report' })
  t.teardown(async () => { await scheduler.stop() })
  // A real metrics exporter, as the metrics plugin registers it, so GetMetrics answers.
  return makeService(t, backend, options, { scheduler, metricsExporters: [createMetricsExporter()] })
}

/** a gateway on a free port of 127.0.0.1, closed after the test; logging an error fails the test */
export async function gatewayFor (t: Test, admin: AdminService, certs: TestCerts, extra: Partial<GatewayOptions> = {}): Promise<{ gateway: Gateway, address: string }> {
  const gateway = createGateway({ admin, tls: certs.server, bodyLimitBytes: 1024 * 1024, logger: memoryLogger(t, []), ...extra })
  t.teardown(async () => { await gateway.close() })
  const address = await startGateway(gateway, '127.0.0.1:0')
  return { gateway, address }
}

/** the same service, counting StreamEvents iterations that are still running (a transport must end them) */
export function observeStreams (service: AdminService): { admin: AdminService, open: () => number } {
  let open = 0
  const admin: AdminService = {
    ...service,
    StreamEvents: (request, call) => {
      const inner = service.StreamEvents(request, call)
      return {
        ready: inner.ready,
        async * [Symbol.asyncIterator] () {
          open++
          try { yield * inner } finally { open-- }
        }
      }
    }
  }
  return { admin, open: () => open }
}

// --- HTTPS ---------------------------------------------------------------------------

export interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  text: string
  json: any
  /** the body's bytes (downloads) */
  body: Buffer
}

export interface HttpCall {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** the client certificate; null: present none (the CA is still trusted) */
  identity: ClientIdentity | null
  ca?: string
  timeoutMs?: number
}

export function portOf (address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1))
}

/** one request on its own TLS connection (no agent reuse, so every call is a new handshake) */
export function httpsCall (address: string, call: HttpCall): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(call.headers ?? {}) }
    if (call.body !== undefined) {
      headers['content-type'] ??= 'application/json'
      headers['content-length'] = Buffer.byteLength(call.body)
    }
    const request = https.request({
      host: '127.0.0.1',
      port: portOf(address),
      method: call.method ?? 'GET',
      path: call.path,
      headers,
      agent: false,
      ca: call.ca ?? call.identity?.ca,
      ...(call.identity === null ? {} : { cert: call.identity.cert, key: call.identity.key }),
      timeout: call.timeoutMs ?? 15_000
    }, response => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', reject)
      response.on('end', () => {
        const body = Buffer.concat(chunks)
        const text = body.toString('utf8')
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json, body })
      })
    })
    request.on('timeout', () => request.destroy(new Error('request timed out')))
    request.on('error', reject)
    request.end(call.body)
  })
}

/** bytes written as they are on a mutual TLS connection, for requests an HTTP client will not send; answers all that came back */
export function rawHttpsExchange (address: string, identity: ClientIdentity, request: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = ''
    const socket = tls.connect({ host: '127.0.0.1', port: portOf(address), ca: identity.ca, cert: identity.cert, key: identity.key, servername: 'localhost' }, () => { socket.write(request) })
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no end of the answer within ${timeoutMs} ms: ${answer.slice(0, 200)}`)) }, timeoutMs)
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8') })
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
    socket.on('error', err => { if (answer === '') { clearTimeout(timer); reject(err) } })
  })
}

/** how the gateway wants this RPC's request: path params in the path, body fields in JSON, header fields as headers, the rest as query */
export function toHttp (def: RpcDefinition, request: Record<string, unknown>): { method: string, path: string, body?: string, headers: Record<string, string> } {
  const inPath = pathParams(def)
  const inBody = new Set(def.http.bodyFields ?? [])
  const inHeader = def.http.headerFields ?? {}
  let path = def.http.path
  for (const name of inPath) path = path.replace(`:${name}`, encodeURIComponent(String(request[name])))
  const query = new URLSearchParams()
  const body: Record<string, unknown> = {}
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request)) {
    if (value === undefined || inPath.includes(name)) continue
    if (inBody.has(name)) body[name] = value
    else if (Object.hasOwn(inHeader, name)) headers[inHeader[name] as string] = String(value)
    else if (Array.isArray(value)) for (const item of value) query.append(name, String(item))
    else query.append(name, String(value))
  }
  const search = query.toString()
  return {
    method: def.http.method,
    path: search === '' ? path : `${path}?${search}`,
    headers,
    ...(inBody.size > 0 ? { body: JSON.stringify(body) } : {})
  }
}

/** reads an SSE response until `until` says stop, then disconnects */
export function readSse (address: string, identity: ClientIdentity, options: { lastEventId?: string, headers?: Record<string, string>, until: (events: SseEvent[], comments: string[]) => boolean, onOpen?: () => void, timeoutMs?: number }): Promise<{ status: number, headers: IncomingHttpHeaders, events: SseEvent[], comments: string[], text: string }> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = []
    const comments: string[] = []
    let pending = ''
    let text = ''
    const request = https.request({
      host: '127.0.0.1',
      port: portOf(address),
      path: '/admin/v1/events',
      agent: false,
      ca: identity.ca,
      cert: identity.cert,
      key: identity.key,
      headers: { accept: 'text/event-stream', ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }), ...(options.headers ?? {}) }
    }, response => {
      const done = (): void => {
        clearTimeout(timer)
        request.destroy()
        resolve({ status: response.statusCode ?? 0, headers: response.headers, events, comments, text })
      }
      const streaming = response.statusCode === 200 && String(response.headers['content-type']).startsWith('text/event-stream')
      if (streaming) options.onOpen?.()
      if (streaming && options.until(events, comments)) { done(); return }
      if (!streaming) {
        response.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
        response.on('end', done)
        return
      }
      response.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8')
        let end: number
        while ((end = pending.indexOf('\n\n')) !== -1) {
          const block = pending.slice(0, end)
          pending = pending.slice(end + 2)
          const event = parseSseBlock(block)
          if (event === null) comments.push(block)
          else events.push(event)
        }
        if (options.until(events, comments)) done()
      })
      response.on('end', done)
    })
    const timer = setTimeout(() => { request.destroy(); reject(new Error(`SSE read timed out with ${events.length} events`)) }, options.timeoutMs ?? 15_000)
    request.on('error', err => { clearTimeout(timer); reject(err) })
    request.end()
  })
}

export interface SseEvent {
  id: string
  event: string
  data: any
}

function parseSseBlock (block: string): SseEvent | null {
  let id = ''
  let event = 'message'
  const data: string[] = []
  let any = false
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue
    any = true
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id') id = value
    else if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (!any) return null
  return { id, event, data: JSON.parse(data.join('\n')) }
}

// --- gRPC ----------------------------------------------------------------------------

export interface GrpcResult {
  response?: any
  error?: grpc.ServiceError
  code?: string
  details?: Record<string, unknown>
  /** headers the server sent (x-request-id) */
  headers?: grpc.Metadata
}

export function grpcCredentials (identity: ClientIdentity | null, ca: string): grpc.ChannelCredentials {
  return identity === null
    ? grpc.credentials.createSsl(Buffer.from(ca))
    : grpc.credentials.createSsl(Buffer.from(identity.ca), Buffer.from(identity.key), Buffer.from(identity.cert))
}

/**
 * a raw unary call, so tests see the gRPC status and metadata themselves; JSON values
 * are converted to and from google.protobuf.Value as the transport does, unless
 * `wire` is set: then request and response are the messages as proto-loader has them
 */
export function grpcCall (client: grpc.Client, name: RpcName, request: unknown, metadata: Record<string, string> = {}, options: { serialize?: (value: unknown) => Buffer, timeoutMs?: number, wire?: boolean } = {}): Promise<GrpcResult> {
  const method = adminServiceDefinition()[name] as grpc.MethodDefinition<unknown, unknown>
  const codec = adminRpcCodec(name)
  const serialize = options.serialize ?? (options.wire === true ? method.requestSerialize : (value: unknown) => method.requestSerialize(codec.requestToWire(value)))
  const deserialize = options.wire === true ? method.responseDeserialize : (bytes: Buffer) => codec.responseFromWire(method.responseDeserialize(bytes))
  const md = new grpc.Metadata()
  for (const [key, value] of Object.entries(metadata)) md.set(key, value)
  return new Promise(resolve => {
    let headers: grpc.Metadata | undefined
    const call = client.makeUnaryRequest(method.path, serialize, deserialize, request, md, { deadline: Date.now() + (options.timeoutMs ?? 15_000) }, (err, response) => {
      if (err === null || err === undefined) { resolve({ response, ...(headers === undefined ? {} : { headers }) }); return }
      const code = err.metadata?.get(ERROR_CODE_METADATA_KEY)[0]
      const details = err.metadata?.get(ERROR_DETAILS_METADATA_KEY)[0]
      resolve({ error: err, ...(typeof code === 'string' ? { code } : {}), ...(typeof details === 'string' ? { details: JSON.parse(details) } : {}) })
    })
    call.on('metadata', md => { headers = md })
  })
}

export function grpcClient (t: Test, address: string, identity: ClientIdentity | null, ca: string): grpc.Client {
  const client = new grpc.Client(address, grpcCredentials(identity, ca), { 'grpc.ssl_target_name_override': 'localhost' })
  t.teardown(() => { client.close() })
  return client
}

// --- one valid request per RPC -------------------------------------------------------

export interface FixtureEnv {
  backend: Backend
  /** the service behind the transport, for setup the transport itself is not testing */
  service: AdminService
  /** a queue with a few ready tasks */
  queue: string
  /** a schedule factory registered in the service (schedule RPCs act on schedules named after one) */
  scheduleFactory?: string
}

type Fixture<N extends RpcName> = (env: FixtureEnv) => Promise<RequestOf<N>>

/** a DLQ entry in a queue of its own (other fixtures pause the shared queue or fill it with ready tasks) */
async function dead (env: FixtureEnv): Promise<{ id: string, queue: string }> {
  const queue = `dead-${suffix()}`
  const [id] = await makeDead(env.backend, queue, 1)
  return { id: id as string, queue }
}

async function deadId (env: FixtureEnv): Promise<string> {
  return (await dead(env)).id
}

async function readyId (env: FixtureEnv): Promise<string> {
  const [result] = await env.backend.enqueue([newTask(env.queue)])
  return (result as { id: string }).id
}

/** the idempotency key of a fresh ready task */
async function keyedReady (env: FixtureEnv): Promise<string> {
  const key = `key-${suffix()}`
  await env.backend.enqueue([newTask(env.queue, { idempotencyKey: key })])
  return key
}

function factoryOf (env: FixtureEnv): string {
  if (env.scheduleFactory === undefined) throw new Error('schedule RPCs need a schedule factory registered in the test service: pass its name as scheduleFactory')
  return env.scheduleFactory
}

const EVERY_FIVE_MINUTES = '*/5 * * * *'

/** a schedule named after the test factory, created in-process so the RPC under test has something to act on */
async function schedule (env: FixtureEnv): Promise<string> {
  const name = factoryOf(env)
  // Without CreateSchedule the RPC under test is not served either; its request only needs the right shape.
  if (implemented(env.service, 'CreateSchedule')) await env.service.CreateSchedule({ name, spec: EVERY_FIVE_MINUTES, durable: true }, { actor: ADMIN_IDENTITY, requestId: `setup-${suffix()}` })
  return name
}

/** a job definition stored through the service, so the job RPC under test has one to act on */
async function job (env: FixtureEnv): Promise<string> {
  const name = `job-${suffix()}`
  if (implemented(env.service, 'UpsertJob')) await env.service.UpsertJob(jobRequest(name, env.queue), { actor: ADMIN_IDENTITY, requestId: `setup-${suffix()}` })
  return name
}

function jobRequest (name: string, queue: string): RequestOf<'UpsertJob'> {
  return { name, source: 'tarball_url', tarballUrl: 'https://downloads.example/app-1.0.tar.gz', command: ['./run', '--once'], env: ['MODE=test'], queue, retries: 1, timeoutSeconds: 60, resources: { memory: '128mb', cpus: 0.5, pids: 64 } }
}

/** a queued run of a fresh job, queued through the service */
async function runId (env: FixtureEnv): Promise<string> {
  const name = await job(env)
  if (!implemented(env.service, 'RunJob')) return `0000000000000-${suffix()}`
  return (await env.service.RunJob({ name }, { actor: ADMIN_IDENTITY, requestId: `setup-${suffix()}` })).run.id
}

/** a valid request for every RPC: typed over the table, so a new RPC without a fixture does not compile */
export const FIXTURES: { [N in RpcName]: Fixture<N> } = {
  GetHealth: async () => ({}),
  GetOverview: async () => ({}),
  ListQueues: async () => ({}),
  GetQueue: async env => ({ name: env.queue }),
  UpdateQueueWeight: async env => ({ name: env.queue, weight: 3 }),
  ResetQueueWeight: async env => ({ name: env.queue }),
  PauseQueue: async env => ({ name: env.queue, paused: true }),
  ListScheduleFactories: async () => ({}),
  ListSchedules: async () => ({}),
  CreateSchedule: async env => ({ name: factoryOf(env), spec: EVERY_FIVE_MINUTES, durable: true, timezone: 'UTC', overlap: 'skip', catchUp: 'none' }),
  DeleteSchedule: async env => ({ name: await schedule(env) }),
  PauseSchedule: async env => ({ name: await schedule(env), paused: true }),
  RunSchedule: async env => ({ name: await schedule(env) }),
  PauseSchedules: async () => ({ paused: true, dryRun: true }),
  ListScheduleEvents: async env => ({ ...(env.scheduleFactory === undefined ? {} : { name: env.scheduleFactory }), limit: 25 }),
  ListDLQ: async env => ({ queue: (await dead(env)).queue, limit: 10, offset: 0 }),
  GetDLQStats: async () => ({}),
  GetDLQEntry: async env => ({ id: await deadId(env) }),
  ReplayDLQ: async env => ({ limit: 1, queue: (await dead(env)).queue, dryRun: true }),
  ReplayDLQByID: async env => ({ ids: [await deadId(env)], payload: { edited: true } }),
  DeleteDLQEntry: async env => ({ id: await deadId(env) }),
  PurgeDLQ: async env => ({ queue: (await dead(env)).queue, olderThan: '0s', dryRun: true }),
  PauseDequeue: async () => ({}),
  ResumeDequeue: async () => ({}),
  ListTasks: async env => ({ queue: env.queue, state: 'ready', limit: 5 }),
  GetTask: async env => ({ id: await readyId(env) }),
  EnqueueTask: async env => ({ handler: 'mail.send', queue: env.queue, payload: { to: 'ops@example.com' }, priority: 2, idempotencyKey: `k-${suffix()}` }),
  GetTaskGraph: async env => ({ id: await readyId(env), depth: 3 }),
  CancelTask: async env => ({ id: await readyId(env) }),
  RetryTask: async env => ({ id: await deadId(env) }),
  GetTaskByKey: async env => ({ key: await keyedReady(env) }),
  CancelTaskByKey: async env => ({ key: await keyedReady(env) }),
  DeleteTaskByKey: async env => ({ key: await keyedReady(env), dryRun: true }),
  ListWorkers: async env => {
    await env.backend.heartbeatWorker({ id: `w-${suffix()}`, host: 'h', pid: 1, version: 'v', queues: [env.queue], handlers: ['mail.send'], concurrency: 2, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now() }, 60_000)
    return {}
  },
  ListAuditEvents: async () => ({ limit: 5 }),
  ExportAudit: async () => ({ format: 'csv', limit: 5 }),
  GetMetrics: async () => ({}),
  StreamEvents: async () => ({}),
  GetSession: async () => ({}),
  ListEvents: async () => ({ type: 'task.,audit', limit: 10 }),
  GetMetricsHistory: async env => ({ window: '1h', queue: env.queue }),
  ListJobs: async () => ({ limit: 10 }),
  GetJob: async env => ({ name: await job(env) }),
  UpsertJob: async env => jobRequest(`job-${suffix()}`, env.queue),
  DeleteJob: async env => ({ name: await job(env) }),
  RunJob: async env => ({ name: await job(env) }),
  ListJobRuns: async () => ({ limit: 10 }),
  GetJobRun: async env => ({ runId: await runId(env) }),
  CancelJobRun: async env => ({ runId: await runId(env) }),
  ListJobEvents: async () => ({ limit: 10 }),
  GetJobArtifactMeta: async env => ({ name: await job(env) }),
  GetJobArtifact: async env => ({ name: await job(env) }),
  BulkTaskAction: async env => ({ action: 'reschedule', ids: [await readyId(env)], priority: 5, dryRun: true }),
  DrainQueue: async env => ({ name: env.queue, dryRun: true }),
  RescheduleTask: async env => ({ id: await readyId(env), priority: 5 }),
  CordonWorker: async env => ({ id: await registeredWorker(env) }),
  UncordonWorker: async env => ({ id: await registeredWorker(env) }),
  ReleaseWorkerLeases: async () => ({ id: `gone-${suffix()}`, dryRun: true }),
  SweepWorkers: async () => ({ olderThanMs: 600_000, dryRun: true }),
  ListRateLimits: async () => ({}),
  SetFlowLimit: async env => ({ kind: 'queue', name: env.queue, concurrency: 50, rateLimit: 1000, rateWindowMs: 1000 }),
  ClearFlowLimit: async env => {
    const name = `limited-${suffix()}`
    if (env.backend.capabilities.flowControl === true) await env.backend.setFlowLimit({ kind: 'handler', name }, { concurrency: 5, rate: null })
    return { kind: 'handler', name }
  }
}

/** a live worker in the registry, heartbeating once for the RPC under test */
async function registeredWorker (env: FixtureEnv): Promise<string> {
  const id = `w-${suffix()}`
  await env.backend.heartbeatWorker({ id, host: 'h', pid: 1, version: 'v', queues: [env.queue], handlers: ['mail.send'], concurrency: 2, inFlight: 0, startedAt: Date.now(), lastHeartbeatAt: Date.now() }, 60_000)
  return id
}

/** the job artifact RPCs of a service without an artifact store answer this (the route exists; the deployment lacks the store) */
export const NO_ARTIFACT_STORE = { status: 501, code: 'ARTIFACT_STORE_NOT_CONFIGURED' }

export async function fixtureFor (name: RpcName, env: FixtureEnv): Promise<Record<string, unknown>> {
  const fixture = FIXTURES[name] as Fixture<RpcName> | undefined
  if (fixture === undefined) throw new Error(`no fixture for ${name}: add one to test/admin/support.ts`)
  return await fixture(env) as Record<string, unknown>
}

/**
 * Calls every route of the RPC table over HTTPS as `identity` with a valid request,
 * checks the answer is the RPC's response message, and that each mutation was
 * audited with `expectedActor` and the caller's request id.
 */
export async function runRouteSuite (t: Test, address: string, options: { service: AdminService, backend: Backend, identity: ClientIdentity, expectedActor: string, scheduleFactory?: string }): Promise<void> {
  const { service, backend, identity } = options
  const queue = `routes-${suffix()}`
  await backend.enqueue([newTask(queue), newTask(queue)])
  for (const def of RPC_LIST) {
    const requestId = `req-${def.name}-${suffix()}`
    const env = { backend, service, queue, scheduleFactory: options.scheduleFactory ?? TEST_FACTORY }
    if (!implemented(service, def.name)) {
      // A well-formed request, so a remote service is reached and says it lacks the method.
      const http = toHttp(def, await fixtureFor(def.name as RpcName, env))
      const res = await httpsCall(address, { ...http, identity, headers: { ...http.headers, 'x-request-id': requestId } })
      t.match({ status: res.status, code: res.json?.error?.code }, { status: 501, code: 'NOT_IMPLEMENTED' }, `${def.name}: the service has no method for it yet, so the route answers 501`)
      continue
    }
    const request = await fixtureFor(def.name as RpcName, env)
    const http = toHttp(def, request)
    if (def.name === 'GetJobArtifactMeta' || def.name === 'GetJobArtifact') {
      // The suite's services register no artifact store; test/jobs/admin.test.ts downloads real artifacts.
      const res = await httpsCall(address, { ...http, headers: { ...http.headers, 'x-request-id': requestId }, identity })
      t.match({ status: res.status, code: res.json?.error?.code }, NO_ARTIFACT_STORE, `${def.name}: ${http.method} ${http.path} is routed and answers the contract's error without an artifact store`)
      continue
    }
    if (def.name === 'GetTaskGraph' && backend.capabilities.dependencies !== true) {
      const res = await httpsCall(address, { ...http, headers: { ...http.headers, 'x-request-id': requestId }, identity })
      t.match({ status: res.status, code: res.json?.error?.code }, { status: 501, code: 'UNSUPPORTED_BY_BACKEND' }, `${def.name}: ${http.method} ${http.path} is routed and says the backend lacks task dependencies`)
      continue
    }
    if (def.stream === true) {
      const stream = await readSse(address, identity, { headers: { 'x-request-id': requestId }, until: () => true })
      t.equal(stream.status, 200, `${def.name}: ${http.method} ${http.path}`)
      t.match(stream.headers['content-type'], /^text\/event-stream/)
      t.equal(stream.headers['x-request-id'], requestId)
      continue
    }
    const res = await httpsCall(address, { ...http, headers: { ...http.headers, 'x-request-id': requestId }, identity })
    t.equal(res.status, 200, `${def.name}: ${http.method} ${http.path}${res.status === 200 ? '' : ` → ${res.text.slice(0, 300)}`}`)
    t.equal(res.headers['x-request-id'], requestId, `${def.name} echoes the request id`)
    if (def.name === 'GetMetrics') {
      t.match(res.headers['content-type'], /^application\/json/, 'metrics are served as the JSON document itself')
      t.type(res.json, 'object')
    } else if (def.http.download === true) {
      t.match(res.headers['content-type'], /^text\/csv/, 'the export is served as the file itself')
      t.match(res.headers['content-disposition'], /^attachment; filename="switchyard-audit-[A-Za-z0-9._-]+\.csv"$/)
      t.match(res.text, /^id,time,action,target,actor,requestId,outcome,error,params\r\n/)
    } else {
      t.doesNotThrow(() => validateMessage(def.response, res.json, `${def.name} response`), `${def.name} answers its response message`)
    }
    if (def.kind === 'mutation') {
      const audit = await service.ListAuditEvents({ limit: 100 }, { actor: ADMIN_IDENTITY, requestId: 'check' })
      t.match(audit.events.find(event => event.requestId === requestId), { actor: options.expectedActor, outcome: 'ok', action: def.auditAction },
        `${def.name} is audited with the caller's identity and request id`)
    }
  }
  if (['EnqueueTask', 'GetTask', 'ListAuditEvents'].every(name => implemented(service, name))) await checkJsonValueRoundTrip(t, address, identity, queue)
}

/** a payload with every kind of JSON value, as the JSON text a client sends */
export const JSON_VALUE_PAYLOAD_TEXT = '{"to":"ops@example.com","n":0,"x":-1.5,"big":1e300,"ok":true,"no":false,"none":null,' +
  '"text":"Grüße 世界 🚂 \\"quoted\\" \\\\ \\n","list":[1,"two",null,[],{}],"nested":{"a":{"b":[{"c":[true]}]}},"":"empty key","__proto__":{"own":1}}'

/**
 * Enqueues a task with JSON_VALUE_PAYLOAD_TEXT over HTTPS and reads it back: the
 * payload is the same JSON value, and its audit record names its size, not its content.
 */
export async function checkJsonValueRoundTrip (t: Test, address: string, identity: ClientIdentity, queue: string): Promise<void> {
  const expected = JSON.parse(JSON_VALUE_PAYLOAD_TEXT) as unknown
  const requestId = `json-${suffix()}`
  const body = `{"handler":"json.roundtrip","queue":${JSON.stringify(queue)},"payload":${JSON_VALUE_PAYLOAD_TEXT}}`
  const enqueued = await httpsCall(address, { method: 'POST', path: '/admin/v1/tasks', body, identity, headers: { 'x-request-id': requestId } })
  t.equal(enqueued.status, 200, `a JSON value payload is enqueued ${enqueued.status === 200 ? '' : enqueued.text.slice(0, 300)}`)
  const got = await httpsCall(address, { path: `/admin/v1/tasks/${encodeURIComponent(enqueued.json?.id as string)}`, identity })
  t.same(got.json?.task?.payload, expected, 'GetTask answers the payload as the same JSON value')
  t.ok(Object.hasOwn(got.json?.task?.payload ?? {}, '__proto__'), 'a "__proto__" key stays a key')
  const audit = await httpsCall(address, { path: '/admin/v1/audit?action=task.enqueue&limit=20', identity })
  const record = (audit.json?.events as Array<{ requestId: string, params: Record<string, unknown> }> | undefined)?.find(event => event.requestId === requestId)
  t.equal(record?.params.payloadBytes, Buffer.byteLength(JSON.stringify(expected)), 'the audit params (a JSON value) hold the payload size')
  t.notOk('payload' in (record?.params ?? {}), 'and not the payload')
}

/** whether the service provides the RPC (the contract can be ahead of it) */
export function implemented (service: AdminService, name: string): boolean {
  return typeof (service as unknown as Record<string, unknown>)[name] === 'function'
}

