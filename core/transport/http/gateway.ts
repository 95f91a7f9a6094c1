import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Server } from 'node:https'
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import type { TLSSocket } from 'node:tls'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import fastifySse from '@fastify/sse'
import { Errors, isSwitchyardError } from '../../errors.ts'
import { RPC_LIST, type RpcDefinition } from '../../contract/rpcs.ts'
import { buildOpenApiDocument } from '../../contract/openapi.ts'
import type { AdminService, CallContext, EventStream, ServerStream } from '../../admin/types.ts'
import type { TlsMaterial } from '../grpc/server.ts'
import { connectionIdentity } from '../identity.ts'
import { hostPort, parseListenAddress } from './address.ts'
import { DEFAULT_CALL_TIMEOUT_MS, TransportErrors, requestIdFrom, unimplementedRpcs, withCallDeadline } from './call.ts'
import { sendFileAnswer, sendFileChunks, type FileAnswer, type FileChunk } from './download.ts'
import { fromClientError, fromFrameworkError, rawErrorResponse, toHttpFailure } from './errors.ts'
import { rpcRequestOf as requestOf } from './request.ts'
import { pipeEvents } from './sse.ts'

// The HTTPS/JSON gateway under /admin/v1: one route per entry of the RPC table, each
// translating HTTP into a call of the AdminService method of the same name (the
// service itself, or a gRPC client of a remote one). Mutual TLS only: a client
// without a certificate signed by the CA never completes the handshake.

export const OPENAPI_PATH = '/admin/v1/openapi.json'
const DEFAULT_HEARTBEAT_MS = 15_000
const MAX_PARAM_LENGTH = 256
/** on every answer: nothing is cached, nothing is sniffed into another type */
const ANSWER_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const

export interface GatewayOptions {
  admin: AdminService
  tls: TlsMaterial
  bodyLimitBytes: number
  /** a pino-compatible logger; omitted: no request logging */
  logger?: FastifyBaseLogger
  /** bound on one unary call (default 30 s) */
  callTimeoutMs?: number
  /** SSE comment lines this often keep proxies from closing an idle stream (default 15 s) */
  sseHeartbeatMs?: number
  /** version shown in the OpenAPI document */
  version?: string
  /** observes every answered request: route template (or "(unmatched)"), status, duration */
  onRequestTimed?: (route: string, status: number, ms: number) => void
}

export type Gateway = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>

declare module 'fastify' {
  interface FastifyRequest {
    /** the verified client certificate identity; null until the onRequest hook ran */
    switchyardActor: string | null
  }
}

interface RoutePattern {
  method: string
  pattern: RegExp
}

function routePattern (method: string, path: string): RoutePattern {
  const source = path.split('/').map(part => part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/')
  return { method, pattern: new RegExp(`^${source}/?$`) }
}

function headerText (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return typeof text === 'string' && text !== '' ? text : undefined
}

// A read the service answers again from its last computation (the overview and the
// queue list within their reuse window) hands back the same object: its JSON text is
// kept beside it, so a dashboard polled by many clients is serialized once per
// computation, not once per request. Answers are never changed after they are sent.
// One slot per RPC holds the last answer (a reused one is always the last one made),
// rather than a WeakMap entry per answer: every fresh answer would add an entry, and
// V8 has to trace such ephemerons at each collection. Large answers are not kept.
// The text goes out as UTF-8 bytes made here once: a string body is measured
// (Buffer.byteLength) and then encoded again by the socket write, each time on the heap.
const MAX_KEPT_JSON_BYTES = 64 * 1024

class LastJson {
  private response: object | null = null
  private bytes: Buffer = Buffer.alloc(0)

  of (response: unknown): Buffer {
    if (response === null || typeof response !== 'object') return Buffer.from(JSON.stringify(response) ?? 'null')
    if (response === this.response) return this.bytes
    const bytes = Buffer.from(JSON.stringify(response))
    const keep = bytes.length <= MAX_KEPT_JSON_BYTES
    this.response = keep ? response : null
    this.bytes = keep ? bytes : Buffer.alloc(0)
    return bytes
  }
}

/** the gateway's TLS: mutual (a client certificate signed by `ca` is required), TLS 1.2 at least */
export function gatewayHttpsOptions (tls: TlsMaterial): HttpsServerOptions {
  return { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }
}

export function createGateway (options: GatewayOptions): Gateway {
  const { admin, bodyLimitBytes } = options
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
  const streams = new Set<AbortController>()
  const app = Fastify({
    https: gatewayHttpsOptions(options.tls),
    bodyLimit: bodyLimitBytes,
    genReqId: req => requestIdFrom(req.headers['x-request-id']),
    requestIdHeader: false,
    // Receiving a request is bounded; sending an event stream is not.
    requestTimeout: 30_000,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The router's own refusals (a URL that does not decode, an over-long path segment)
    // come here before any hook ran, so the headers the hooks set are set here too.
    frameworkErrors: (err, request, reply) => {
      const failure = toHttpFailure(fromFrameworkError(err, MAX_PARAM_LENGTH), request.id, bodyLimitBytes)
      const answer = reply as unknown as FastifyReply
      void answer.code(failure.status).headers(ANSWER_HEADERS).header('x-request-id', request.id).type('application/json; charset=utf-8').send(failure.envelope)
    },
    // What Node's HTTP parser refuses never becomes a request: answer on the socket.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      if (socket.writable) socket.end(rawErrorResponse(fromClientError(err), randomUUID()))
      else socket.destroy(err)
    },
    // Fastify's per-request info lines would drown the log: requests are logged at
    // debug below, and each mutation once at info by the admin service.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger })
  }) as unknown as Gateway

  app.decorateRequest('switchyardActor', null)

  // Our own JSON parser: an empty body is "no fields", and a malformed one is a 400
  // that says so, without echoing the body back. It is the only parser: a body of any
  // other type (text/plain included) is 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: bodyLimitBytes }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') { done(null, undefined); return }
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(Errors.validation(`body: malformed JSON (${(err as Error).message})`, { details: { field: 'body' } }), undefined)
    }
  })

  // Hooks in callback style: an async hook costs a promise and a turn of the microtask
  // queue on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    reply.headers(ANSWER_HEADERS)
    // The handshake already refused unverified clients; this is the belt to those braces.
    try {
      request.switchyardActor = connectionIdentity(request.raw.socket as TLSSocket)
    } catch (err) {
      done(err as Error)
      return
    }
    done()
  })

  // Only for whoever reads it: without a logger or a timing observer there is nothing to do per answer.
  const onRequestTimed = options.onRequestTimed
  if (options.logger !== undefined || onRequestTimed !== undefined) {
    app.addHook('onResponse', (request, reply, done) => {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'admin request')
      onRequestTimed?.(request.routeOptions.url ?? '(unmatched)', reply.statusCode, reply.elapsedTime)
      done()
    })
  }

  app.setErrorHandler(async (err, request, reply) => {
    const failure = toHttpFailure(err, request.id, bodyLimitBytes)
    if (failure.unexpected) request.log.error({ err }, 'admin request failed')
    if (reply.sent || reply.raw.headersSent) return
    return await reply.code(failure.status).type('application/json').send(failure.envelope)
  })

  const known = [
    ...RPC_LIST.flatMap(def => [def.http.path, ...(def.http.aliases ?? []).map(alias => alias.path)].map(path => routePattern(def.http.method, path))),
    routePattern('GET', OPENAPI_PATH)
  ]
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? request.url
    const allowed = [...new Set(known.filter(route => route.pattern.test(path)).map(route => route.method))]
    if (allowed.length > 0) {
      reply.header('allow', [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', '))
      throw TransportErrors.methodNotAllowed(`${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`, { details: { method: request.method, allowed } })
    }
    throw TransportErrors.notFound(`no admin route ${request.method} ${path}`, { details: { method: request.method, path } })
  })

  app.addHook('preClose', async () => {
    // Open event streams would hold close() forever; ending them lets clients reconnect elsewhere.
    for (const abort of streams) abort.abort()
  })

  function callContext (request: FastifyRequest): CallContext {
    const approvalToken = headerText(request, 'x-admin-approval')
    return {
      actor: request.switchyardActor ?? '',
      requestId: request.id,
      ...(approvalToken === undefined ? {} : { approvalToken })
    }
  }


  const unimplemented = new Set(unimplementedRpcs(admin, RPC_LIST.map(def => def.name)))
  if (unimplemented.size > 0) app.log.warn(`the admin service does not implement ${[...unimplemented].join(', ')}; those routes answer 501 NOT_IMPLEMENTED`)
  function assertImplemented (def: RpcDefinition): void {
    if (unimplemented.has(def.name)) throw TransportErrors.notImplemented(`${def.name}: the admin service behind this gateway does not offer it (is it an older version?)`, { details: { rpc: def.name } })
  }

  const lastJson = new Map<string, LastJson>(RPC_LIST.map(def => [def.name, new LastJson()]))

  async function unary (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply, fixed?: Readonly<Record<string, string>>): Promise<unknown> {
    assertImplemented(def)
    const method = admin[def.name as keyof AdminService] as (request: unknown, ctx: CallContext) => Promise<unknown>
    const response = await withCallDeadline(method.call(admin, requestOf(def, request, fixed), callContext(request)), callTimeoutMs, def.name)
    if (def.http.download === true) return await sendFileAnswer(reply, response as FileAnswer)
    return await reply.type('application/json; charset=utf-8').send(lastJson.get(def.name)!.of(response))
  }

  async function stream (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    assertImplemented(def)
    const method = admin[def.name as keyof AdminService] as unknown as (request: unknown, ctx: CallContext) => EventStream
    const abort = new AbortController()
    streams.add(abort)
    reply.raw.once('close', () => abort.abort())
    try {
      const events = method.call(admin, requestOf(def, request), { ...callContext(request), signal: abort.signal })
      // Refusals (403, 501, a bad Last-Event-ID) are answered as JSON before any SSE header goes out.
      await withCallDeadline(events.ready, callTimeoutMs, def.name)
      await pipeEvents(reply, events, request.id, err => {
        if (!isSwitchyardError(err)) request.log.error({ err }, 'event stream failed')
      })
    } catch (err) {
      abort.abort()
      throw err
    } finally {
      abort.abort()
      streams.delete(abort)
    }
  }

  /**
   * A server stream of file chunks (GetJobArtifact) served as the file itself: the first
   * chunk's metadata becomes the headers, every chunk's base64 data the body. Refusals
   * come before the first byte, as JSON errors.
   */
  async function streamedDownload (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    assertImplemented(def)
    const method = admin[def.name as keyof AdminService] as unknown as (request: unknown, ctx: CallContext) => ServerStream<FileChunk>
    const abort = new AbortController()
    streams.add(abort)
    reply.raw.once('close', () => { abort.abort(); streams.delete(abort) })
    try {
      const chunks = method.call(admin, requestOf(def, request), { ...callContext(request), signal: abort.signal })
      return await sendFileChunks(reply, chunks, callTimeoutMs, def.name)
    } catch (err) {
      abort.abort()
      streams.delete(abort)
      throw err
    }
  }

  app.register(fastifySse, { heartbeatInterval: options.sseHeartbeatMs ?? DEFAULT_HEARTBEAT_MS })
  app.register(async routes => {
    for (const def of RPC_LIST) {
      if (def.stream === true && def.http.download === true) {
        routes.route({ method: def.http.method, url: def.http.path, handler: async (request, reply) => await streamedDownload(def, request, reply) })
      } else if (def.stream === true) {
        routes.route({ method: def.http.method, url: def.http.path, sse: { kind: 'manual' }, handler: async (request, reply) => { await stream(def, request, reply) } })
      } else {
        routes.route({ method: def.http.method, url: def.http.path, handler: async (request, reply) => await unary(def, request, reply) })
        for (const alias of def.http.aliases ?? []) {
          routes.route({ method: def.http.method, url: alias.path, handler: async (request, reply) => await unary(def, request, reply, alias.fields) })
        }
      }
    }
    // built on first request: most processes never serve it, and building it is a large part of a gateway's start
    let openApi: ReturnType<typeof buildOpenApiDocument> | null = null
    routes.get(OPENAPI_PATH, async () => {
      openApi ??= buildOpenApiDocument(options.version === undefined ? {} : { version: options.version })
      return openApi
    })
  })
  return app
}

/** listens on `addr` (host:port; port 0 picks one) and answers the address actually bound */
export async function startGateway (gateway: Gateway, addr: string): Promise<string> {
  const { host, port } = parseListenAddress(addr, 'admin HTTP address')
  await gateway.listen({ host, port })
  const bound = gateway.server.address()
  const boundPort = bound !== null && typeof bound === 'object' ? bound.port : port
  return hostPort(host, boundPort)
}
