import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { isSwitchyardError } from '@switchyard/core'
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

/** What the eviction check needs of a backend built on this Redis (this plugin's or BullMQ's). */
export interface InitClose { init: () => Promise<void>, close: () => Promise<void> }

/**
 * Asserts that a backend refuses an evicting maxmemory-policy at init unless built with
 * allowEvictingMemoryPolicy. The policy is changed on the real server only for the two
 * inits and always restored; `admin` is a connection allowed to run CONFIG SET.
 */
export async function assertEvictingPolicyRefused (t: Test, admin: Redis, create: (allowEvictingMemoryPolicy: boolean) => InitClose): Promise<void> {
  const refused = create(false)
  const allowed = create(true)
  t.teardown(async () => { await refused.close(); await allowed.close() })
  let error: unknown
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  try {
    // Both inits run inside the short window the policy is changed.
    const [a, b] = await Promise.allSettled([refused.init(), allowed.init()])
    if (a.status === 'rejected') error = a.reason
    t.equal(b.status, 'fulfilled', 'allowEvictingMemoryPolicy: true accepts it')
  } finally {
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
  }
  t.ok(isSwitchyardError(error), 'refused with a SwitchyardError')
  const e = error as { code: string, message: string, details: Record<string, unknown> }
  t.equal(e.code, 'REDIS_EVICTING_MEMORY_POLICY')
  t.match(e.message, /allkeys-lru/)
  t.match(e.message, /allowEvictingMemoryPolicy/)
  t.same(e.details, { policy: 'allkeys-lru', option: 'allowEvictingMemoryPolicy' })
  await refused.init()
  t.pass('with noeviction restored the same backend initialises')
}

/**
 * A Redis server of its own for a test that changes server settings (such as the
 * eviction policy): changing the shared server would race every other test file
 * running at the same time. Started on a free port without persistence; stopped on
 * teardown; `extraArgs` are more redis-server settings. Needs `redis-server` on PATH,
 * which every machine running this suite has.
 */
export async function startPrivateRedis (t: Test, extraArgs: string[] = []): Promise<string> {
  const { spawn } = await import('node:child_process')
  const { createServer } = await import('node:net')
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: 'ignore' })
  const exited = new Promise<void>(resolve => server.once('exit', () => { resolve() }))
  t.teardown(async () => { server.kill('SIGTERM'); await exited })
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    try {
      await client.connect()
      await client.ping()
      await client.quit()
      return url
    } catch (err) {
      client.disconnect()
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start: ${String(err)}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
}
