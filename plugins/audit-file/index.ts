// @switchyard/audit-file: Switchyard's audit events archived as JSONL files with rotation and retention.
export { FileAuditSink, createFileAuditSink, SINK_NAME, type FileAuditSinkOptions } from './sink.ts'
export { AuditFileOptionsSchema, type AuditFileOptions } from './options.ts'
export { AuditFileErrors } from './errors.ts'
export { archiveFileName, listArchiveFiles, utcDay, type ArchiveFile } from './files.ts'
export { default } from './plugin.ts'
