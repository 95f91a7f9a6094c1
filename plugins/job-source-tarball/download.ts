// Downloads a tarball over HTTPS into a file, hashing it on the way. Every hop (the
// first URL and each redirect) passes the URL rules, then its host is resolved here
// and every address checked; the connection goes to the address that was checked
// (a `lookup` that answers only that address), so a DNS answer that changes between
// the check and the connect cannot move the request elsewhere. TLS still verifies
// the certificate against the hostname (SNI and Host are the URL's).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { createWriteStream } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import type { IncomingMessage } from 'node:http'
import { isIP, type LookupFunction } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { addressProblem, normalizeAddress } from './address.ts'
import { TarballErrors } from './errors.ts'
import { ByteCap, HashingCounter } from './streams.ts'
import { checkTarballUrl, redact, type CheckedUrl, type HostAllowlist } from './url-rules.ts'

/** resolves a hostname to all its addresses (node:dns lookup by default) */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>

export interface DownloadOptions {
  allowlist: HostAllowlist
  /** development only: connect to loopback/private/link-local addresses too */
  allowPrivateAddresses: boolean
  /** exact non-public addresses that may still be reached (an internal mirror), normalized by normalizeAddress */
  allowAddresses?: ReadonlySet<string>
  /** PEM certificates trusted beside the system's (a private CA, a test CA) */
  ca?: string[]
  maxBytes: number
  timeoutMs: number
  maxRedirects: number
  resolve?: Resolver
}

export interface Downloaded {
  bytes: number
  /** hex SHA-256 of the body */
  sha256: string
  /** the URL the body came from, after redirects */
  finalUrl: string
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
const USER_AGENT = 'switchyard-job-source-tarball/0.1.0'
/** DNS gets part of the time budget, not all of it; the overall timer still applies */
const RESOLVE_TIMEOUT_MS = 10_000

const systemResolver: Resolver = async hostname => await new Promise((resolve, reject) => {
  dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => { err === null ? resolve(addresses) : reject(err) })
})

/** Resolves and checks the addresses of a host; returns the one to connect to. */
async function pinAddress (target: CheckedUrl, options: DownloadOptions, signal: AbortSignal): Promise<LookupAddress> {
  let addresses: LookupAddress[]
  const literal = isIP(target.host)
  if (literal !== 0) {
    addresses = [{ address: target.host, family: literal }]
  } else {
    const resolve = options.resolve ?? systemResolver
    try {
      addresses = await withSignal(resolve(target.host), signal, RESOLVE_TIMEOUT_MS)
    } catch (err) {
      if (signal.aborted) throw err
      throw TarballErrors.failed(`host "${target.host}" could not be resolved: ${(err as Error).message}`, { cause: err })
    }
  }
  if (addresses.length === 0) throw TarballErrors.failed(`host "${target.host}" resolved to no address`)
  if (!options.allowPrivateAddresses) {
    // All of them, not just the first: a host with one public and one internal
    // address is refused rather than trusted to answer with the right one.
    for (const { address } of addresses) {
      const problem = addressProblem(address)
      if (problem !== null && options.allowAddresses?.has(normalizeAddress(address)) !== true) {
        throw TarballErrors.refused(`host "${target.host}" resolves to ${address}, a ${problem} address; tarballs are fetched from public addresses only`)
      }
    }
  }
  return addresses[0] as LookupAddress
}

async function withSignal<T> (promise: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
        onAbort = () => reject(signal.reason)
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort, { once: true })
      })
    ])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/** a lookup that answers only the pinned address, in both the single and the `all` form */
function pinnedLookup (pinned: LookupAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all === true) callback(null, [pinned])
    else callback(null, pinned.address, pinned.family)
  }) as unknown as LookupFunction
}

async function get (target: CheckedUrl, pinned: LookupAddress, options: DownloadOptions, signal: AbortSignal): Promise<IncomingMessage> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest({
      protocol: 'https:',
      hostname: target.host,
      port: target.port,
      path: `${target.url.pathname}${target.url.search}`,
      method: 'GET',
      headers: { 'user-agent': USER_AGENT, accept: '*/*', 'accept-encoding': 'identity' },
      // A fresh connection per hop: no pooled socket to an address checked for another host.
      agent: false,
      lookup: pinnedLookup(pinned),
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      signal
    }, resolve)
    req.on('error', reject)
    req.end()
  })
}

/**
 * Fetches `rawUrl` into `destFile` (created, never overwritten). The body is capped at
 * maxBytes while it streams, the whole exchange at timeoutMs, and `signal` (the run's
 * budget) aborts it too. Throws a JOB_SOURCE_* error; a partial file may be left for
 * the caller to remove.
 */
export async function downloadTarball (rawUrl: string, destFile: string, options: DownloadOptions, signal: AbortSignal): Promise<Downloaded> {
  const timer = new AbortController()
  const timeout = setTimeout(() => timer.abort(TarballErrors.timeout(`tarball download took longer than ${options.timeoutMs} ms`)), options.timeoutMs)
  const combined = AbortSignal.any([signal, timer.signal])
  try {
    let target = checkTarballUrl(rawUrl, options.allowlist, 'tarballUrl')
    for (let hop = 0; ; hop++) {
      const pinned = await pinAddress(target, options, combined)
      const res = await get(target, pinned, options, combined)
      const status = res.statusCode ?? 0
      if (REDIRECT_STATUSES.has(status)) {
        res.destroy()
        const location = res.headers.location
        if (location === undefined) throw TarballErrors.failed(`${redact(target.url)} answered ${status} without a Location`)
        if (hop >= options.maxRedirects) throw TarballErrors.refused(`tarballUrl redirected more than ${options.maxRedirects} times`)
        target = checkTarballUrl(new URL(location, target.url).href, options.allowlist, `redirect from ${redact(target.url)} to`)
        continue
      }
      if (status !== 200) {
        res.destroy()
        const fail = status === 404 || status === 410 ? TarballErrors.notFound : TarballErrors.failed
        throw fail(`${redact(target.url)} answered HTTP ${status}`, { details: { status } })
      }
      const declared = Number(res.headers['content-length'])
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        res.destroy()
        throw TarballErrors.tooLarge(`${redact(target.url)} is ${declared} bytes, over the ${options.maxBytes}-byte tarball cap (WORKER_JOB_TARBALL_MAX_BYTES)`)
      }
      const counter = new HashingCounter()
      const cap = new ByteCap(options.maxBytes, () => TarballErrors.tooLarge(`${redact(target.url)} sent more than the ${options.maxBytes}-byte tarball cap (WORKER_JOB_TARBALL_MAX_BYTES)`))
      await pipeline(res, cap, counter, createWriteStream(destFile, { flags: 'wx', mode: 0o600 }), { signal: combined })
      return { bytes: counter.bytes, sha256: counter.digest(), finalUrl: redact(target.url) }
    }
  } catch (err) {
    throw translate(err, combined, timer.signal)
  } finally {
    clearTimeout(timeout)
  }
}

/** aborts become the abort's reason (a timeout error) and network errors JOB_SOURCE_FAILED */
function translate (err: unknown, combined: AbortSignal, timer: AbortSignal): unknown {
  if (TarballErrors.refused.is(err) || TarballErrors.tooLarge.is(err) || TarballErrors.notFound.is(err) || TarballErrors.failed.is(err) || TarballErrors.timeout.is(err)) return err
  if (combined.aborted) {
    if (timer.aborted) return timer.reason
    return TarballErrors.timeout('tarball download was aborted (the run ran out of time or was canceled)', { cause: err })
  }
  return TarballErrors.failed(`tarball download failed: ${(err as Error).message}`, { cause: err })
}
