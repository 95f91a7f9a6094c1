import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Server } from 'node:https'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { AdminErrors, Errors, TransportErrors, hostPort, parseListenAddress, requestIdFrom, toHttpFailure, type AdminService, type ResolvedConsole } from '@switchyard/core'
import { Authenticator, isLoopbackHost, normalizeAddress, type PasswordUser } from './auth.ts'
import { ConsoleErrors } from './errors.ts'
import { registerContractRoutes } from './api.ts'
import { CSRF_HEADER, SECURITY_HEADERS, cookie, cookieNames, readCookie, sameOrigin } from './security.ts'
import { AttemptLimiter, OneTimeTokens, SessionStore, sameSecret, type Principal, type Session } from './sessions.ts'
import { createStaticHandler } from './static.ts'
import { RemoteServiceInfo, type ServiceInfo } from './service-info.ts'

// The console's own listener: the built app, and under /api/ the sign-in routes and
// every RPC of the admin contract. Every /api/ route needs a signed-in session (or the
// auth mode's credentials, which start one); every route that is not a GET also needs
// the session's CSRF token in X-CSRF-Token and an Origin equal to the console's own.

export const VIA = 'admin-console'
const DEFAULT_BODY_LIMIT = 1024 * 1024
const DEFAULT_CALL_TIMEOUT_MS = 30_000
const SIGN_IN_TOKEN_TTL_MS = 24 * 60 * 60 * 1000

export interface ConsoleInfo {
  version: string
  backend: string
  /** admin.readOnly: the service refuses mutations */
  adminReadOnly: boolean
  /** admin.requireApproval: mutations need X-Admin-Approval */
  approvalRequired: boolean
}

export interface ConsoleServerOptions {
  admin: AdminService
  settings: ResolvedConsole
  /** PEM server certificate and key; null only when settings.plain */
  tls: { cert: Buffer, key: Buffer } | null
  /** password mode's users (configured, or the generated admin) */
  passwordUsers?: ReadonlyMap<string, PasswordUser>
  /** the name of the person at the terminal (none mode and the start banner's sign-in URL) */
  localUser: string
  /** the built app (Vite's output) */
  assetsDir: string
  info: ConsoleInfo
  /**
   * host:port of the remote admin service `admin` calls (`switchyard gateway`): what
   * /api/session says it serves then comes from its GetSession, not from info
   */
  remoteTarget?: string
  log?: FastifyBaseLogger
  bodyLimitBytes?: number
  /** bound on one admin call */
  callTimeoutMs?: number
  /** SSE comment lines this often keep proxies from closing an idle stream (default 15 s) */
  sseHeartbeatMs?: number
  now?: () => number
}

export type ConsoleApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession: import('./sessions.ts').Session | null
  }
}

export interface ConsoleServer {
  readonly app: ConsoleApp
  readonly sessions: SessionStore
  /** every route registered (method and URL), so tests cover all of them without a hand-kept list */
  readonly routes: ReadonlyArray<{ method: string, url: string }>
  /** https://host:port once listening */
  readonly url: string | null
  listen (addr: string): Promise<string>
  /** a URL that signs the local user in once (the start banner prints it) */
  signInUrl (): string
  close (): Promise<void>
}

export interface SessionView {
  user: string
  role: string
  method: string
  csrfToken: string
  csrfHeader: string
  readOnly: boolean
  approvalRequired: boolean
  backend: string
  version: string
  authMode: string
  expiresAt: string
}

function headerText (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return typeof text === 'string' && text !== '' ? text : undefined
}

export function createConsoleServer (options: ConsoleServerOptions): ConsoleServer {
  const { settings, info } = options
  const secure = options.tls !== null
  if (!secure && !settings.plain) throw Errors.validation('console: a TLS certificate is required unless console.plain is set', { details: { field: 'console.plain' } })
  const now = options.now ?? Date.now
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
  const names = cookieNames(secure)
  const sessions = new SessionStore({ idleMs: settings.sessionIdleMs, maxAgeMs: settings.sessionMaxAgeMs, maxSessions: settings.maxSessions }, now)
  const tokens = new OneTimeTokens(SIGN_IN_TOKEN_TTL_MS, now)
  const loginAttempts = new AttemptLimiter(settings.loginAttemptsPerMinute, now)
  const auth = new Authenticator(settings.auth, options.passwordUsers ?? new Map(), options.localUser)
  const readOnly = settings.readOnly || info.adminReadOnly
  let url: string | null = null
  /** principal → the session its per-request credentials (Basic, bearer, proxy header, none) share */
  const credentialSessions = new Map<string, string>()

  const app = Fastify({
    ...(options.tls === null ? {} : { https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' as const } }),
    bodyLimit,
    genReqId: req => requestIdFrom(req.headers['x-request-id']),
    requestIdHeader: false,
    requestTimeout: 30_000,
    routerOptions: { maxParamLength: 256 },
    ...(options.log === undefined ? { logger: false } : { loggerInstance: options.log.child({ listener: 'console' }), logController: new LogController({ disableRequestLogging: true }) })
  }) as unknown as ConsoleApp

  app.decorateRequest('consoleSession', null)
  const routes: Array<{ method: string, url: string }> = []
  app.addHook('onRoute', route => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method !== 'HEAD') routes.push({ method, url: route.url })
    }
  })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') { done(null, undefined); return }
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(Errors.validation(`body: malformed JSON (${(err as Error).message})`, { details: { field: 'body' } }), undefined)
    }
  })
  // The login form may post as a plain HTML form would.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))))
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS)
    reply.header('x-request-id', request.id)
    if (request.url.startsWith('/api/') || request.url === '/api') reply.header('cache-control', 'no-store')
    // Without sign-in, a page on another site could reach this listener through a DNS
    // name it points at 127.0.0.1 (DNS rebinding): only loopback Host names are served.
    if (settings.auth.mode === 'none') {
      const host = headerText(request, 'host') ?? ''
      const name = host.replace(/:[0-9]+$/, '')
      if (!isLoopbackHost(name)) throw AdminErrors.forbidden('console.auth.mode none serves only loopback host names (localhost, 127.0.0.1, [::1])', { details: { field: 'host' } })
    }
  })

  app.setErrorHandler(async (err, request, reply) => {
    const failure = toHttpFailure(err, request.id, bodyLimit)
    if (failure.unexpected) request.log.error({ err }, 'console request failed')
    if (reply.sent || reply.raw.headersSent) return
    if (failure.envelope.error.code === 'CONSOLE_RATE_LIMITED') reply.header('retry-after', String(loginAttempts.retryAfterSeconds(clientAddress(request))))
    return await reply.code(failure.status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(failure.envelope)
  })

  function clientAddress (request: FastifyRequest): string {
    return normalizeAddress(request.raw.socket.remoteAddress)
  }

  function setSessionCookie (reply: FastifyReply, session: Session): void {
    reply.header('set-cookie', cookie(names.session, session.id, { secure, maxAgeSeconds: settings.sessionMaxAgeMs / 1000 }))
  }

  function startSession (reply: FastifyReply, principal: Principal): Session {
    const session = sessions.create(principal)
    setSessionCookie(reply, session)
    return session
  }

  /** the request's session (from its cookie, or started from the auth mode's credentials); 401 without either */
  async function requireSession (request: FastifyRequest, reply: FastifyReply): Promise<Session> {
    let session = sessions.touch(readCookie(request.headers, names.session))
    if (session !== null && settings.auth.mode === 'header') {
      // The proxy is the authority: its header must still name this session's user.
      const proxied = await auth.fromHeaders(request.headers, request.raw.socket.remoteAddress)
      if (proxied === null || proxied.user !== session.user) session = null
    }
    if (session === null) {
      const address = clientAddress(request)
      // Basic credentials are checked on every request of a script without cookies, so
      // only failures count against the address's sign-in attempts.
      const basicGiven = settings.auth.mode === 'password' && headerText(request, 'authorization') !== undefined
      if (basicGiven && loginAttempts.blocked(address)) {
        throw ConsoleErrors.rateLimited('too many sign-in attempts from this address; wait a minute', { details: { address } })
      }
      const principal = await auth.fromHeaders(request.headers, request.raw.socket.remoteAddress)
      if (principal === null) {
        if (basicGiven) loginAttempts.allow(address)
        throw ConsoleErrors.signInRequired(signInMessage(), { details: { authMode: settings.auth.mode } })
      }
      // Scripts without a cookie jar send their credentials on every request: they share
      // one session per principal instead of each request pushing a browser's out.
      const key = `${principal.method}\u0000${principal.user}\u0000${principal.role}`
      session = sessions.touch(credentialSessions.get(key))
      if (session === null) {
        session = sessions.create(principal)
        if (credentialSessions.size >= settings.maxSessions) credentialSessions.clear()
        credentialSessions.set(key, session.id)
      }
      setSessionCookie(reply, session)
    }
    request.consoleSession = session
    return session
  }

  function signInMessage (): string {
    switch (settings.auth.mode) {
      case 'password': return 'sign in: POST /api/login with user and password (or send HTTP Basic credentials)'
      case 'bearer': return 'sign in: send Authorization: Bearer <token>'
      case 'header': return `sign in through the proxy: it must send ${settings.auth.header.user} from one of console.auth.header.proxies`
      case 'none': return 'no session'
    }
  }

  /** non-GET routes: the session's CSRF token and the console's own Origin */
  function requireCsrf (request: FastifyRequest, expectedToken: string): void {
    const fromProxy = auth.fromProxy(request.raw.socket.remoteAddress)
    if (!sameOrigin(request, secure, fromProxy)) {
      throw ConsoleErrors.csrfRejected('refused: the Origin header is missing or is not this console\'s origin', { details: { header: 'origin' } })
    }
    const given = headerText(request, CSRF_HEADER)
    if (given === undefined || !sameSecret(given, expectedToken)) {
      throw ConsoleErrors.csrfRejected(`refused: send the session's csrfToken (GET /api/session) in the ${CSRF_HEADER} header`, { details: { header: CSRF_HEADER } })
    }
  }

  const remote = options.remoteTarget === undefined
    ? null
    : new RemoteServiceInfo({ admin: options.admin, target: options.remoteTarget, now, onError: err => options.log?.warn({ err }, `the admin service at ${options.remoteTarget ?? ''} did not answer GetSession`) })

  async function serviceInfo (session: Session, requestId: string): Promise<ServiceInfo> {
    if (remote === null) return info
    return await remote.current({ actor: session.user, via: VIA, grantedRole: session.role, requestId })
  }

  async function sessionView (session: Session, requestId: string): Promise<SessionView> {
    const service = await serviceInfo(session, requestId)
    return {
      user: session.user,
      role: session.role,
      method: session.method,
      csrfToken: session.csrfToken,
      csrfHeader: CSRF_HEADER,
      readOnly: readOnly || service.adminReadOnly,
      approvalRequired: service.approvalRequired,
      backend: service.backend,
      version: info.version,
      authMode: settings.auth.mode,
      expiresAt: new Date(sessions.expiresAt(session)).toISOString()
    }
  }

  /** the token a login form must send: the session's, or the pre-sign-in cookie's (set by a 401 of GET /api/session) */
  function loginCsrfToken (request: FastifyRequest): string | undefined {
    const session = sessions.touch(readCookie(request.headers, names.session))
    return session?.csrfToken ?? readCookie(request.headers, names.login)
  }

  app.register(async api => {
    api.get('/api/session', async (request, reply) => {
      try {
        return await sessionView(await requireSession(request, reply), request.id)
      } catch (err) {
        // A signed-out app needs a token for its login form: a cookie plus the same value in the answer.
        if (settings.auth.mode === 'password' && (err as { code?: string }).code === 'CONSOLE_SIGN_IN_REQUIRED') {
          const loginToken = readCookie(request.headers, names.login) ?? randomBytes(32).toString('base64url')
          reply.header('set-cookie', cookie(names.login, loginToken, { secure, maxAgeSeconds: 3600 }))
          throw ConsoleErrors.signInRequired(signInMessage(), { details: { authMode: settings.auth.mode, loginCsrfToken: loginToken, csrfHeader: CSRF_HEADER } })
        }
        throw err
      }
    })

    api.post('/api/login', async (request, reply) => {
      const address = clientAddress(request)
      const body = (request.body ?? {}) as Record<string, unknown>
      const user = typeof body.user === 'string' ? body.user : typeof body.username === 'string' ? body.username : undefined
      const password = typeof body.password === 'string' ? body.password : undefined
      if (settings.auth.mode !== 'password') throw ConsoleErrors.signInRequired(`console.auth.mode is ${settings.auth.mode}: ${signInMessage()}`, { details: { authMode: settings.auth.mode } })
      if (user === undefined || password === undefined || user === '') throw ConsoleErrors.signInRequired('send user and password', { details: { authMode: settings.auth.mode, field: user === undefined || user === '' ? 'user' : 'password' } })
      if (!loginAttempts.allow(address)) throw ConsoleErrors.rateLimited('too many sign-in attempts from this address; wait a minute', { details: { address } })
      const expected = loginCsrfToken(request)
      if (expected === undefined) throw ConsoleErrors.csrfRejected('refused: GET /api/session first; its answer carries the loginCsrfToken to send in X-CSRF-Token', { details: { header: CSRF_HEADER } })
      requireCsrf(request, expected)
      const principal = await auth.password(user, password, 'password')
      if (principal === null) {
        request.log.info({ user: user.slice(0, 128), address }, 'console sign-in refused')
        throw ConsoleErrors.signInRequired('wrong user name or password', { details: { authMode: settings.auth.mode } })
      }
      const previous = readCookie(request.headers, names.session)
      if (previous !== undefined) sessions.end(previous)
      const session = startSession(reply, principal)
      reply.header('set-cookie', [cookie(names.session, session.id, { secure, maxAgeSeconds: settings.sessionMaxAgeMs / 1000 }), cookie(names.login, '', { secure, maxAgeSeconds: 0 })])
      request.log.info({ user: principal.user, role: principal.role, address }, 'console sign-in')
      return await sessionView(session, request.id)
    })

    api.post('/api/logout', async (request, reply) => {
      const session = await requireSession(request, reply)
      requireCsrf(request, session.csrfToken)
      sessions.end(session.id)
      reply.header('set-cookie', cookie(names.session, '', { secure, maxAgeSeconds: 0 }))
      return { signedOut: true }
    })

    api.get('/api/login/token', async (request, reply) => {
      const address = clientAddress(request)
      const token = (request.query as Record<string, unknown>).t
      if (typeof token !== 'string' || token === '') throw ConsoleErrors.signInRequired('the sign-in link has no token', { details: { field: 't' } })
      if (!loginAttempts.allow(address)) throw ConsoleErrors.rateLimited('too many sign-in attempts from this address; wait a minute', { details: { address } })
      const principal = tokens.redeem(token)
      if (principal === null) throw ConsoleErrors.signInRequired('this sign-in link was used already or has expired; restart `switchyard start` for a new one, or sign in', { details: { field: 't' } })
      startSession(reply, principal)
      request.log.info({ user: principal.user, address }, 'console sign-in with the start link')
      return await reply.code(303).header('location', '/').send()
    })

    registerContractRoutes(api, {
      admin: options.admin,
      callTimeoutMs,
      sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000,
      readOnly,
      via: VIA,
      requireSession,
      requireCsrf: (request, session) => { requireCsrf(request, session.csrfToken) }
    })

    // Even an unknown API path answers 401 to a stranger (what exists is not told before
    // sign-in), and 403 to a cross-site mutation, like every other API route.
    api.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url: '/api/*',
      handler: async (request, reply) => {
        const session = await requireSession(request, reply)
        if (request.method !== 'GET') requireCsrf(request, session.csrfToken)
        throw TransportErrors.notFound(`no console API route ${request.method} ${request.url.split('?')[0] ?? ''}`, { details: { method: request.method } })
      }
    })
  })

  const serveStatic = createStaticHandler(options.assetsDir)
  app.setNotFoundHandler(async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw TransportErrors.notFound(`no console route ${request.method} ${request.url.split('?')[0] ?? ''}`, { details: { method: request.method } })
    }
    return await serveStatic(request, reply)
  })

  return {
    app,
    sessions,
    routes,
    get url () { return url },
    async listen (addr: string): Promise<string> {
      const { host, port } = parseListenAddress(addr, 'console.addr')
      await app.listen({ host, port })
      const bound = app.server.address()
      const boundPort = bound !== null && typeof bound === 'object' ? bound.port : port
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
      url = `${secure ? 'https' : 'http'}://${hostPort(shown, boundPort)}`
      return hostPort(host, boundPort)
    },
    signInUrl (): string {
      if (url === null) throw new Error('the console is not listening yet')
      const role = settings.auth.mode === 'none' ? settings.auth.noneRole : 'admin'
      return `${url}/api/login/token?t=${tokens.issue({ user: options.localUser, role, method: 'token' })}`
    },
    async close (): Promise<void> {
      sessions.clear()
      await app.close()
    }
  }
}
