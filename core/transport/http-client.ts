// An AdminService over the HTTPS gateway, for the CLI and scripts: the inverse of the
// gateway's routing, generated from the same RPC table, so every unary RPC is
// callable by name with the same request and response shapes as in-process.
import https from 'node:https'
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import { SwitchyardError, Errors, defineError } from '../errors.ts'
// Only the routes are loaded at run time: the message schemas (and their validator) are
// the server's business, and loading them would dominate a CLI call's start-up time.
import { HTTP_ROUTES, type HttpBinding } from '../contract/routes.ts'
import type { RequestOf, ResponseOf, RpcName, StreamRpcName } from '../contract/rpcs.ts'
import type { AdminEventT } from '../contract/messages.ts'
import { parseSseChunks } from './sse-parser.ts'

export type UnaryRpcName = Exclude<RpcName, StreamRpcName>

/** the gateway answered something other than JSON or the error envelope (a proxy's page, a different server) */
const BadGatewayResponse = defineError('BAD_GATEWAY_RESPONSE')

export interface HttpAdminClientOptions {
  /** e.g. https://127.0.0.1:8081 */
  url: string
  ca: string
  cert: string
  key: string
  timeoutMs?: number
  /** sent as X-Admin-Approval on every call */
  approvalToken?: string
}

export interface EventStreamOptions {
  /** ends the stream (the generator returns) */
  signal?: AbortSignal
  /** a connection silent this long is dropped with an error; the gateway sends a heartbeat every 15 s (default 45 s) */
  idleTimeoutMs?: number
}

export interface HttpAdminClient {
  call<N extends UnaryRpcName> (name: N, request: RequestOf<N>): Promise<ResponseOf<N>>
  /**
   * StreamEvents over Server-Sent Events: yields events until the gateway ends the
   * stream (the generator returns) or the connection fails (it throws). A refusal
   * before the stream starts, or an `error` event in it, throws the gateway's error.
   */
  events (request: RequestOf<'StreamEvents'>, options?: EventStreamOptions): AsyncGenerator<AdminEventT>
  /** GetJobArtifact: the file's bytes as they come */
  artifact (request: RequestOf<'GetJobArtifact'>): AsyncGenerator<Buffer>
  close (): void
}

/** header carrying the fields of a download answer that are not the file itself */
export const DOWNLOAD_COUNT_HEADER = 'x-switchyard-count'

interface HttpCall {
  method: string
  path: string
  body: string | null
  headers: Record<string, string>
}

/** Splits a request into path, query, body and headers the way the gateway reads them. */
export function toHttpCall (name: RpcName, request: Record<string, unknown>): HttpCall {
  const http: HttpBinding = HTTP_ROUTES[name]
  const used = new Set<string>()
  const path = http.path.replace(/:([A-Za-z0-9_]+)/g, (_m, field: string) => {
    used.add(field)
    const value = request[field]
    if (value === undefined || value === null) throw Errors.validation(`${field}: is required`, { details: { field } })
    return encodeURIComponent(String(value))
  })
  const headers: Record<string, string> = {}
  for (const [field, header] of Object.entries(http.headerFields ?? {})) {
    used.add(field)
    const value = request[field]
    if (value !== undefined) headers[header] = String(value)
  }
  const bodyFields = new Set(http.bodyFields ?? [])
  const body: Record<string, unknown> = {}
  const query = new URLSearchParams()
  for (const [field, value] of Object.entries(request)) {
    if (used.has(field) || value === undefined) continue
    if (bodyFields.has(field)) body[field] = value
    else if (Array.isArray(value)) for (const item of value) query.append(field, String(item))
    else query.append(field, String(value))
  }
  const qs = query.toString()
  const hasBody = http.method !== 'GET' && (bodyFields.size > 0 || Object.keys(body).length > 0)
  return { method: http.method, path: qs === '' ? path : `${path}?${qs}`, body: hasBody ? JSON.stringify(body) : null, headers }
}

export function createHttpAdminClient (options: HttpAdminClientOptions): HttpAdminClient {
  const base = new URL(options.url)
  const agent = new https.Agent({ ca: options.ca, cert: options.cert, key: options.key, keepAlive: true, minVersion: 'TLSv1.2' })
  const timeoutMs = options.timeoutMs ?? 15_000

  function requestOptions (call: HttpCall, accept: string): https.RequestOptions {
    const headers: Record<string, string> = { accept, 'x-request-id': randomUUID(), ...call.headers }
    if (call.body !== null) headers['content-type'] = 'application/json'
    if (options.approvalToken !== undefined) headers['x-admin-approval'] = options.approvalToken
    return { host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port, path: call.path, method: call.method, agent, headers, servername: 'localhost' }
  }

  function readAll (res: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      res.on('error', reject)
    })
  }

  function send (call: HttpCall): Promise<{ status: number, text: string, headers: IncomingMessage['headers'] }> {
    return new Promise((resolve, reject) => {
      const req = https.request(requestOptions(call, 'application/json'), (res) => {
        readAll(res).then(text => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }), reject)
      })
      req.setTimeout(timeoutMs, () => req.destroy(Errors.backendTimeout(`gateway ${base.host} did not answer within ${timeoutMs} ms`)))
      req.on('error', reject)
      req.end(call.body ?? undefined)
    })
  }

  /** the gateway's error envelope as a SwitchyardError with its own code and status (it may be newer than this client) */
  function gatewayError (status: number, text: string): SwitchyardError {
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch {
      return BadGatewayResponse(`gateway answered ${status} with a body that is not JSON`, { details: { status } })
    }
    return envelopeError(status, parsed) ?? BadGatewayResponse(`gateway answered ${status} without the error envelope`, { details: { status } })
  }

  async function * events (request: RequestOf<'StreamEvents'>, streamOptions: EventStreamOptions = {}): AsyncGenerator<AdminEventT> {
    const { signal } = streamOptions
    if (signal?.aborted === true) return
    const idleTimeoutMs = streamOptions.idleTimeoutMs ?? 45_000
    const req = https.request(requestOptions(toHttpCall('StreamEvents', request as Record<string, unknown>), 'text/event-stream'))
    const onAbort = (): void => { req.destroy() }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        req.on('response', resolve)
        req.on('error', reject)
        req.setTimeout(idleTimeoutMs, () => req.destroy(Errors.backendTimeout(`gateway ${base.host} sent nothing for ${idleTimeoutMs} ms`)))
        req.end()
      })
      const status = res.statusCode ?? 0
      if (status !== 200) throw gatewayError(status, await readAll(res))
      // a chunk's messages at once: one suspension per chunk read, not one per message
      for await (const messages of parseSseChunks(res)) {
        for (const message of messages) {
          if (message.event === 'error') {
            let envelope: unknown
            try { envelope = JSON.parse(message.data) } catch { envelope = null }
            throw envelopeError(status, envelope) ?? BadGatewayResponse('the event stream ended with an error event without the error envelope')
          }
          let event: AdminEventT
          try { event = JSON.parse(message.data) as AdminEventT } catch {
            throw BadGatewayResponse(`event ${message.id ?? ''} of the stream is not JSON`)
          }
          yield event
        }
      }
    } catch (err) {
      // the caller ended the stream: the destroyed request's error is not a failure
      if (isAborted(signal)) return
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
      req.destroy()
    }
  }

  async function * artifact (request: RequestOf<'GetJobArtifact'>): AsyncGenerator<Buffer> {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = https.request(requestOptions(toHttpCall('GetJobArtifact', request as Record<string, unknown>), '*/*'), resolve)
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from the gateway within ${timeoutMs} ms`)))
      req.on('error', reject)
      req.end()
    })
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw gatewayError(res.statusCode ?? 0, await readAll(res))
    for await (const piece of res) yield piece as Buffer
  }

  return {
    artifact,
    async call (name, request) {
      const { status, text, headers } = await send(toHttpCall(name, request as Record<string, unknown>))
      if (status < 200 || status >= 300) throw gatewayError(status, text)
      // A download route answers the file itself; its other fields travel in headers.
      if ((HTTP_ROUTES[name] as HttpBinding).download === true) return downloadResponse(text, headers) as ResponseOf<typeof name>
      try {
        return (text === '' ? {} : JSON.parse(text)) as ResponseOf<typeof name>
      } catch {
        throw BadGatewayResponse(`gateway answered ${status} with a body that is not JSON`, { details: { status } })
      }
    },
    events,
    close () { agent.destroy() }
  }
}

function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function envelopeError (status: number, parsed: unknown): SwitchyardError | null {
  const error = (parsed as { error?: { code?: string, message?: string, details?: Record<string, unknown>, requestId?: string } } | null)?.error
  if (typeof error?.code !== 'string') return null
  return new SwitchyardError(error.code, status, error.message ?? `gateway answered ${status}`, { details: { ...(error.details ?? {}), requestId: error.requestId } })
}

function downloadResponse (body: string, headers: IncomingMessage['headers']): { contentType: string, body: string, filename?: string, count?: number } {
  const filename = /filename="([^"]*)"/.exec(headers['content-disposition'] ?? '')?.[1]
  const count = Number(headers[DOWNLOAD_COUNT_HEADER])
  return {
    contentType: headers['content-type'] ?? 'application/octet-stream',
    body,
    ...(filename === undefined ? {} : { filename }),
    ...(headers[DOWNLOAD_COUNT_HEADER] !== undefined && Number.isSafeInteger(count) ? { count } : {})
  }
}
