import { Type, type Static } from 'typebox'

// Options of the BullMQ backend. The prefix defaults to BullMQ's own ("bull") so the
// queues of existing BullMQ applications on the same Redis are visible as they are.
export const BullMQBackendOptionsSchema = Type.Object({
  url: Type.Optional(Type.String({ default: 'redis://127.0.0.1:6379', description: 'Redis URL (redis:// or rediss://)' })),
  prefix: Type.Optional(Type.String({ default: 'bull', minLength: 1, pattern: '^[^:]+$', description: 'BullMQ key prefix; must not contain ":"' })),
  queues: Type.Optional(Type.Array(Type.String({ minLength: 1, pattern: '^[^:]+$' }), { maxItems: 1000, description: 'existing BullMQ queue names to adopt' })),
  commandTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000, description: 'bound on every Redis command' })),
  maxEvents: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000, description: 'event log entries kept for SSE replay' })),
  maxAudit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000, description: 'audit events kept' })),
  scanLimit: Type.Optional(Type.Integer({ minimum: 100, maximum: 1_000_000, default: 10_000, description: 'jobs examined per structure by filtered lists and DLQ stats by handler' })),
  allowEvictingMemoryPolicy: Type.Optional(Type.Boolean({ default: false, description: 'accept a maxmemory-policy that can evict keys (jobs could vanish)' })),
  connection: Type.Optional(Type.Object({
    tls: Type.Optional(Type.Object({
      ca: Type.Optional(Type.String({ description: 'PEM CA bundle' })),
      cert: Type.Optional(Type.String({ description: 'PEM client certificate' })),
      key: Type.Optional(Type.String({ description: 'PEM client key' })),
      servername: Type.Optional(Type.String()),
      rejectUnauthorized: Type.Optional(Type.Boolean({ default: true }))
    }, { additionalProperties: false })),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    db: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type BullMQBackendOptions = Static<typeof BullMQBackendOptionsSchema>

export interface ResolvedOptions {
  url: string
  prefix: string
  queues: string[]
  commandTimeoutMs: number
  maxEvents: number
  maxAudit: number
  scanLimit: number
  allowEvictingMemoryPolicy: boolean
  connection: NonNullable<BullMQBackendOptions['connection']>
}
