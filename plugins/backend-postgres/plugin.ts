// The backend-postgres plugin: registers a Postgres backend (a server through pg, or
// embedded PGlite) with the platform. Relative data dirs are relative to the config file.
import { isAbsolute, resolve } from 'node:path'
import { definePlugin } from '@switchyard/core/plugin'
import { createPostgresBackend } from './backend.ts'
import { PostgresBackendOptionsSchema } from './options.ts'

export default definePlugin({
  name: 'backend-postgres',
  version: '0.1.0',
  options: PostgresBackendOptionsSchema,
  register (hooks, options, ctx) {
    const dataDir = options.embedded?.dataDir
    const embedded = options.embedded === undefined
      ? undefined
      : { ...options.embedded, ...(dataDir !== undefined && !dataDir.startsWith('memory://') && !isAbsolute(dataDir) ? { dataDir: resolve(ctx.configDir, dataDir) } : {}) }
    hooks.registerBackend('postgres', () => createPostgresBackend({ ...options, ...(embedded === undefined ? {} : { embedded }) }))
  }
})
