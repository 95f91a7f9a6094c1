import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Role } from '@switchyard/core'

// Sessions live in the console process's memory: a random id in an HttpOnly cookie,
// a CSRF token the app sends back on mutations, and two expiries (idle and absolute).
// The store is bounded: past maxSessions the least recently used session ends.

export interface Principal {
  /** who the audit log names */
  user: string
  role: Role
  /** how they signed in: password, basic, bearer, header, none, token */
  method: string
}

export interface Session extends Principal {
  id: string
  csrfToken: string
  createdAt: number
  lastSeenAt: number
}

export interface SessionLimits {
  idleMs: number
  maxAgeMs: number
  maxSessions: number
}

function randomToken (): string {
  return randomBytes(32).toString('base64url')
}

export function sameSecret (given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

export class SessionStore {
  // Map order is recency order: a touched session is moved to the end.
  readonly #sessions = new Map<string, Session>()

  constructor (private readonly limits: SessionLimits, private readonly now: () => number = Date.now) {}

  get size (): number { return this.#sessions.size }

  create (principal: Principal): Session {
    const at = this.now()
    const session: Session = { ...principal, id: randomToken(), csrfToken: randomToken(), createdAt: at, lastSeenAt: at }
    this.#sessions.set(session.id, session)
    while (this.#sessions.size > this.limits.maxSessions) {
      const oldest = this.#sessions.keys().next().value
      if (oldest === undefined) break
      this.#sessions.delete(oldest)
    }
    return session
  }

  /** the live session of this id (its idle clock restarts), or null when unknown or expired */
  touch (id: string | undefined): Session | null {
    if (id === undefined || id === '') return null
    const session = this.#sessions.get(id)
    if (session === undefined) return null
    const at = this.now()
    if (at - session.lastSeenAt > this.limits.idleMs || at - session.createdAt > this.limits.maxAgeMs) {
      this.#sessions.delete(id)
      return null
    }
    session.lastSeenAt = at
    this.#sessions.delete(id)
    this.#sessions.set(id, session)
    return session
  }

  /** when the session ends unless used again */
  expiresAt (session: Session): number {
    return Math.min(session.lastSeenAt + this.limits.idleMs, session.createdAt + this.limits.maxAgeMs)
  }

  end (id: string): void {
    this.#sessions.delete(id)
  }

  clear (): void {
    this.#sessions.clear()
  }
}

/** One-time sign-in tokens (the start banner's URL): kept as hashes, each accepted once, before it expires. */
export class OneTimeTokens {
  readonly #tokens = new Map<string, { principal: Principal, expiresAt: number }>()
  static readonly MAX = 100

  constructor (private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  issue (principal: Principal): string {
    const token = randomToken()
    if (this.#tokens.size >= OneTimeTokens.MAX) {
      const oldest = this.#tokens.keys().next().value
      if (oldest !== undefined) this.#tokens.delete(oldest)
    }
    this.#tokens.set(digest(token), { principal, expiresAt: this.now() + this.ttlMs })
    return token
  }

  redeem (token: string): Principal | null {
    const key = digest(token)
    const entry = this.#tokens.get(key)
    if (entry === undefined) return null
    this.#tokens.delete(key)
    return entry.expiresAt >= this.now() ? entry.principal : null
  }
}

function digest (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** Attempts per client address per minute, in a bounded map (the oldest windows go first when full). */
export class AttemptLimiter {
  readonly #windows = new Map<string, { startedAt: number, count: number }>()
  static readonly MAX_ADDRESSES = 10_000
  static readonly WINDOW_MS = 60_000

  constructor (private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** counts one attempt; false when the address is over its limit */
  allow (address: string): boolean {
    const at = this.now()
    let window = this.#windows.get(address)
    if (window === undefined || at - window.startedAt >= AttemptLimiter.WINDOW_MS) {
      this.#windows.delete(address)
      if (this.#windows.size >= AttemptLimiter.MAX_ADDRESSES) {
        const oldest = this.#windows.keys().next().value
        if (oldest !== undefined) this.#windows.delete(oldest)
      }
      window = { startedAt: at, count: 0 }
      this.#windows.set(address, window)
    }
    window.count++
    return window.count <= this.perMinute
  }

  /** over the limit already, without counting an attempt */
  blocked (address: string): boolean {
    const window = this.#windows.get(address)
    return window !== undefined && this.now() - window.startedAt < AttemptLimiter.WINDOW_MS && window.count >= this.perMinute
  }

  retryAfterSeconds (address: string): number {
    const window = this.#windows.get(address)
    if (window === undefined) return 0
    return Math.max(1, Math.ceil((window.startedAt + AttemptLimiter.WINDOW_MS - this.now()) / 1000))
  }
}
