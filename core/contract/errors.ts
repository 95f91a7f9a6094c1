import { defineError, isSwitchyardError } from '../errors.ts'
import { ERROR_CODES, GrpcStatus, grpcForHttp, isErrorCode } from './error-codes.ts'

// One error envelope for both transports: the HTTP gateway answers with the status
// below, the gRPC server with the matching gRPC status and the same code string in
// the `x-switchyard-error-code` metadata, so a client sees the same failure however
// it called.

export { GrpcStatus, ERROR_CODES, ERROR_CODE_LIST, HTTP_FOR_GRPC, isErrorCode, type ErrorCode, type ErrorCodeSpec } from './error-codes.ts'

/** metadata key that carries the error code string on gRPC failures */
export const ERROR_CODE_METADATA_KEY = 'x-switchyard-error-code'
/** metadata key that carries the JSON-encoded error details on gRPC failures */
export const ERROR_DETAILS_METADATA_KEY = 'x-switchyard-error-details'

// Factories of the codes owned by the admin contract; those shared with the rest of
// the platform are core/errors.ts's Errors.*. Every code is declared in error-codes.ts.
export const AdminErrors = {
  unauthenticated: defineError('UNAUTHENTICATED'),
  forbidden: defineError('FORBIDDEN'),
  readOnly: defineError('READ_ONLY'),
  dlqEntryNotFound: defineError('DLQ_ENTRY_NOT_FOUND'),
  approvalRequired: defineError('APPROVAL_REQUIRED'),
  guardrailExceeded: defineError('GUARDRAIL_EXCEEDED'),
  auditUnavailable: defineError('AUDIT_UNAVAILABLE'),
  internal: defineError('INTERNAL')
} as const

export interface ErrorStatus {
  http: number
  grpc: number
}

/** error code → transport statuses, derived from the registry (core/contract/error-codes.ts) */
export const ERROR_STATUS: Readonly<Record<string, ErrorStatus>> = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, spec]) => [code, { http: spec.http, grpc: GrpcStatus[spec.grpc] }])
)

export interface ErrorEnvelope {
  error: {
    code: string
    message: string
    requestId: string
    details: Record<string, unknown>
  }
}

/** the statuses a code travels with; a code outside the registry keeps the HTTP status it was raised with */
export function statusForCode (code: string, fallbackHttp = 500): ErrorStatus {
  if (isErrorCode(code)) return ERROR_STATUS[code] as ErrorStatus
  return { http: fallbackHttp, grpc: grpcForHttp(fallbackHttp) }
}

/** statuses for any thrown value: unknown errors are INTERNAL (500) */
export function statusForError (err: unknown): ErrorStatus {
  if (isSwitchyardError(err)) return statusForCode(err.code, err.statusCode)
  return statusForCode('INTERNAL')
}

/**
 * The wire form of a failure. Only SwitchyardErrors keep their message and details:
 * anything else may carry internals (SQL, paths, stack), so it becomes a generic
 * INTERNAL and the original is left for the server log.
 */
export function toErrorEnvelope (err: unknown, requestId: string): ErrorEnvelope {
  if (isSwitchyardError(err)) {
    return { error: { code: err.code, message: err.message, requestId, details: err.details ?? {} } }
  }
  return { error: { code: 'INTERNAL', message: 'internal error', requestId, details: {} } }
}
