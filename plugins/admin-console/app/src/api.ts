// The console API client. Every admin RPC is called by its contract name: the HTTP
// binding (method, path, which fields travel in the path, body or query) comes from the
// contract's own route table, so the console sends exactly what the gateway expects,
// under the console server's /api prefix.
import { HTTP_ROUTES, type RouteName } from '../../../../core/contract/routes.ts'
import { ERROR_CODES } from '../../../../core/contract/error-codes.ts'
import { getRequest, prefetch, takePrefetched } from './prefetch.ts'

export const API_PREFIX = '/api'
export const SESSION_URL = `${API_PREFIX}/session`
const TIMEOUT_MS = 15_000

/** GET /api/session: who is signed in and what the console may offer them */
export interface Session {
  user: string
  role: 'viewer' | 'operator' | 'admin'
  /** how they signed in: password, token (the start link), bearer, header, none */
  method?: string
  csrfToken: string
  csrfHeader?: string
  readOnly: boolean
  approvalRequired: boolean
  backend?: string
  version?: string
  authMode?: string
  expiresAt?: string
  capabilities?: unknown
  [key: string]: unknown
}

/** One error as the console shows it: the contract's envelope plus a hint and a docs link. */
export class ApiError extends Error {
  constructor (
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId?: string,
    readonly details?: unknown
  ) { super(message) }

  get hint (): string { return hintFor(this.code) }
  get docsLink (): string { return `#/docs?section=error-${this.code}` }
}

const HINTS: Record<string, string> = {
  UNAUTHENTICATED: 'Your session ended: sign in again.',
  CONSOLE_SIGN_IN_REQUIRED: 'Sign in again (the session expired or was signed out).',
  CONSOLE_CSRF_REJECTED: 'Reload the page to get a fresh session token.',
  CONSOLE_RATE_LIMITED: 'Too many sign-in attempts: wait a minute.',
  FORBIDDEN: 'Your role does not allow this action; ask an admin.',
  CSRF_FAILED: 'Reload the page to get a fresh session token.',
  READ_ONLY: 'The admin API runs read-only; no changes are possible here.',
  APPROVAL_REQUIRED: 'Enter the approval token when asked (Settings shows whether approval is on).',
  VALIDATION_FAILED: 'Check the field named in the message.',
  GUARDRAIL_EXCEEDED: 'Ask for fewer items, or wait for the window to pass.',
  CONFLICT: 'The item changed meanwhile; reload it and try again.',
  UNSUPPORTED_BY_BACKEND: 'The configured backend does not offer this; Settings lists its capabilities.',
  BACKEND_UNAVAILABLE: 'The backend is not answering; the page retries on its own.',
  BACKEND_TIMEOUT: 'The backend is slow; narrow the filter or retry.',
  NETWORK: 'The console server did not answer; check that it runs.'
}

export function hintFor (code: string): string {
  if (HINTS[code] !== undefined) return HINTS[code]
  const spec = (ERROR_CODES as Record<string, { description: string } | undefined>)[code]
  return spec === undefined ? 'See the docs for this error.' : capitalize(spec.description) + '.'
}

function capitalize (s: string): string { return s.charAt(0).toUpperCase() + s.slice(1) }

type Fields = Record<string, unknown>

/** Asked for the approval token when a mutation is refused for want of it (set by the UI). */
let approvalPrompt: (() => Promise<string | null>) | null = null
let approvalToken: string | null = sessionStorage.getItem('switchyard.approval')
export function setApprovalPrompt (fn: () => Promise<string | null>): void { approvalPrompt = fn }

let csrfToken = ''
export function setCsrfToken (token: string): void { csrfToken = token }
/** Called when any call answers 401: the app goes back to the sign-in form. */
let onSignedOut: () => void = () => {}
export function setSignedOutHandler (fn: () => void): void { onSignedOut = fn }

interface Request { method: string, url: string, body?: Fields }

/** Builds the HTTP request of an RPC the way the gateway reads it. */
export function requestFor (rpc: RouteName, fields: Fields = {}): Request {
  const route = HTTP_ROUTES[rpc] as { method: string, path: string, bodyFields?: readonly string[] }
  const rest: Fields = { ...fields }
  const path = route.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = rest[name]
    delete rest[name]
    return encodeURIComponent(String(value))
  })
  const body: Fields = {}
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined || value === '' || value === null) continue
    if (route.bodyFields?.includes(key) === true) body[key] = value
    else query.set(key, String(value))
  }
  const qs = query.toString()
  const isBodyMethod = route.method !== 'GET'
  return { method: route.method, url: API_PREFIX + path + (qs === '' ? '' : `?${qs}`), ...(isBodyMethod && route.bodyFields !== undefined ? { body } : {}) }
}

export function isMutation (rpc: RouteName): boolean { return HTTP_ROUTES[rpc].method !== 'GET' }

/** Calls an admin RPC through the console API; throws ApiError with the contract's envelope. */
export async function call<T> (rpc: RouteName, fields: Fields = {}): Promise<T> {
  const req = requestFor(rpc, fields)
  try {
    return await send<T>(req, isMutation(rpc))
  } catch (err) {
    if (err instanceof ApiError && err.code === 'APPROVAL_REQUIRED' && approvalPrompt !== null) {
      const token = await approvalPrompt()
      if (token === null) throw err
      approvalToken = token
      sessionStorage.setItem('switchyard.approval', token)
      return await send<T>(req, true)
    }
    throw err
  }
}

/** A raw request to a console API path (session, login, logout). */
export async function send<T> (req: Request, mutation: boolean): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (mutation) {
    headers['x-csrf-token'] = csrfToken
    if (approvalToken !== null) headers['x-admin-approval'] = approvalToken
  }
  let body: string | undefined
  if (req.body !== undefined) { headers['content-type'] = 'application/json'; body = JSON.stringify(req.body) }
  let res: Response
  try {
    const plainGet = req.method === 'GET' && !mutation && body === undefined
    const early = plainGet ? takePrefetched(req.url) : undefined
    res = await (early ?? (plainGet ? getRequest(req.url, TIMEOUT_MS) : fetch(req.url, { method: req.method, headers, body, credentials: 'same-origin', signal: AbortSignal.timeout(TIMEOUT_MS) })))
  } catch (err) {
    throw new ApiError('NETWORK', `the console server did not answer (${err instanceof Error ? err.message : String(err)})`, 0)
  }
  const text = await res.text()
  const parsed = parseJson(text)
  if (!res.ok) {
    const env = (parsed as { error?: { code?: string, message?: string, requestId?: string, details?: unknown } } | undefined)?.error
    const error = new ApiError(env?.code ?? `HTTP_${res.status}`, env?.message ?? (text.slice(0, 200) || res.statusText), res.status, env?.requestId ?? res.headers.get('x-request-id') ?? undefined, env?.details)
    if (res.status === 401 && !req.url.endsWith('/api/login') && !req.url.endsWith('/api/session')) onSignedOut()
    throw error
  }
  return (parsed ?? text) as T
}

function parseJson (text: string): unknown {
  if (text === '') return undefined
  try { return JSON.parse(text) } catch { return undefined }
}

/** sends GET of an RPC ahead of the page that will call it (see prefetch.ts); after: wait for that first */
export function prefetchCall (rpc: RouteName, fields: Fields, after?: Promise<unknown>): Promise<unknown> {
  return prefetch(requestFor(rpc, fields).url, TIMEOUT_MS, after)
}

export function prefetchSession (): Promise<unknown> { return prefetch(SESSION_URL, TIMEOUT_MS) }

export function downloadUrl (rpc: RouteName, fields: Fields): string { return requestFor(rpc, fields).url }
