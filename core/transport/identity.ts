import type { PeerCertificate, TLSSocket } from 'node:tls'
import { AdminErrors } from '../contract/errors.ts'

// The caller of the admin API is whoever holds the verified client certificate. Its
// identity is the first URI SAN (SPIFFE-style workload ids), else the first DNS SAN,
// else the first email SAN, else the subject CN. A caller without a verified
// certificate has no identity and is refused: an audit log never says "unknown".

const SAN_PREFERENCE = ['URI', 'DNS', 'email'] as const
const MAX_IDENTITY_LENGTH = 256

/**
 * Splits Node's `subjectaltname` string ("DNS:a, URI:b, email:c"). Since the fix for
 * CVE-2021-44532 Node quotes a value that contains a separator as a JSON string
 * (`URI:"http://a, b"`), so a naive split on ", " could be fooled by a crafted name.
 */
export function parseSubjectAltNames (text: string): Array<{ type: string, value: string }> {
  const names: Array<{ type: string, value: string }> = []
  let i = 0
  while (i < text.length) {
    const colon = text.indexOf(':', i)
    if (colon === -1) break
    const type = text.slice(i, colon).trim()
    let value: string
    let next: number
    if (text[colon + 1] === '"') {
      let end = colon + 2
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string
      } catch {
        // A malformed quoted value cannot be trusted as an identity; stop here.
        break
      }
      next = text.indexOf(', ', end + 1)
    } else {
      next = text.indexOf(', ', colon + 1)
      value = text.slice(colon + 1, next === -1 ? undefined : next)
    }
    names.push({ type, value })
    if (next === -1) break
    i = next + 2
  }
  return names
}

function firstString (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** the identity named by a certificate, or null when it names nothing usable */
export function identityFromCertificate (cert: PeerCertificate | undefined | null): string | null {
  if (cert === undefined || cert === null || Object.keys(cert).length === 0) return null
  const sans = typeof cert.subjectaltname === 'string' ? parseSubjectAltNames(cert.subjectaltname) : []
  for (const type of SAN_PREFERENCE) {
    const found = sans.find(name => name.type === type && name.value !== '')
    if (found !== undefined) return found.value.slice(0, MAX_IDENTITY_LENGTH)
  }
  const commonName = firstString(cert.subject?.CN as string | string[] | undefined)
  return commonName === undefined || commonName === '' ? null : commonName.slice(0, MAX_IDENTITY_LENGTH)
}

/** the identity of a verified certificate; UNAUTHENTICATED when there is none */
export function requireIdentity (cert: PeerCertificate | undefined | null, verified: boolean): string {
  const identity = verified ? identityFromCertificate(cert) : null
  if (identity === null) {
    throw AdminErrors.unauthenticated('a verified client certificate is required (mutual TLS)')
  }
  return identity
}

/** the caller identity of a TLS connection (the gateway's listener) */
export function identityOfSocket (socket: TLSSocket): string {
  const verified = socket.authorized
  return requireIdentity(verified ? socket.getPeerCertificate() : null, verified)
}

const connectionIdentities = new WeakMap<TLSSocket, string>()

/**
 * identityOfSocket, worked out once per connection: getPeerCertificate() builds the
 * whole certificate object on every call, the largest per-request cost of a keep-alive
 * client. Renegotiation is turned off first (TLS 1.3 has none; a TLS 1.2 client could
 * otherwise present another certificate on the same socket), so the certificate cannot
 * change under the remembered identity. A refusal is never remembered.
 */
export function connectionIdentity (socket: TLSSocket): string {
  const known = connectionIdentities.get(socket)
  if (known !== undefined) return known
  socket.disableRenegotiation()
  const identity = identityOfSocket(socket)
  connectionIdentities.set(socket, identity)
  return identity
}
