import { Type, type Static } from 'typebox'
import { BYTE_SIZE_PATTERN, DURATION_PATTERN } from '@switchyard/core/plugin'

function Duration (description: string) {
  return Type.Optional(Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Integer({ minimum: 1 })], {
    description: `${description} (e.g. 500ms, 5s, 7d, or milliseconds)`
  }))
}

export const AuditFileOptionsSchema = Type.Object({
  dir: Type.Optional(Type.String({
    minLength: 1,
    description: 'Directory of the archive; relative to the config file. Default: admin.audit.archiveDir (WORKER_ADMIN_AUDIT_ARCHIVE_DIR)'
  })),
  flushInterval: Duration('How often buffered events are appended to the archive. Default: admin.audit.archiveInterval'),
  maxFileBytes: Type.Union([Type.String({ pattern: BYTE_SIZE_PATTERN }), Type.Integer({ minimum: 1 })], {
    default: '64mb',
    description: 'A file that would grow beyond this is closed and the next part of the day (audit-YYYYMMDD.N.jsonl) begins'
  }),
  maxBufferedEvents: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 10_000,
    description: 'Events held in memory between flushes; when full, write() waits for a flush'
  }),
  retentionFiles: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Keep at most this many finished archive files (the file being written is not counted)' })),
  retention: Duration('Delete finished archive files last written longer ago than this')
}, { additionalProperties: false })

export type AuditFileOptions = Static<typeof AuditFileOptionsSchema>
