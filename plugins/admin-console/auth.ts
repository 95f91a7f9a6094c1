import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'
import { ROLE_RANK, type ResolvedConsole, type Role } from '@switchyard/core'
import { verifyPassword } from './passwords.ts'
import { sameSecret, type Principal } from './sessions.ts'

// Who a request is by the auth mode's own credentials (a session cookie is checked
// before this, by the server): HTTP Basic in password mode, a bearer token, the
// header a trusted reverse proxy sets, or the local user when auth is none.

export type ConsoleAuth = ResolvedConsole['auth']

export interface PasswordUser {
  hash: string
  role: Role
}

const MAX_USER_LENGTH = 128
const USER_PATTERN = /^[^\x00-\x1f\x7f]{1,128}$/

/** '::ffff:127.0.0.1' and '127.0.0.1' are one address */
export function normalizeAddress (address: string | undefined): string {
  if (address === undefined) return ''
  const lower = address.toLowerCase()
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower
}

export function isLoopbackHost (host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(normalizeAddress(bare))
}

function headerText (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return typeof text === 'string' && text !== '' ? text : undefined
}

function isRole (value: string): value is Role {
  return Object.hasOwn(ROLE_RANK, value)
}

export function sha256Hex (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export class Authenticator {
  readonly #proxies: Set<string>

  constructor (
    readonly settings: ConsoleAuth,
    private readonly users: ReadonlyMap<string, PasswordUser>,
    private readonly localUser: string
  ) {
    this.#proxies = new Set(settings.header.proxies.map(normalizeAddress))
  }

  get mode (): ConsoleAuth['mode'] { return this.settings.mode }

  /** the request came from a configured reverse proxy (header mode) */
  fromProxy (remoteAddress: string | undefined): boolean {
    return this.#proxies.has(normalizeAddress(remoteAddress))
  }

  /** a user name and password (the login form, or HTTP Basic) */
  async password (user: string, password: string, method: string): Promise<Principal | null> {
    if (this.mode !== 'password' || user.length > MAX_USER_LENGTH) return null
    const known = this.users.get(user)
    // An unknown user costs a hash too, so timing does not tell which users exist.
    const ok = await verifyPassword(password, known?.hash ?? DUMMY_HASH)
    return ok && known !== undefined ? { user, role: known.role, method } : null
  }

  /** what the request's own credentials prove, if anything */
  async fromHeaders (headers: IncomingHttpHeaders, remoteAddress: string | undefined): Promise<Principal | null> {
    switch (this.mode) {
      case 'none':
        return { user: this.localUser, role: this.settings.noneRole, method: 'none' }
      case 'password': {
        const auth = headerText(headers, 'authorization')
        const match = auth === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth)
        if (match === null) return null
        const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
        const colon = decoded.indexOf(':')
        if (colon < 1) return null
        return await this.password(decoded.slice(0, colon), decoded.slice(colon + 1), 'basic')
      }
      case 'bearer': {
        const auth = headerText(headers, 'authorization')
        const match = auth === undefined ? null : /^Bearer\s+(\S{1,4096})$/i.exec(auth)
        if (match === null) return null
        const hash = sha256Hex(match[1] as string)
        let found: Principal | null = null
        // Every token is compared, so the time taken does not tell which one was close.
        for (const token of this.settings.tokens) {
          if (sameSecret(hash, token.sha256) && found === null) found = { user: token.name, role: token.role, method: 'bearer' }
        }
        return found
      }
      case 'header': {
        if (!this.fromProxy(remoteAddress)) return null
        const user = headerText(headers, this.settings.header.user)
        if (user === undefined || !USER_PATTERN.test(user)) return null
        return { user, role: this.headerRole(headers, user), method: 'header' }
      }
    }
  }

  /** header mode: the role header when it names a role, else the configured map, else the default role */
  private headerRole (headers: IncomingHttpHeaders, user: string): Role {
    const { header } = this.settings
    const claimed = header.role === null ? undefined : headerText(headers, header.role)?.trim().toLowerCase()
    if (claimed !== undefined && isRole(claimed)) return claimed
    return Object.hasOwn(header.roles, user) ? header.roles[user] as Role : header.defaultRole
  }
}

// A valid hash of a random string: verifying against it always fails, at the usual cost.
const DUMMY_HASH = 'scrypt$16384$8$1$c3dpdGNoeWFyZC1kdW1teQ==$hE3QH9tBmmLGFsmfvS9nk4i+5K0vbYtVnlObwU0ZTs8='
