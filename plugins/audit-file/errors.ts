import { defineError } from 'switchyard'

export const AuditFileErrors = {
  /** appending to the archive failed; the events stay buffered for the next flush */
  writeFailed: defineError('AUDIT_ARCHIVE_WRITE_FAILED', 500),
  /** the buffer is full and could not be flushed; the event was not accepted */
  bufferFull: defineError('AUDIT_ARCHIVE_BUFFER_FULL', 503),
  closed: defineError('AUDIT_ARCHIVE_CLOSED', 503)
} as const
