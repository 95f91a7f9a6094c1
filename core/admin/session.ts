import type { BackendCapabilities } from '../backend/types.ts'
import { ROLE_RANK, type ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext } from './context.ts'
import { effectiveRole } from './guards.ts'
import type { CallContext } from './types.ts'
import { compact } from './views.ts'

// GetSession: what a console needs before it draws anything: who the service thinks
// the caller is (after a trusted gateway named the end user), the role that decides
// which controls to show, the guards every mutation meets, and what the backend can
// do. The answer describes the serving process; the console must still treat a
// refusal of a call as the truth (roles can change between the two calls).

/** capabilities that are offered as optional backend methods rather than flags */
const OPTIONAL_METHODS = [['readEventsNewestFirst', 'eventsNewestFirst']] as const

export function capabilityNames (capabilities: BackendCapabilities, backend: object): string[] {
  const names = Object.entries(capabilities).filter(([, value]) => value === true).map(([name]) => name)
  if (capabilities.taskCount !== null && capabilities.taskCount !== undefined) names.push('taskCount')
  // the enqueue modes beyond reject, e.g. idempotencyMode.replace
  for (const mode of capabilities.idempotencyModes ?? []) names.push(`idempotencyMode.${mode}`)
  for (const [method, name] of OPTIONAL_METHODS) {
    if (typeof (backend as Record<string, unknown>)[method] === 'function') names.push(name)
  }
  return names.sort()
}

export function getSession (ctx: AdminContext, call: CallContext): ResponseOf<'GetSession'> {
  // the read wrapper has already authorised the caller, so a role exists: the one the
  // guards used (a console session's role, capped as effectiveRole says)
  const role = effectiveRole(call, ctx.options, 'GetSession') ?? 'viewer'
  return compact({
    actor: call.actor,
    via: typeof call.via === 'string' && call.via !== '' ? call.via : undefined,
    role,
    readOnly: ctx.options.readOnly,
    approvalRequired: ctx.options.requireApproval,
    canMutate: !ctx.options.readOnly && ROLE_RANK[role] >= ROLE_RANK.operator,
    backend: ctx.info.backendName,
    capabilities: capabilityNames(ctx.backend.capabilities, ctx.backend),
    taskFilters: [...ctx.backend.capabilities.taskFilters],
    version: ctx.info.version,
    commit: ctx.info.commit
  })
}
