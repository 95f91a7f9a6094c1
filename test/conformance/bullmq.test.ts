import { randomBytes } from 'node:crypto'
import t from 'tap'
import { runBackendConformance } from '@switchyard/core/testing'
import { createBullMQBackend, type BullMQBackend } from '@switchyard/backend-bullmq'

// The shared conformance suite against real Redis, on BullMQ queues under a prefix
// of its own per backend, deleted afterwards.

const prefixes = new WeakMap<object, string>()

runBackendConformance(t, {
  name: 'bullmq',
  async create () {
    const prefix = `sytest${randomBytes(5).toString('hex')}`
    const backend = createBullMQBackend({ prefix })
    await backend.init()
    prefixes.set(backend, prefix)
    return backend
  },
  async connectPeer (backend) {
    const peer = createBullMQBackend({ prefix: prefixes.get(backend) as string })
    await peer.init()
    return peer
  },
  async destroy (backend) {
    await (backend as BullMQBackend).destroyAllData()
    await backend.close()
  }
})
