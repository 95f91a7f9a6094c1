// The audit-file plugin: archives every audit event as JSON lines in a directory,
// one file per UTC day, with size rotation and retention.
import { isAbsolute, resolve } from 'node:path'
import { definePlugin, PluginErrors } from '@switchyard/core/plugin'
import { AuditFileOptionsSchema } from './options.ts'
import { createFileAuditSink } from './sink.ts'
import { parseByteSize, parseDuration } from '@switchyard/core/plugin'

export default definePlugin({
  name: 'audit-file',
  version: '0.1.0',
  options: AuditFileOptionsSchema,
  register (hooks, options, ctx) {
    const configured = options.dir === undefined ? ctx.config.admin.audit.archiveDir : (isAbsolute(options.dir) ? options.dir : resolve(ctx.configDir, options.dir))
    if (configured === null) {
      throw PluginErrors.optionsInvalid('plugin "audit-file" needs a directory: set its options.dir, or admin.audit.archiveDir in the config (WORKER_ADMIN_AUDIT_ARCHIVE_DIR)', {
        details: { field: 'options.dir' }
      })
    }
    // The schema guarantees these parse; the fallbacks only satisfy the types.
    const flushIntervalMs = options.flushInterval === undefined ? ctx.config.admin.audit.archiveIntervalMs : parseDuration(options.flushInterval) ?? ctx.config.admin.audit.archiveIntervalMs
    const retentionMs = options.retention === undefined ? undefined : parseDuration(options.retention) ?? undefined
    const sink = createFileAuditSink({
      dir: configured,
      flushIntervalMs,
      maxFileBytes: parseByteSize(options.maxFileBytes) ?? 64 * 1024 * 1024,
      maxBufferedEvents: options.maxBufferedEvents,
      ...(options.retentionFiles === undefined ? {} : { retentionFiles: options.retentionFiles }),
      ...(retentionMs === undefined ? {} : { retentionMs }),
      onError: err => { ctx.log.error({ err, dir: sink.dir, buffered: sink.buffered }, 'audit archive flush failed; events stay buffered') }
    })
    hooks.registerAuditSink(sink)
    hooks.onClose(async () => {
      try {
        await sink.close()
      } catch (err) {
        // Shutdown goes on (other plugins must close too), but the loss is loud.
        ctx.log.error({ err, dir: sink.dir, lost: sink.buffered }, 'audit archive could not be flushed at shutdown')
      }
    })
  }
})
