// One error type for the whole platform: every failure carries a stable code that
// the admin contract, the CLI and the logs can rely on, and an HTTP status that
// the gateway maps to (gRPC maps the same code to its own status table).

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
  readonly code: string
  readonly statusCode: number
  is: (err: unknown) => err is SwitchyardError
}

/** Builds an error constructor once per code, in the style of @fastify/error. */
export function defineError (code: string, statusCode: number): ErrorFactory {
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
// (config, plugins) define them beside their code with defineError.
export const Errors = {
  validation: defineError('VALIDATION_FAILED', 400),
  queueNotFound: defineError('QUEUE_NOT_FOUND', 404),
  taskNotFound: defineError('TASK_NOT_FOUND', 404),
  conflict: defineError('CONFLICT', 409),
  leaseLost: defineError('LEASE_LOST', 409),
  unsupported: defineError('UNSUPPORTED_BY_BACKEND', 501),
  backendUnavailable: defineError('BACKEND_UNAVAILABLE', 503),
  backendTimeout: defineError('BACKEND_TIMEOUT', 503)
} as const
