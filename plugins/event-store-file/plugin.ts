// The event-store-file plugin: job events kept in files (jobs.eventDir /
// WORKER_JOB_EVENT_DIR), so a run's history and output survive restarts and stay
// apart from the busy task event log. Options win over the jobs section.
import { isAbsolute, join, resolve } from 'node:path'
import { definePlugin, parseDuration } from '@switchyard/core/plugin'
import type { ResolvedConfig } from '@switchyard/core'
import { FileEventStoreOptionsSchema } from './options.ts'
import { createFileEventStore } from './store.ts'

interface EventSettings { eventDir?: string, eventMaxEntries?: number, eventCacheTtlMs?: number }

/** The event settings of the config's `jobs` section, when the running core has one. */
function eventSettings (config: ResolvedConfig): EventSettings {
  const jobs = (config as unknown as { jobs?: Record<string, unknown> }).jobs ?? {}
  const out: EventSettings = {}
  if (typeof jobs.eventDir === 'string' && jobs.eventDir !== '') out.eventDir = jobs.eventDir
  if (typeof jobs.eventMaxEntries === 'number') out.eventMaxEntries = jobs.eventMaxEntries
  if (typeof jobs.eventCacheTtlMs === 'number') out.eventCacheTtlMs = jobs.eventCacheTtlMs
  return out
}

export default definePlugin({
  name: 'event-store-file',
  version: '0.1.0',
  options: FileEventStoreOptionsSchema,
  register (hooks, options, ctx) {
    const settings = eventSettings(ctx.config)
    const dir = options.dir === undefined
      ? settings.eventDir ?? join(ctx.config.dataDir, 'job-events')
      : (isAbsolute(options.dir) ? options.dir : resolve(ctx.configDir, options.dir))
    // The schema guarantees the durations parse; the fallbacks only satisfy the types.
    const store = createFileEventStore({
      dir,
      maxEntries: options.maxEntries ?? settings.eventMaxEntries ?? 10_000,
      cacheTtlMs: options.cacheTtl === undefined ? settings.eventCacheTtlMs ?? 10_000 : parseDuration(options.cacheTtl) ?? 10_000,
      pollIntervalMs: options.pollInterval === undefined ? 250 : Math.max(10, parseDuration(options.pollInterval) ?? 250)
    })
    hooks.registerEventStore(store)
    hooks.onClose(async () => { await store.close() })
  }
})
