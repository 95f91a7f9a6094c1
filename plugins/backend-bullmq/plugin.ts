// The backend-bullmq plugin: Switchyard queues stored as BullMQ queues.
import { definePlugin } from '@switchyard/core/plugin'
import { createBullMQBackend } from './index.ts'
import { BullMQBackendOptionsSchema } from './options.ts'

export default definePlugin({
  name: 'backend-bullmq',
  version: '0.1.0',
  options: BullMQBackendOptionsSchema,
  register (hooks, options) {
    hooks.registerBackend('bullmq', () => createBullMQBackend(options))
  }
})
