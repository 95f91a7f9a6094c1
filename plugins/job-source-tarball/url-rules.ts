// The rules a tarball URL (the definition's, and every redirect's Location) must pass
// before anything is resolved or connected: HTTPS, no credentials, a host on the
// allowlist. Pure functions, so the same rules apply to the first hop and to each
// redirect.
import { isIP } from 'node:net'
import { TarballErrors } from './errors.ts'

/**
 * Hostnames tarballs may come from. Entries: an exact hostname or IP literal
 * ("downloads.example.com", "203.0.113.7"), "*.example.com" for any subdomain of
 * example.com (not example.com itself), or "*" for any host. An empty list allows
 * nothing: tarball_url jobs stay off until an operator names hosts.
 */
export class HostAllowlist {
  readonly entries: readonly string[]
  readonly #exact = new Set<string>()
  readonly #suffixes: string[] = []
  readonly #any: boolean

  constructor (entries: readonly string[]) {
    this.entries = entries.map(normalizeHost).filter(entry => entry !== '')
    for (const entry of this.entries) {
      if (entry.startsWith('*.')) this.#suffixes.push(entry.slice(1))
      else if (entry !== '*') this.#exact.add(entry)
    }
    this.#any = this.entries.includes('*')
  }

  allows (host: string): boolean {
    const name = normalizeHost(host)
    if (this.#any || this.#exact.has(name)) return true
    return isIP(name) === 0 && this.#suffixes.some(suffix => name.endsWith(suffix) && name.length > suffix.length)
  }
}

/** lower case, no trailing dot, no IPv6 brackets */
export function normalizeHost (host: string): string {
  return host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '')
}

export interface CheckedUrl {
  url: URL
  /** hostname without brackets, lower case */
  host: string
  port: number
}

const MAX_URL_LENGTH = 4096

/** Parses and checks one URL; `what` names it in errors (the definition's field or "redirect"). */
export function checkTarballUrl (raw: string, allowlist: HostAllowlist, what: string): CheckedUrl {
  if (raw.length > MAX_URL_LENGTH) throw TarballErrors.refused(`${what} is longer than ${MAX_URL_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw TarballErrors.refused(`${what} ${JSON.stringify(raw)} is not a URL`)
  }
  if (url.protocol !== 'https:') throw TarballErrors.refused(`${what} ${JSON.stringify(redact(url))} is not https (tarballs are fetched over HTTPS only)`)
  if (url.username !== '' || url.password !== '') throw TarballErrors.refused(`${what} ${JSON.stringify(redact(url))} carries credentials; they would end up in logs and run records`)
  const host = normalizeHost(url.hostname)
  if (host === '') throw TarballErrors.refused(`${what} ${JSON.stringify(raw)} has no host`)
  if (allowlist.entries.length === 0) {
    throw TarballErrors.refused(`${what} host "${host}" is not allowed: the tarball host allowlist is empty (set jobs.tarballAllowlist / WORKER_JOB_TARBALL_ALLOWLIST)`)
  }
  if (!allowlist.allows(host)) throw TarballErrors.refused(`${what} host "${host}" is not on the tarball host allowlist (WORKER_JOB_TARBALL_ALLOWLIST)`)
  url.hash = ''
  return { url, host, port: url.port === '' ? 443 : Number(url.port) }
}

/** the URL without user info, for messages */
export function redact (url: URL): string {
  const copy = new URL(url.href)
  copy.username = ''
  copy.password = ''
  return copy.href
}
