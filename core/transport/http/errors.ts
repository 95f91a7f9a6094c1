import { Errors, isSwitchyardError, type SwitchyardError } from '../../errors.ts'
import { statusForError, toErrorEnvelope, type ErrorEnvelope } from '../../contract/errors.ts'
import { TransportErrors } from './call.ts'

// Every failure the gateway answers, whoever raised it (the service, Fastify's body
// parsing, the router), leaves as the one error envelope with the table's status.

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
