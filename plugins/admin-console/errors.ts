import { defineError } from '@switchyard/core'

// The console's own refusals; every other failure is the admin contract's envelope, passed through.
export const ConsoleErrors = {
  /** no session and no credentials of the auth mode (401) */
  signInRequired: defineError('CONSOLE_SIGN_IN_REQUIRED'),
  /** a mutation without the session's CSRF token or from a foreign Origin (403) */
  csrfRejected: defineError('CONSOLE_CSRF_REJECTED'),
  /** too many sign-in attempts from one address (429) */
  rateLimited: defineError('CONSOLE_RATE_LIMITED'),
  /** dist-app/ is missing (503) */
  notBuilt: defineError('CONSOLE_NOT_BUILT')
} as const
