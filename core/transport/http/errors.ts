import { STATUS_CODES } from 'node:http'
import { Errors, isSwitchyardError, type SwitchyardError } from '../../errors.ts'
import { statusForError, toErrorEnvelope, type ErrorEnvelope } from '../../contract/errors.ts'
import { TransportErrors } from './call.ts'

// Every failure the gateway answers, whoever raised it (the service, Fastify's body
// parsing, the router, Node's HTTP parser), leaves as the one error envelope with the
// registry's status. The request's URL is never echoed: it can be long or hostile.

export interface HttpFailure {
  status: number
  envelope: ErrorEnvelope
  /** not a SwitchyardError: worth a log line, its message is not shown to the caller */
  unexpected: boolean
}

interface FastifyLikeError {
  code?: unknown
  statusCode?: unknown
  message?: unknown
}

/** Fastify's own errors (FST_ERR_*) as the SwitchyardErrors the contract names */
function fromFastifyError (err: FastifyLikeError, bodyLimitBytes: number): SwitchyardError | null {
  const code = typeof err.code === 'string' ? err.code : ''
  const status = typeof err.statusCode === 'number' ? err.statusCode : 0
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return TransportErrors.payloadTooLarge(`body: larger than the limit of ${bodyLimitBytes} bytes`, { details: { field: 'body', limitBytes: bodyLimitBytes } })
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    return TransportErrors.unsupportedMediaType('body: send JSON with Content-Type: application/json', { details: { field: 'body' } })
  }
  if (code.startsWith('FST_ERR_CTP_') || (status >= 400 && status < 500)) {
    const message = typeof err.message === 'string' ? err.message : 'bad request'
    return Errors.validation(`body: ${message}`, { details: { field: 'body', reason: code } })
  }
  return null
}

export function toHttpFailure (err: unknown, requestId: string, bodyLimitBytes: number): HttpFailure {
  const known = isSwitchyardError(err) ? err : fromFastifyError((err ?? {}) as FastifyLikeError, bodyLimitBytes)
  if (known === null) return { status: 500, envelope: toErrorEnvelope(err, requestId), unexpected: true }
  return { status: statusForError(known).http, envelope: toErrorEnvelope(known, requestId), unexpected: false }
}

/** the router's refusals before any route matched (Fastify's frameworkErrors) */
export function fromFrameworkError (err: FastifyLikeError, maxParamLength: number): SwitchyardError {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return TransportErrors.badRequest('path: not a valid URL (a percent-encoding does not decode to UTF-8)', { details: { field: 'path' } })
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return TransportErrors.uriTooLong(`path: a path segment is longer than ${maxParamLength} characters`, { details: { field: 'path', maxLength: maxParamLength } })
    default:
      return TransportErrors.badRequest('the request could not be routed', { details: { reason: typeof err.code === 'string' ? err.code : 'unknown' } })
  }
}

/** what Node's HTTP parser refused (a request that never became a request), as the contract's codes */
export function fromClientError (err: { code?: unknown }): SwitchyardError {
  switch (err.code) {
    case 'HPE_INVALID_METHOD':
      return TransportErrors.methodNotAllowed('the request method is not one HTTP defines or this gateway serves', { details: { field: 'method' } })
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return TransportErrors.requestTimeout('the request was not received in time', {})
    case 'HPE_HEADER_OVERFLOW':
      return TransportErrors.headersTooLarge('headers: larger than the gateway accepts', { details: { field: 'headers' } })
    default:
      return TransportErrors.badRequest('the request is not valid HTTP', { details: { reason: typeof err.code === 'string' ? err.code : 'unknown' } })
  }
}

/** a whole HTTP/1.1 response carrying the envelope, for a socket no request object exists for */
export function rawErrorResponse (err: SwitchyardError, requestId: string): string {
  const status = statusForError(err).http
  const body = JSON.stringify(toErrorEnvelope(err, requestId))
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'cache-control: no-store',
    'x-content-type-options: nosniff',
    'Connection: close',
    '',
    body
  ].join('\r\n')
}
