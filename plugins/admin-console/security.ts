import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'

// Browser-facing rules: the headers on every answer, cookies, and the same-origin
// check mutations must pass besides the CSRF token.

/** no inline script or style, nothing framed, nothing loaded from elsewhere */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join('; ')

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()'
}

export const CSRF_HEADER = 'x-csrf-token'

export interface CookieNames {
  session: string
  login: string
}

/** `__Host-` cookies are bound to this origin by the browser; the prefix needs Secure, so plain HTTP goes without */
export function cookieNames (secure: boolean): CookieNames {
  return secure ? { session: '__Host-switchyard-session', login: '__Host-switchyard-login' } : { session: 'switchyard-session', login: 'switchyard-login' }
}

export function readCookie (headers: IncomingHttpHeaders, name: string): string | undefined {
  const header = headers.cookie
  if (typeof header !== 'string') return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim()
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined
    }
  }
  return undefined
}

export function cookie (name: string, value: string, options: { secure: boolean, maxAgeSeconds?: number }): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict']
  if (options.secure) parts.push('Secure')
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`)
  return parts.join('; ')
}

function headerText (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return typeof text === 'string' && text !== '' ? text : undefined
}

/**
 * The origin the browser sees this console at: the scheme of this listener (or the
 * one a trusted proxy reports) and the Host the request was sent to.
 */
export function expectedOrigin (request: FastifyRequest, secure: boolean, fromTrustedProxy: boolean): string | null {
  const forwardedHost = fromTrustedProxy ? headerText(request.headers, 'x-forwarded-host') : undefined
  const forwardedProto = fromTrustedProxy ? headerText(request.headers, 'x-forwarded-proto') : undefined
  const host = forwardedHost ?? headerText(request.headers, 'host')
  if (host === undefined || !/^[A-Za-z0-9.:[\]-]{1,300}$/.test(host)) return null
  const scheme = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : secure ? 'https' : 'http'
  return `${scheme}://${host.toLowerCase()}`
}

/** the Origin header matches the console's own origin (a missing Origin does not) */
export function sameOrigin (request: FastifyRequest, secure: boolean, fromTrustedProxy: boolean): boolean {
  const origin = headerText(request.headers, 'origin')
  const expected = expectedOrigin(request, secure, fromTrustedProxy)
  return origin !== undefined && expected !== null && origin.toLowerCase() === expected
}
