import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  AdminErrors, RPC_LIST, ROLE_RANK, TransportErrors, rpcRequestOf, toErrorEnvelope, withCallDeadline, isSwitchyardError, sendFileAnswer, sendFileChunks,
  type AdminService, type CallContext, type EventStream, type FileAnswer, type FileChunk, type RpcDefinition
} from '@switchyard/core'
import type { Session } from './sessions.ts'

// /api/admin/v1/*: every RPC of the admin contract, mounted from the RPC table (the
// same paths as the gateway's, under /api, the same request and response JSON). Each
// call runs as the signed-in person: the actor is the console user, `via` the console,
// and the role the console gave them is the role the admin service checks.

export const API_PREFIX = '/api'

export interface ContractRouteOptions {
  admin: AdminService
  callTimeoutMs: number
  sseHeartbeatMs: number
  /** console.readOnly or admin.readOnly: mutation routes are refused here already */
  readOnly: boolean
  via: string
  requireSession: (request: FastifyRequest, reply: FastifyReply) => Promise<Session>
  requireCsrf: (request: FastifyRequest, session: Session) => void
}

function headerText (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return typeof text === 'string' && text !== '' ? text : undefined
}


/** every route this mounts: method and path, for tests that must cover all of them */
export function contractRoutes (): Array<{ method: string, url: string, rpc: string, kind: RpcDefinition['kind'] }> {
  return RPC_LIST.flatMap(def => [def.http.path, ...(def.http.aliases ?? []).map(alias => alias.path)]
    .map(path => ({ method: def.http.method, url: API_PREFIX + path, rpc: def.name, kind: def.kind })))
}

export function registerContractRoutes (app: FastifyInstance, options: ContractRouteOptions): void {
  const { admin } = options

  /** sign-in (401), CSRF on every non-GET (403), read-only and role (403): all before the service is called */
  async function guard (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply): Promise<CallContext> {
    const session = await options.requireSession(request, reply)
    if (request.method !== 'GET' && request.method !== 'HEAD') options.requireCsrf(request, session)
    if (def.kind === 'mutation' && options.readOnly) {
      throw AdminErrors.readOnly(`${def.name} refused: the console is read-only`, { details: { rpc: def.name } })
    }
    if (ROLE_RANK[session.role] < ROLE_RANK[def.minRole]) {
      throw AdminErrors.forbidden(`${def.name} needs role ${def.minRole}; ${session.user} has role ${session.role}`, { details: { actor: session.user, role: session.role, required: def.minRole, rpc: def.name } })
    }
    const approvalToken = headerText(request, 'x-admin-approval')
    return {
      actor: session.user,
      via: options.via,
      grantedRole: session.role,
      requestId: request.id,
      ...(approvalToken === undefined ? {} : { approvalToken })
    }
  }


  function methodOf (def: RpcDefinition): (request: unknown, ctx: CallContext) => unknown {
    const method = (admin as unknown as Record<string, unknown>)[def.name]
    if (typeof method !== 'function') {
      throw TransportErrors.notImplemented(`${def.name}: the admin service behind this console does not offer it`, { details: { rpc: def.name } })
    }
    return (method as (request: unknown, ctx: CallContext) => unknown).bind(admin)
  }

  async function unary (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply, fixed?: Readonly<Record<string, string>>): Promise<unknown> {
    const ctx = await guard(def, request, reply)
    const call = methodOf(def)
    const response = await withCallDeadline(call(rpcRequestOf(def, request, fixed), ctx) as Promise<unknown>, options.callTimeoutMs, def.name)
    if (def.http.download === true) return await sendFileAnswer(reply, response as FileAnswer)
    return response
  }

  const streams = new Set<AbortController>()
  app.addHook('preClose', async () => { for (const abort of streams) abort.abort() })

  /** StreamEvents as Server-Sent Events; EventSource's Last-Event-ID resumes from the event log */
  async function stream (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ctx = await guard(def, request, reply)
    const call = methodOf(def)
    const abort = new AbortController()
    streams.add(abort)
    reply.raw.once('close', () => abort.abort())
    try {
      const events = call(rpcRequestOf(def, request), { ...ctx, signal: abort.signal }) as EventStream
      // Refusals are answered as JSON before the stream starts.
      await withCallDeadline(events.ready, options.callTimeoutMs, def.name)
      reply.hijack()
      const raw = reply.raw
      raw.writeHead(200, {
        ...reply.getHeaders() as Record<string, string>,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no'
      })
      raw.flushHeaders()
      const heartbeat = setInterval(() => { if (!raw.writableEnded) raw.write(': keep-alive\n\n') }, options.sseHeartbeatMs)
      try {
        for await (const event of events) {
          if (abort.signal.aborted || raw.writableEnded) break
          raw.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
        }
      } catch (err) {
        if (!abort.signal.aborted && !raw.writableEnded) {
          if (!isSwitchyardError(err)) request.log.error({ err }, 'console event stream failed')
          raw.write(`event: error\ndata: ${JSON.stringify(toErrorEnvelope(err, request.id))}\n\n`)
        }
      } finally {
        clearInterval(heartbeat)
        if (!raw.writableEnded) raw.end()
      }
    } finally {
      abort.abort()
      streams.delete(abort)
    }
  }

  /**
   * GetJobArtifact, a server stream of file chunks, served as the file itself (as the
   * gateway does): the first chunk's metadata becomes the headers, every chunk's base64
   * data the body. Refusals come before the first byte, as JSON errors.
   */
  async function streamedDownload (def: RpcDefinition, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const ctx = await guard(def, request, reply)
    const call = methodOf(def)
    const abort = new AbortController()
    streams.add(abort)
    reply.raw.once('close', () => { abort.abort(); streams.delete(abort) })
    try {
      const chunks = call(rpcRequestOf(def, request), { ...ctx, signal: abort.signal }) as AsyncIterable<FileChunk> & { ready: Promise<void> }
      return await sendFileChunks(reply, chunks, options.callTimeoutMs, def.name)
    } catch (err) {
      abort.abort()
      streams.delete(abort)
      throw err
    }
  }

  for (const def of RPC_LIST) {
    if (def.stream === true && def.http.download === true) {
      app.route({ method: def.http.method, url: API_PREFIX + def.http.path, handler: async (request, reply) => await streamedDownload(def, request, reply) })
      continue
    }
    if (def.stream === true) {
      app.route({ method: def.http.method, url: API_PREFIX + def.http.path, handler: async (request, reply) => { await stream(def, request, reply) } })
      continue
    }
    app.route({ method: def.http.method, url: API_PREFIX + def.http.path, handler: async (request, reply) => await unary(def, request, reply) })
    for (const alias of def.http.aliases ?? []) {
      app.route({ method: def.http.method, url: API_PREFIX + alias.path, handler: async (request, reply) => await unary(def, request, reply, alias.fields) })
    }
  }
}
