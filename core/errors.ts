import { ERROR_CODES, type ErrorCode } from './contract/error-codes.ts'

// One error type for the whole platform: every failure carries a stable code that
// the admin contract, the CLI and the logs can rely on, and the HTTP status the
// registry (core/contract/error-codes.ts) declares for it, beside its gRPC status.

export interface SwitchyardErrorOptions {
  details?: Record<string, unknown>
  cause?: unknown
}

export class SwitchyardError extends Error {
  readonly code: string
  readonly statusCode: number
  readonly details: Record<string, unknown> | undefined

  constructor (code: string, statusCode: number, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SwitchyardError'
    this.code = code
    this.statusCode = statusCode
    this.details = options.details
  }
}

export type ErrorFactory = ((message: string, options?: SwitchyardErrorOptions) => SwitchyardError) & {
  readonly code: ErrorCode
  readonly statusCode: number
  is: (err: unknown) => err is SwitchyardError
}

/**
 * Builds an error constructor once per code, in the style of @fastify/error. Only a
 * code of the registry is accepted: its HTTP and gRPC statuses come from there, so a
 * new code starts with a row in core/contract/error-codes.ts.
 */
export function defineError (code: ErrorCode): ErrorFactory {
  const spec = ERROR_CODES[code]
  if (spec === undefined) throw new TypeError(`defineError: ${String(code)} is not in the error registry (core/contract/error-codes.ts)`)
  const statusCode = spec.http
  const factory = (message: string, options?: SwitchyardErrorOptions): SwitchyardError =>
    new SwitchyardError(code, statusCode, message, options)
  return Object.assign(factory, {
    code,
    statusCode,
    is: (err: unknown): err is SwitchyardError => err instanceof SwitchyardError && err.code === code
  })
}

export function isSwitchyardError (err: unknown): err is SwitchyardError {
  return err instanceof SwitchyardError
}

// Codes shared by more than one part of the platform. Parts with codes of their own
// (config, plugins) build their factories beside their code with defineError; every
// code, theirs included, is declared in the registry.
export const Errors = {
  validation: defineError('VALIDATION_FAILED'),
  queueNotFound: defineError('QUEUE_NOT_FOUND'),
  taskNotFound: defineError('TASK_NOT_FOUND'),
  conflict: defineError('CONFLICT'),
  leaseLost: defineError('LEASE_LOST'),
  unsupported: defineError('UNSUPPORTED_BY_BACKEND'),
  backendUnavailable: defineError('BACKEND_UNAVAILABLE'),
  backendTimeout: defineError('BACKEND_TIMEOUT')
} as const
