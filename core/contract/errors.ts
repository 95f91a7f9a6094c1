import { defineError, isSwitchyardError } from '../errors.ts'

// One error envelope for both transports: the HTTP gateway answers with the status
// below, the gRPC server with the matching gRPC status and the same code string in
// the `x-switchyard-error-code` metadata, so a client sees the same failure however
// it called.

/** gRPC status codes (numeric values from the gRPC spec), named so the table reads plainly. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16
} as const

/** metadata key that carries the error code string on gRPC failures */
export const ERROR_CODE_METADATA_KEY = 'x-switchyard-error-code'
/** metadata key that carries the JSON-encoded error details on gRPC failures */
export const ERROR_DETAILS_METADATA_KEY = 'x-switchyard-error-details'

// Codes owned by the admin contract. Codes shared with the rest of the platform live
// in core/errors.ts (Errors.*).
export const AdminErrors = {
  unauthenticated: defineError('UNAUTHENTICATED', 401),
  forbidden: defineError('FORBIDDEN', 403),
  readOnly: defineError('READ_ONLY', 403),
  dlqEntryNotFound: defineError('DLQ_ENTRY_NOT_FOUND', 404),
  approvalRequired: defineError('APPROVAL_REQUIRED', 412),
  guardrailExceeded: defineError('GUARDRAIL_EXCEEDED', 429),
  auditUnavailable: defineError('AUDIT_UNAVAILABLE', 503),
  internal: defineError('INTERNAL', 500)
} as const

export interface ErrorStatus {
  http: number
  grpc: number
}

/** error code → transport statuses; codes not listed fall back to the error's own HTTP status */
export const ERROR_STATUS: Readonly<Record<string, ErrorStatus>> = {
  VALIDATION_FAILED: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  FORBIDDEN: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  READ_ONLY: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  QUEUE_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  TASK_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  DLQ_ENTRY_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  CONFLICT: { http: 409, grpc: GrpcStatus.ABORTED },
  LEASE_LOST: { http: 409, grpc: GrpcStatus.ABORTED },
  APPROVAL_REQUIRED: { http: 412, grpc: GrpcStatus.FAILED_PRECONDITION },
  GUARDRAIL_EXCEEDED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
  UNSUPPORTED_BY_BACKEND: { http: 501, grpc: GrpcStatus.UNIMPLEMENTED },
  BACKEND_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  BACKEND_TIMEOUT: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  AUDIT_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE }
}

const GRPC_FOR_HTTP: Readonly<Record<number, number>> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  409: GrpcStatus.ABORTED,
  412: GrpcStatus.FAILED_PRECONDITION,
  429: GrpcStatus.RESOURCE_EXHAUSTED,
  501: GrpcStatus.UNIMPLEMENTED,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.DEADLINE_EXCEEDED
}

export interface ErrorEnvelope {
  error: {
    code: string
    message: string
    requestId: string
    details: Record<string, unknown>
  }
}

/** the statuses a code travels with; unknown codes use the HTTP status they were raised with */
export function statusForCode (code: string, fallbackHttp = 500): ErrorStatus {
  const known = ERROR_STATUS[code]
  if (known !== undefined) return known
  return { http: fallbackHttp, grpc: GRPC_FOR_HTTP[fallbackHttp] ?? GrpcStatus.INTERNAL }
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
