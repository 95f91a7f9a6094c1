import { Errors } from '../errors.ts'
import type { Backend } from '../backend/types.ts'
import type { ResolvedFlowLimit } from '../config/types.ts'

// The flowControl section of the config: stored in the backend when a worker process
// starts (creating or replacing those limits), where every node's lease enforces them.
// Limits set at run time for other scopes are left alone.

export async function applyFlowLimits (backend: Backend, limits: ResolvedFlowLimit[]): Promise<void> {
  if (limits.length === 0) return
  if (backend.capabilities.flowControl !== true) {
    throw Errors.unsupported(`flowControl is configured but the ${backend.name} backend has no flow control`, { details: { backend: backend.name, key: 'flowControl' } })
  }
  for (const limit of limits) {
    await backend.setFlowLimit(limit.scope, { concurrency: limit.concurrency, rate: limit.rate })
  }
}
