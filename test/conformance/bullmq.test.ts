import { randomBytes } from 'node:crypto'
import t from 'tap'
import { runBackendConformance } from '@switchyard/core/testing'
import { createBullMQBackend, type BullMQBackend } from '@switchyard/backend-bullmq'

// The shared conformance suite against real Redis, on BullMQ queues under a prefix
// of its own per backend, deleted afterwards. The scan bound (scanLimit, 10 000 by
// default) is set lower so the listing case that goes one task past the declared bound
// enqueues 1 001 tasks rather than 10 001: the bound's behaviour is the same at any value.
const SCAN_LIMIT = 1_000

const prefixes = new WeakMap<object, string>()

runBackendConformance(t, {
  name: 'bullmq',
  async create () {
    const prefix = `sytest${randomBytes(5).toString('hex')}`
    const backend = createBullMQBackend({ prefix, scanLimit: SCAN_LIMIT })
    await backend.init()
    prefixes.set(backend, prefix)
    return backend
  },
  async connectPeer (backend) {
    const peer = createBullMQBackend({ prefix: prefixes.get(backend) as string, scanLimit: SCAN_LIMIT })
    await peer.init()
    return peer
  },
  async destroy (backend) {
    await (backend as BullMQBackend).destroyAllData()
    await backend.close()
  }
})
