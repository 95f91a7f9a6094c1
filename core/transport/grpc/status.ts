import * as grpc from '@grpc/grpc-js'
import { SwitchyardError } from '../../errors.ts'
import { AdminErrors, ERROR_CODE_METADATA_KEY, ERROR_DETAILS_METADATA_KEY, HTTP_FOR_GRPC, isErrorCode, statusForCode, statusForError, toErrorEnvelope } from '../../contract/errors.ts'
import { TransportErrors } from '../http/call.ts'

// Failures on the wire: the gRPC status from the error registry, the message as the
// status details, and the error code, details and request id as trailing metadata, so
// a gRPC client rebuilds the same SwitchyardError an in-process caller would see.

export const REQUEST_ID_METADATA_KEY = 'x-request-id'
export const APPROVAL_METADATA_KEY = 'x-admin-approval'
export const FORWARDED_IDENTITY_METADATA_KEY = 'x-forwarded-identity'
/** the role a trusted gateway's front end (the web console) gave the forwarded identity: a cap, never a raise (see admin/guards.ts effectiveRole) */
export const FORWARDED_ROLE_METADATA_KEY = 'x-forwarded-role'

/** gRPC metadata rides in HTTP/2 headers; larger details are dropped rather than break the call */
const MAX_DETAILS_METADATA_BYTES = 4096

/** JSON with everything outside printable ASCII escaped: ASCII metadata values allow nothing else */
function asciiJson (value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, char => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

export function toGrpcError (err: unknown, requestId: string): grpc.ServiceError {
  const envelope = toErrorEnvelope(err, requestId).error
  const metadata = new grpc.Metadata()
  metadata.set(ERROR_CODE_METADATA_KEY, envelope.code)
  let details = asciiJson(envelope.details)
  if (details.length > MAX_DETAILS_METADATA_BYTES) details = asciiJson({ truncated: true })
  metadata.set(ERROR_DETAILS_METADATA_KEY, details)
  metadata.set(REQUEST_ID_METADATA_KEY, requestId)
  const error = new Error(envelope.message) as grpc.ServiceError
  return Object.assign(error, { code: statusForError(err).grpc, details: envelope.message, metadata })
}

function metadataString (metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0]
  return typeof value === 'string' ? value : undefined
}

function parseDetails (text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {}
  try {
    const parsed = JSON.parse(text) as unknown
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

/**
 * The HTTP status of a code that arrived over gRPC: the registry's for a known code;
 * for a code this process does not know (a newer service), the one its gRPC status
 * stands for, so the failure keeps its kind instead of becoming a 500.
 */
export function httpStatusOfRemoteCode (code: string, grpcStatus: number | undefined): number {
  if (isErrorCode(code)) return statusForCode(code).http
  return (grpcStatus === undefined ? undefined : HTTP_FOR_GRPC[grpcStatus]) ?? statusForCode('UPSTREAM_FAILED').http
}

/** grpc-js refuses a message over grpc.max_receive_message_length before any handler runs, so no code travels with it */
const MESSAGE_TOO_LARGE = /message (that decompresses to a size )?larger than/i

/** a gRPC failure as the SwitchyardError the server raised; transport failures get transport codes */
export function fromGrpcError (err: unknown, what: string): SwitchyardError {
  const failure = err as Partial<grpc.ServiceError>
  const code = metadataString(failure.metadata, ERROR_CODE_METADATA_KEY)
  const message = typeof failure.details === 'string' && failure.details !== '' ? failure.details : (failure.message ?? 'failed')
  if (code !== undefined) {
    const details = parseDetails(metadataString(failure.metadata, ERROR_DETAILS_METADATA_KEY))
    return new SwitchyardError(code, httpStatusOfRemoteCode(code, failure.code), message, { details, cause: err })
  }
  const details = { grpcStatus: failure.code }
  if (failure.code === grpc.status.RESOURCE_EXHAUSTED && MESSAGE_TOO_LARGE.test(message)) {
    return TransportErrors.payloadTooLarge(`${what}: the request is larger than the admin service accepts (${message})`, { details: { ...details, field: 'body' }, cause: err })
  }
  switch (failure.code) {
    case grpc.status.UNAVAILABLE:
      return TransportErrors.adminUnavailable(`the admin service did not answer ${what}: ${message}`, { details, cause: err })
    case grpc.status.DEADLINE_EXCEEDED:
      return TransportErrors.deadlineExceeded(`${what} did not answer in time`, { details, cause: err })
    case grpc.status.UNIMPLEMENTED:
      return TransportErrors.notImplemented(`${what}: the admin service behind this gateway does not offer it (is it an older version?)`, { details, cause: err })
    case grpc.status.UNAUTHENTICATED:
      return AdminErrors.unauthenticated(message, { details, cause: err })
    default:
      return TransportErrors.upstreamFailed(`the admin service failed ${what}: ${message}`, { details, cause: err })
  }
}
