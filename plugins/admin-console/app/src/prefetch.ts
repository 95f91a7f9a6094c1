// Answers requested before the app asked for them. The boot module (main.tsx) sends the
// session and the current page's first requests (page-requests.ts) while the app's
// script is still loading; `send` (api.ts) takes a matching answer once instead of
// asking again. An answer not taken soon is dropped (the page asked for something else).

const KEEP_MS = 10_000
const MAX_ENTRIES = 16

interface Entry { at: number, response: Promise<Response> }
const pending = new Map<string, Entry>()

/** the GET request the console sends for url (the same headers and credentials as send) */
export function getRequest (url: string, timeoutMs: number): Promise<Response> {
  return fetch(url, { method: 'GET', headers: { accept: 'application/json' }, credentials: 'same-origin', signal: AbortSignal.timeout(timeoutMs) })
}

/** sends GET url now (or when `after` settles) and keeps the answer for a `send` of the same url */
export function prefetch (url: string, timeoutMs: number, after?: Promise<unknown>): Promise<unknown> {
  if (pending.size >= MAX_ENTRIES || pending.has(url)) return Promise.resolve()
  const response = after === undefined ? getRequest(url, timeoutMs) : after.then(() => getRequest(url, timeoutMs), () => getRequest(url, timeoutMs))
  // an answer nobody takes must not surface as an unhandled rejection
  response.catch(() => {})
  pending.set(url, { at: Date.now(), response })
  return response
}

/** the prefetched answer of GET url, once; undefined when there is none (or it is too old) */
export function takePrefetched (url: string): Promise<Response> | undefined {
  const now = Date.now()
  for (const [key, entry] of pending) if (now - entry.at > KEEP_MS) pending.delete(key)
  const entry = pending.get(url)
  if (entry === undefined) return undefined
  pending.delete(url)
  return entry.response
}
