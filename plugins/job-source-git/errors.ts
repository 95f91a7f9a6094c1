import { defineError } from '@switchyard/core'

export const GitSourceErrors = {
  /** a safety rule refused the request before git ran, or refused what git fetched */
  refused: defineError('JOB_SOURCE_REFUSED'),
  /** the tag does not exist in the repository */
  notFound: defineError('JOB_SOURCE_NOT_FOUND'),
  /** the fetch or the checkout is over the byte or file cap */
  tooLarge: defineError('JOB_SOURCE_TOO_LARGE'),
  /** git failed (network, authentication, the repository's answer) */
  failed: defineError('JOB_SOURCE_FAILED'),
  /** the time limit ran out or the run was aborted */
  timeout: defineError('JOB_SOURCE_TIMEOUT')
} as const
