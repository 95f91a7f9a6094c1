import { request as httpsRequest } from 'node:https'
import { request as httpRequest } from 'node:http'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { AdminService, ResolvedConsole } from '@switchyard/core'
import { createConsoleServer, hashPassword, type ConsoleServer, type ConsoleServerOptions } from '@switchyard/admin-console'
import { ensureDevCertificates } from '../../core/transport/certs.ts'

// The console's server over a real admin service and real TLS (the development CA's
// server certificate), and a small browser: a cookie jar that sends the Origin and
// the CSRF token the way the app does.

export function consoleSettings (overrides: Partial<ResolvedConsole> = {}, auth: Partial<ResolvedConsole['auth']> = {}): ResolvedConsole {
  return {
    addr: '127.0.0.1:0',
    plain: false,
    sessionIdleMs: 60_000,
    sessionMaxAgeMs: 3_600_000,
    maxSessions: 100,
    loginAttemptsPerMinute: 100,
    readOnly: false,
    ...overrides,
    auth: {
      mode: 'password',
      users: {},
      tokens: [],
      header: { user: 'x-forwarded-user', role: null, proxies: [], roles: {}, defaultRole: 'viewer' },
      noneRole: 'admin',
      ...auth
    }
  }
}

export interface TestTls { cert: Buffer, key: Buffer, ca: Buffer }

export async function testTls (t: Test): Promise<TestTls> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-console-certs-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { paths } = await ensureDevCertificates(dir)
  return { cert: await readFile(paths.server), key: await readFile(paths.serverKey), ca: await readFile(paths.ca) }
}

/** users for password mode: name → [password, role] */
export async function passwordUsers (users: Record<string, [string, 'viewer' | 'operator' | 'admin']>): Promise<Map<string, { hash: string, role: 'viewer' | 'operator' | 'admin' }>> {
  const map = new Map<string, { hash: string, role: 'viewer' | 'operator' | 'admin' }>()
  for (const [name, [password, role]] of Object.entries(users)) map.set(name, { hash: await hashPassword(password), role })
  return map
}

export interface RunningConsole {
  server: ConsoleServer
  url: string
  browser (): Browser
}

export async function startConsole (t: Test, tls: TestTls | null, admin: AdminService, options: Partial<ConsoleServerOptions> & { settings: ResolvedConsole }): Promise<RunningConsole> {
  const server = createConsoleServer({
    admin,
    tls: tls === null ? null : { cert: tls.cert, key: tls.key },
    localUser: 'tester',
    assetsDir: join(tmpdir(), 'sy-console-no-assets'),
    info: { version: '0.1.0-test', backend: 'postgres (test)', adminReadOnly: false, approvalRequired: false },
    sseHeartbeatMs: 200,
    ...options
  })
  t.teardown(async () => { await server.close() })
  await server.listen(options.settings.addr)
  const url = server.url as string
  return { server, url, browser: () => new Browser(url, tls?.ca ?? null) }
}

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: any
}

export interface RequestOptions {
  headers?: Record<string, string>
  body?: unknown
  /** send the console's own Origin (default: on for everything but GET) */
  origin?: string | false
  csrf?: boolean
  /** raw body text with its content type */
  form?: string
  /** accept the certificate whatever Host is sent (a request with a foreign Host header) */
  anyHostName?: boolean
  /** close after the headers arrived (event streams) */
  headersOnly?: boolean
}

/** A browser's view of the console: cookies kept, Origin sent, and the session's CSRF token when asked. */
export class Browser {
  readonly cookies = new Map<string, string>()
  csrfToken: string | null = null

  constructor (readonly url: string, private readonly ca: Buffer | null) {}

  cookieHeader (): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  async request (method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const target = new URL(path, this.url)
    const headers: Record<string, string> = { ...options.headers }
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader()
    const origin = options.origin ?? (method === 'GET' ? false : this.url)
    if (origin !== false) headers.origin = origin
    if (options.csrf === true && this.csrfToken !== null) headers['x-csrf-token'] = this.csrfToken
    let payload: string | undefined
    if (options.form !== undefined) {
      payload = options.form
      headers['content-type'] = 'application/x-www-form-urlencoded'
    } else if (options.body !== undefined) {
      payload = JSON.stringify(options.body)
      headers['content-type'] = 'application/json'
    }
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload))
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise<Answer>((resolve, reject) => {
      const req = send(target, { method, headers, ...(this.ca === null ? {} : { ca: this.ca }), ...(options.anyHostName === true ? { checkServerIdentity: () => undefined } : {}), timeout: 20_000 }, res => {
        for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
          const [pair] = line.split(';')
          const eq = (pair ?? '').indexOf('=')
          const name = (pair ?? '').slice(0, eq)
          const value = (pair ?? '').slice(eq + 1)
          if (/Max-Age=0/i.test(line) || value === '') this.cookies.delete(name)
          else this.cookies.set(name, value)
        }
        if (options.headersOnly === true) {
          res.destroy()
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '', json: null })
          return
        }
        let text = ''
        res.setEncoding('utf8')
        res.on('data', chunk => { text += chunk })
        res.on('end', () => {
          let json: unknown = null
          try { json = text === '' ? null : JSON.parse(text) } catch { json = null }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
        res.on('error', reject)
      })
      req.on('timeout', () => { req.destroy(new Error(`${method} ${path} timed out`)) })
      req.on('error', reject)
      if (payload !== undefined) req.write(payload)
      req.end()
    })
  }

  /** GET /api/session, keeping its CSRF token */
  async session (): Promise<Answer> {
    const answer = await this.request('GET', '/api/session')
    if (answer.status === 200) this.csrfToken = answer.json.csrfToken
    else if (answer.json?.error?.details?.loginCsrfToken !== undefined) this.csrfToken = answer.json.error.details.loginCsrfToken
    return answer
  }

  async login (user: string, password: string): Promise<Answer> {
    await this.session()
    const answer = await this.request('POST', '/api/login', { body: { user, password }, csrf: true })
    if (answer.status === 200) this.csrfToken = answer.json.csrfToken
    return answer
  }
}

/** a concrete URL for a route pattern (:name → a harmless value) */
export function concrete (url: string): string {
  return url.replace(/:([A-Za-z]+)/g, (_match, name: string) => `sample-${name}`).replace(/\*$/, 'unknown')
}
