import { defineError } from '@switchyard/core'

export const AuditFileErrors = {
  /** appending to the archive failed; the events stay buffered for the next flush */
  writeFailed: defineError('AUDIT_ARCHIVE_WRITE_FAILED'),
  /** the buffer is full and could not be flushed; the event was not accepted */
  bufferFull: defineError('AUDIT_ARCHIVE_BUFFER_FULL'),
  closed: defineError('AUDIT_ARCHIVE_CLOSED')
} as const
