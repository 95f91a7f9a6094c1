import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

export const REDIS_URL = process.env.SWITCHYARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** a token no concurrent run will pick; every key a run creates contains it */
export function freshToken (): string {
  return `bench${randomBytes(5).toString('hex')}`
}

export function connectRedis (): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 3, connectTimeout: 10_000, commandTimeout: 60_000, lazyConnect: true })
}

/** Deletes every key containing `token` (SCAN + UNLINK, so Redis never blocks on a big keyspace). */
export async function deleteKeysContaining (token: string): Promise<number> {
  if (!/^[a-z0-9]+$/.test(token)) throw new Error(`refusing to delete keys by an unsafe token "${token}"`)
  const redis = connectRedis()
  await redis.connect()
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${token}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return deleted
}

export async function assertRedisReachable (): Promise<void> {
  const redis = connectRedis()
  try {
    await redis.connect()
    await redis.ping()
  } catch (err) {
    throw new Error(`Redis at ${REDIS_URL} is not reachable (${(err as Error).message}); start it or set SWITCHYARD_BENCH_REDIS_URL`)
  } finally {
    redis.disconnect()
  }
}

/** Redis's own CPU seconds (user + system) so far, from INFO cpu */
export async function redisCpuSeconds (): Promise<number> {
  const redis = connectRedis()
  try {
    await redis.connect()
    const info = await redis.info('cpu')
    let seconds = 0
    for (const m of info.matchAll(/^used_cpu_(?:user|sys):([\d.]+)/gm)) seconds += Number(m[1])
    return seconds
  } finally {
    redis.disconnect()
  }
}
