// Runs the backend conformance suite against the real Redis at REDIS_URL (default
// 127.0.0.1:6379): every area gets its own random key prefix, deleted afterwards.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { runBackendConformance } from '@switchyard/core/testing'
import { createRedisBackend, RedisBackend } from '@switchyard/backend-redis'
import { deleteKeys } from '../../plugins/backend-redis/testing.ts'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefixes = new WeakMap<object, string>()

runBackendConformance(t, {
  name: 'redis',
  async create () {
    const prefix = `sy:test:${randomBytes(6).toString('hex')}:`
    const backend = createRedisBackend({ url, prefix })
    prefixes.set(backend, prefix)
    await backend.init()
    return backend
  },
  async connectPeer (backend) {
    const peer = createRedisBackend({ url, prefix: prefixes.get(backend)! })
    await peer.init()
    return peer
  },
  async destroy (backend) {
    const redis = backend as RedisBackend
    try {
      await deleteKeys(redis.redis, redis.keys.base)
    } finally {
      await backend.close()
    }
  }
})
