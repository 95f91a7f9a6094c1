// The backend-redis plugin: Switchyard queues in Redis, one Lua script per transition.
import { definePlugin } from '@switchyard/core/plugin'
import { createRedisBackend } from './index.ts'
import { RedisBackendOptionsSchema } from './options.ts'

export default definePlugin({
  name: 'backend-redis',
  version: '0.1.0',
  options: RedisBackendOptionsSchema,
  register (hooks, options) {
    hooks.registerBackend('redis', () => createRedisBackend(options))
  }
})
