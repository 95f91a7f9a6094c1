// An AdminService over the HTTPS gateway, for the CLI and scripts: the inverse of the
// gateway's routing, generated from the same RPC table, so every unary RPC is
// callable by name with the same request and response shapes as in-process.
import https from 'node:https'
import { randomUUID } from 'node:crypto'
import { SwitchyardError, Errors, defineError } from '../errors.ts'
import { RPCS, type RequestOf, type ResponseOf, type RpcName, type StreamRpcName } from '../contract/rpcs.ts'

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

export interface HttpAdminClient {
  call<N extends UnaryRpcName> (name: N, request: RequestOf<N>): Promise<ResponseOf<N>>
  close (): void
}

interface HttpCall {
  method: string
  path: string
  body: string | null
  headers: Record<string, string>
}

/** Splits a request into path, query, body and headers the way the gateway reads them. */
export function toHttpCall (name: UnaryRpcName, request: Record<string, unknown>): HttpCall {
  const { http } = RPCS[name]
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

  function send (call: HttpCall): Promise<{ status: number, text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': randomUUID(), ...call.headers }
      if (call.body !== null) headers['content-type'] = 'application/json'
      if (options.approvalToken !== undefined) headers['x-admin-approval'] = options.approvalToken
      const req = https.request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port, path: call.path, method: call.method, agent, headers, servername: 'localhost' }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.setTimeout(timeoutMs, () => req.destroy(Errors.backendTimeout(`gateway ${base.host} did not answer within ${timeoutMs} ms`)))
      req.on('error', reject)
      req.end(call.body ?? undefined)
    })
  }

  return {
    async call (name, request) {
      const { status, text } = await send(toHttpCall(name, request as Record<string, unknown>))
      let parsed: unknown
      try { parsed = text === '' ? {} : JSON.parse(text) } catch {
        throw BadGatewayResponse(`gateway answered ${status} with a body that is not JSON`, { details: { status } })
      }
      if (status >= 200 && status < 300) return parsed as ResponseOf<typeof name>
      const error = (parsed as { error?: { code?: string, message?: string, details?: Record<string, unknown>, requestId?: string } }).error
      if (typeof error?.code !== 'string') throw BadGatewayResponse(`gateway answered ${status} without the error envelope`, { details: { status } })
      // The gateway's own code and status, as it answered them (it may be newer than this client).
      throw new SwitchyardError(error.code, status, error.message ?? `gateway answered ${status}`, { details: { ...(error.details ?? {}), requestId: error.requestId } })
    },
    close () { agent.destroy() }
  }
}
