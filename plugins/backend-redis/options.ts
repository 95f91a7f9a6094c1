import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { Errors } from '@switchyard/core'

const HostPort = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 })
}, { additionalProperties: false })

export const RedisBackendOptionsSchema = Type.Object({
  url: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379', description: 'redis:// or rediss:// URL' }),
  prefix: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^{}]+$', default: 'sy:', description: 'key prefix; keys are {prefix}... so one hash slot holds them all' }),
  tls: Type.Optional(Type.Object({
    ca: Type.Optional(Type.String()),
    cert: Type.Optional(Type.String()),
    key: Type.Optional(Type.String()),
    servername: Type.Optional(Type.String())
  }, { additionalProperties: false })),
  sentinels: Type.Optional(Type.Array(HostPort, { minItems: 1, maxItems: 32 })),
  sentinelName: Type.Optional(Type.String({ minLength: 1 })),
  cluster: Type.Optional(Type.Object({
    nodes: Type.Array(HostPort, { minItems: 1, maxItems: 64 })
  }, { additionalProperties: false })),
  commandTimeoutMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 5000 }),
  maxEvents: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 10_000 }),
  maxAudit: Type.Integer({ minimum: 100, maximum: 10_000_000, default: 10_000 }),
  allowEvictingMemoryPolicy: Type.Boolean({ default: false, description: 'accept a maxmemory-policy that can evict keys (tasks could vanish)' })
}, { additionalProperties: false })

export type RedisBackendOptions = Static<typeof RedisBackendOptionsSchema>
/** What callers pass: every field with a default may be left out. */
export type RedisBackendInput = Partial<RedisBackendOptions>

/** Fills defaults and validates; throws VALIDATION_FAILED naming the first bad field. */
export function resolveOptions (input: RedisBackendInput = {}): RedisBackendOptions {
  const value = Value.Default(RedisBackendOptionsSchema, structuredClone(input ?? {}))
  const first = Value.Errors(RedisBackendOptionsSchema, value)[0]
  if (first !== undefined) {
    const field = first.instancePath === '' ? 'options' : `options${first.instancePath.replaceAll('/', '.')}`
    throw Errors.validation(`${field}: ${first.message}`, { details: { field } })
  }
  const options = value as RedisBackendOptions
  if (options.sentinels !== undefined && options.sentinelName === undefined) {
    throw Errors.validation('options.sentinelName: required with options.sentinels', { details: { field: 'options.sentinelName' } })
  }
  return options
}
