import { Type, type Static } from 'typebox'
import { DURATION_PATTERN } from '@switchyard/core/plugin'

function Duration (description: string) {
  return Type.Optional(Type.Union([Type.String({ pattern: DURATION_PATTERN }), Type.Integer({ minimum: 0 })], {
    description: `${description} (e.g. 500ms, 10s, or milliseconds)`
  }))
}

export const FileEventStoreOptionsSchema = Type.Object({
  dir: Type.Optional(Type.String({
    minLength: 1,
    description: 'Directory of the event files; relative to the config file. Default: jobs.eventDir (WORKER_JOB_EVENT_DIR), else <dataDir>/job-events'
  })),
  maxEntries: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Events kept; older ones are trimmed. Default: jobs.eventMaxEntries (WORKER_JOB_EVENT_MAX_ENTRIES), else 10000' })),
  cacheTtl: Duration('How long a process trusts the tail it read from disk before reading it again; the writing process keeps its own tail current. Default: jobs.eventCacheTtl (WORKER_JOB_EVENT_CACHE_TTL), else 10s'),
  pollInterval: Duration('How often subscribers look for events appended by another process. Default: 250ms')
}, { additionalProperties: false })

export type FileEventStorePluginOptions = Static<typeof FileEventStoreOptionsSchema>
