import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { RedisClient } from './connection.ts'
import { RedisBackend } from './backend.ts'
import { resolveOptions, type RedisBackendInput } from './options.ts'

// Helpers for tests and tooling against a real Redis: random prefixes so concurrent
// runs never collide, and prefix deletion so runs leave nothing behind.

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

export function randomPrefix (label = 'test'): string {
  return `sy:${label}:${randomBytes(6).toString('hex')}:`
}

/** Deletes every key that starts with `base` (SCAN, never KEYS), in bounded batches. */
export async function deleteKeys (client: RedisClient | Redis, base: string): Promise<number> {
  // Glob-escape so a prefix with *, ? or [ matches only itself.
  const pattern = base.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + '*'
  let cursor = '0'
  let removed = 0
  do {
    const [next, keys] = await (client as Redis).scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) removed += await (client as Redis).unlink(...keys)
  } while (cursor !== '0')
  return removed
}

/** An initialised backend on a fresh random prefix; `destroy` deletes its keys and closes it. */
export async function openTestBackend (options: RedisBackendInput = {}): Promise<{ backend: RedisBackend, destroy: () => Promise<void> }> {
  const backend = new RedisBackend(resolveOptions({ url: TEST_REDIS_URL, prefix: randomPrefix(), ...options }))
  await backend.init()
  return {
    backend,
    destroy: async () => {
      await backend.close()
      // A connection of its own: the test may have closed or broken the backend's.
      const cleaner = new Redis(TEST_REDIS_URL)
      try { await deleteKeys(cleaner, backend.keys.base) } finally { await cleaner.quit() }
    }
  }
}
