import { Redis, Cluster, type RedisOptions } from 'ioredis'
import { defineError, Errors, isSwitchyardError } from '@switchyard/core'
import type { RedisBackendOptions } from './options.ts'

export const EvictingMemoryPolicy = defineError('REDIS_EVICTING_MEMORY_POLICY')

export type RedisClient = Redis | Cluster

function connectionOptions (options: RedisBackendOptions): RedisOptions {
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.commandTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    // Commands issued while reconnecting wait in the offline queue; commandTimeout bounds them.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(50 * times, 1000)
  }
  if (options.tls !== undefined) base.tls = { ...options.tls }
  if (options.sentinels !== undefined) {
    base.sentinels = options.sentinels
    base.name = options.sentinelName
  }
  return base
}

/** A client for options.url (or the sentinels/cluster it names); not yet connected. */
export function createClient (options: RedisBackendOptions): RedisClient {
  const redisOptions = connectionOptions(options)
  if (options.cluster !== undefined) {
    return new Cluster(options.cluster.nodes, { lazyConnect: true, redisOptions, enableOfflineQueue: true })
  }
  if (options.sentinels !== undefined) return new Redis(redisOptions)
  return new Redis(options.url, redisOptions)
}

/**
 * A client for one worker's blocking reads (BLMPOP of its push inbox): no command
 * timeout, since a read waits as long as it asked to; the caller bounds the wait.
 */
export function createBlockingClient (options: RedisBackendOptions): RedisClient {
  const client = createClient(options)
  if (client instanceof Cluster) delete client.options.redisOptions?.commandTimeout
  else delete client.options.commandTimeout
  return client
}

/** The eviction policy of the server (CONFIG GET, or INFO where CONFIG is disabled). */
export async function readMemoryPolicy (client: RedisClient): Promise<string | null> {
  try {
    const reply = await client.config('GET', 'maxmemory-policy') as string[]
    if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1]
  } catch {
    // CONFIG is often renamed or disabled on managed Redis: INFO still reports the policy.
  }
  const info = await client.info('memory')
  const match = /^maxmemory_policy:(\S+)/m.exec(info)
  return match?.[1] ?? null
}

/** Refuses a server that may evict keys: an evicted task hash or index silently loses tasks. */
export async function assertNoEviction (client: RedisClient, allow: boolean): Promise<void> {
  const policy = await readMemoryPolicy(client)
  if (policy === null || policy === 'noeviction' || allow) return
  throw EvictingMemoryPolicy(
    `Redis maxmemory-policy is "${policy}", which can evict task keys and lose tasks; set it to "noeviction" ` +
    '(CONFIG SET maxmemory-policy noeviction) or set the backend option allowEvictingMemoryPolicy: true to accept the risk',
    { details: { policy, option: 'allowEvictingMemoryPolicy' } }
  )
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'])

/** Maps ioredis failures onto the platform's codes so callers see BACKEND_TIMEOUT / BACKEND_UNAVAILABLE. */
export function toBackendError (method: string, err: unknown): unknown {
  if (isSwitchyardError(err)) return err
  const e = err as { message?: unknown, code?: unknown, name?: unknown } | null
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (message.includes('Command timed out')) {
    return Errors.backendTimeout(`redis call ${method} did not answer in time`, { cause: err, details: { method } })
  }
  if ((typeof e?.code === 'string' && CONNECTION_CODES.has(e.code)) || message.includes('Connection is closed') ||
    e?.name === 'MaxRetriesPerRequestError') {
    return Errors.backendUnavailable(`redis call ${method} failed: ${message}`, { cause: err, details: { method } })
  }
  return err
}

/**
 * Runs `send` (calls that each send a command) with the connection's socket corked, so
 * the commands leave in one write and come back in one round trip, as a pipeline's
 * would. Unlike client.pipeline() it builds no Pipeline object: ioredis copies every
 * defined script onto each one, and after a burst of pipelines V8 allocates those
 * copies straight into the old generation, where they pile up between full collections
 * and make every young collection slower (bench/README.md, admin-reads). On a cluster,
 * or before the connection is up, the commands simply go out back to back.
 */
export function sendTogether<T> (client: RedisClient, send: () => T): T {
  const stream = client instanceof Redis && client.status === 'ready' ? client.stream : undefined
  if (stream === undefined || typeof stream.cork !== 'function') return send()
  stream.cork()
  try {
    return send()
  } finally {
    stream.uncork()
  }
}
