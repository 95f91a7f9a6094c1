import { defineError } from '@switchyard/core'

export const TarballErrors = {
  /** a safety rule refused the source before anything of it was kept (the message names the rule and the value) */
  refused: defineError('JOB_SOURCE_REFUSED'),
  /** the server answered 404/410, or the local file does not exist */
  notFound: defineError('JOB_SOURCE_NOT_FOUND'),
  /** the archive or its unpacked content is over a cap */
  tooLarge: defineError('JOB_SOURCE_TOO_LARGE'),
  /** the network or the server failed (TLS, connection, an unexpected status) */
  failed: defineError('JOB_SOURCE_FAILED'),
  /** the download took longer than its time cap, or the run was aborted */
  timeout: defineError('JOB_SOURCE_TIMEOUT')
} as const
