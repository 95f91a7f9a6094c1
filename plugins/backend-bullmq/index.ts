import { Value } from 'typebox/value'
import { Errors } from '@switchyard/core'
import { BullMQBackend } from './backend.ts'
import { BullMQBackendOptionsSchema, type BullMQBackendOptions, type ResolvedOptions } from './options.ts'

export { BullMQBackend } from './backend.ts'
export { BullMQBackendOptionsSchema, type BullMQBackendOptions } from './options.ts'

/** Validates the options (errors name the key) and builds the backend; call init() before use. */
export function createBullMQBackend (options: BullMQBackendOptions = {}): BullMQBackend {
  if (!Value.Check(BullMQBackendOptionsSchema, options)) {
    const [first] = Value.Errors(BullMQBackendOptionsSchema, options)
    const path = first?.instancePath ?? ''
    const field = path === '' ? 'options' : `options${path.replace(/\//g, '.')}`
    throw Errors.validation(`${field}: ${first?.message ?? 'invalid'}`, { details: { field } })
  }
  const resolved: ResolvedOptions = {
    url: options.url ?? 'redis://127.0.0.1:6379',
    prefix: options.prefix ?? 'bull',
    queues: options.queues ?? [],
    commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
    maxEvents: options.maxEvents ?? 100_000,
    maxAudit: options.maxAudit ?? 100_000,
    scanLimit: options.scanLimit ?? 10_000,
    allowEvictingMemoryPolicy: options.allowEvictingMemoryPolicy ?? false,
    connection: options.connection ?? {}
  }
  return new BullMQBackend(resolved)
}
export { default } from './plugin.ts'
