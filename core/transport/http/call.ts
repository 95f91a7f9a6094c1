import { randomUUID } from 'node:crypto'
import { defineError } from '../../errors.ts'

// What both transports need around a call: a request id they can trust in logs and
// audit records, a deadline that answers even when the service does not, and the
// codes of failures that belong to the transport rather than to the service.

export const TransportErrors = {
  /** the call did not answer within the transport's own deadline */
  deadlineExceeded: defineError('DEADLINE_EXCEEDED'),
  /** the remote admin service (WORKER_ADMIN_GRPC_TARGET) could not be reached */
  adminUnavailable: defineError('ADMIN_SERVICE_UNAVAILABLE'),
  /** an RPC of the contract that this admin service (or the remote one) does not provide */
  notImplemented: defineError('NOT_IMPLEMENTED'),
  /** the remote admin service failed without a Switchyard error code */
  upstreamFailed: defineError('UPSTREAM_FAILED'),
  payloadTooLarge: defineError('PAYLOAD_TOO_LARGE'),
  unsupportedMediaType: defineError('UNSUPPORTED_MEDIA_TYPE'),
  notFound: defineError('NOT_FOUND'),
  methodNotAllowed: defineError('METHOD_NOT_ALLOWED'),
  /** not valid HTTP, or a URL that does not decode */
  badRequest: defineError('BAD_REQUEST'),
  uriTooLong: defineError('URI_TOO_LONG'),
  requestTimeout: defineError('REQUEST_TIMEOUT'),
  headersTooLarge: defineError('HEADERS_TOO_LARGE')
} as const

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** the caller's request id when it is a sane token, else a fresh one (ids end up in logs and audit records) */
export function requestIdFrom (value: unknown): string {
  const given = Array.isArray(value) ? value[0] : value
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
}

/** RPCs of the table the service has no method for (a newer contract than the service); they answer NOT_IMPLEMENTED */
export function unimplementedRpcs (service: object, names: readonly string[]): string[] {
  return names.filter(name => typeof (service as Record<string, unknown>)[name] !== 'function')
}

/** the default bound on one admin call, above the service's own backend timeouts */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000

/**
 * answers DEADLINE_EXCEEDED when `work` has not settled within `timeoutMs`. One promise
 * settled by whichever comes first (not Promise.race over a second timeout promise):
 * this wraps every admin call, and the race allocated about twice as much per call.
 */
export function withCallDeadline<T> (work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(TransportErrors.deadlineExceeded(`${what} did not answer within ${timeoutMs} ms`, { details: { timeoutMs } })), timeoutMs)
    work.then(
      (value) => { clearTimeout(timer); resolve(value) },
      (err: unknown) => { clearTimeout(timer); reject(err) }
    )
  })
}
