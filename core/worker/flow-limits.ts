import { Errors } from '../errors.ts'
import { flowScopeKindsOf, type Backend } from '../backend/types.ts'
import type { ResolvedFlowLimit } from '../config/types.ts'

// The flowControl section of the config: stored in the backend when a worker process
// starts (creating or replacing those limits), where every node's lease enforces them.
// Limits set at run time for other scopes are left alone.

export async function applyFlowLimits (backend: Backend, limits: ResolvedFlowLimit[]): Promise<void> {
  if (limits.length === 0) return
  if (backend.capabilities.flowControl !== true) {
    throw Errors.unsupported(`flowControl is configured but the ${backend.name} backend has no flow control`, { details: { backend: backend.name, key: 'flowControl' } })
  }
  const kinds = flowScopeKindsOf(backend.capabilities)
  const refused = limits.find(l => !kinds.includes(l.scope.kind))
  if (refused !== undefined) {
    throw Errors.unsupported(`flowControl.${refused.scope.kind}s is configured but the ${backend.name} backend has no ${refused.scope.kind} flow limits`, { details: { backend: backend.name, key: `flowControl.${refused.scope.kind}s.${refused.scope.name}` } })
  }
  for (const limit of limits) {
    await backend.setFlowLimit(limit.scope, { concurrency: limit.concurrency, rate: limit.rate })
  }
}
