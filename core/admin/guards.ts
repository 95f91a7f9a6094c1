import { timingSafeEqual, createHash } from 'node:crypto'
import { defineError } from '../errors.ts'
import { AdminErrors } from '../contract/errors.ts'
import { ROLE_RANK, type Role, type RpcDefinition } from '../contract/rpcs.ts'
import type { AdminOptions, CallContext } from './types.ts'

// Guards run inside the service so gRPC and HTTP callers meet the same rules, in
// this order: who is calling (403), read-only (403), approval (412); then the request
// is validated (400) and capped (429); only then does anything touch the backend.

export const AdminOptionsInvalid = defineError('ADMIN_OPTIONS_INVALID')

export function assertAdminOptions (options: AdminOptions): void {
  if (options.requireApproval && (options.approvalToken === undefined || options.approvalToken === '')) {
    throw AdminOptionsInvalid('approval is required but no approval token is configured (WORKER_ADMIN_APPROVAL_TOKEN)', { details: { field: 'approvalToken' } })
  }
  const positive: Array<keyof AdminOptions> = ['requestTimeoutMs', 'replayLimitMax', 'replayIdsMax', 'auditExportLimitMax', 'auditEventLimit']
  for (const field of positive) {
    const value = options[field]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw AdminOptionsInvalid(`${field}: must be a positive integer`, { details: { field } })
    }
  }
  const reuse = options.readReuseMs
  if (reuse !== undefined && (!Number.isInteger(reuse) || reuse < 0)) {
    throw AdminOptionsInvalid('readReuseMs: must be an integer of 0 or more (milliseconds)', { details: { field: 'readReuseMs' } })
  }
}

export function roleOf (options: AdminOptions, actor: string): Role | null {
  if (options.roles === undefined || options.roles === null) return 'admin'
  return Object.hasOwn(options.roles, actor) ? (options.roles[actor] ?? null) : null
}

function isRole (value: string): value is Role {
  return Object.hasOwn(ROLE_RANK, value)
}

function lowest (roles: Role[]): Role {
  return roles.reduce((low, role) => ROLE_RANK[role] < ROLE_RANK[low] ? role : low)
}

/**
 * The role a call runs with. An in-process front end's grantedRole replaces the
 * admin.roles lookup (it authenticated the person itself). A trusted gateway's
 * forwardedRole (its console session's role) only lowers: the call gets the lowest of
 * that role, the gateway's own admin.roles role and, when admin.roles lists the
 * forwarded person, theirs; a gateway admin.roles does not list grants nothing. So a
 * console viewer stays a viewer on the remote service, and no gateway can hand out
 * more than it holds itself. Without a claim, the actor's admin.roles entry decides.
 * Throws FORBIDDEN for a claim that names no role; null: no role at all.
 */
export function effectiveRole (ctx: CallContext, options: AdminOptions, rpc: string): Role | null {
  if (ctx.grantedRole !== undefined) {
    if (!isRole(ctx.grantedRole)) throw AdminErrors.forbidden(`${ctx.actor} was given an unknown role`, { details: { actor: ctx.actor, rpc } })
    return ctx.grantedRole
  }
  const claimed = ctx.forwardedRole
  if (claimed === undefined) return roleOf(options, ctx.actor)
  if (!isRole(claimed)) {
    throw AdminErrors.forbidden(`${ctx.via ?? ctx.actor} forwarded the role "${claimed.slice(0, 32)}" for ${ctx.actor}, which is not one of ${Object.keys(ROLE_RANK).join(', ')}`, { details: { actor: ctx.actor, rpc, field: 'x-forwarded-role' } })
  }
  const gatewayRole = roleOf(options, ctx.via ?? ctx.actor)
  if (gatewayRole === null) return null
  const caps: Role[] = [claimed, gatewayRole]
  const listed = options.roles !== undefined && options.roles !== null && Object.hasOwn(options.roles, ctx.actor) ? options.roles[ctx.actor] : undefined
  if (listed !== undefined) caps.push(listed)
  return lowest(caps)
}

export function authorize (def: RpcDefinition, ctx: CallContext, options: AdminOptions): Role {
  if (typeof ctx.actor !== 'string' || ctx.actor === '') {
    throw AdminErrors.unauthenticated('the caller has no identity (client certificate subject)')
  }
  const role = effectiveRole(ctx, options, def.name)
  if (role === null && ctx.forwardedRole !== undefined && ctx.via !== undefined && roleOf(options, ctx.via) === null) {
    throw AdminErrors.forbidden(`${ctx.via} forwards ${ctx.actor} with a role but has no admin.roles entry itself: a gateway grants at most its own role`, { details: { actor: ctx.actor, via: ctx.via, rpc: def.name } })
  }
  if (role === null) {
    throw AdminErrors.forbidden(`${ctx.actor} is not allowed to use the admin API`, { details: { actor: ctx.actor, rpc: def.name } })
  }
  if (ROLE_RANK[role] < ROLE_RANK[def.minRole]) {
    throw AdminErrors.forbidden(`${def.name} needs role ${def.minRole}; ${ctx.actor} has role ${role}`, { details: { actor: ctx.actor, role, required: def.minRole, rpc: def.name } })
  }
  return role
}

export function assertWritable (def: RpcDefinition, options: AdminOptions): void {
  if (def.kind === 'mutation' && options.readOnly) {
    throw AdminErrors.readOnly(`${def.name} refused: the admin API is in read-only mode`, { details: { rpc: def.name } })
  }
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export function assertApproved (def: RpcDefinition, ctx: CallContext, options: AdminOptions): void {
  if (def.kind !== 'mutation' || !options.requireApproval) return
  const given = ctx.approvalToken
  // Compare digests so the comparison takes the same time whatever the length.
  const ok = typeof given === 'string' && given !== '' && timingSafeEqual(digest(given), digest(options.approvalToken ?? ''))
  if (!ok) {
    throw AdminErrors.approvalRequired(`${def.name} needs approval: send the approval token (X-Admin-Approval)`, { details: { rpc: def.name } })
  }
}

export function assertCap (requested: number, max: number, field: string, env: string): void {
  if (requested > max) {
    throw AdminErrors.guardrailExceeded(`${field}: ${requested} exceeds the limit of ${max} set by ${env}`, { details: { field, requested, max, env } })
  }
}
