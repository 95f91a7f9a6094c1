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

export function authorize (def: RpcDefinition, ctx: CallContext, options: AdminOptions): Role {
  if (typeof ctx.actor !== 'string' || ctx.actor === '') {
    throw AdminErrors.unauthenticated('the caller has no identity (client certificate subject)')
  }
  if (ctx.grantedRole !== undefined && !Object.hasOwn(ROLE_RANK, ctx.grantedRole)) {
    throw AdminErrors.forbidden(`${ctx.actor} was given an unknown role`, { details: { actor: ctx.actor, rpc: def.name } })
  }
  const role = ctx.grantedRole ?? roleOf(options, ctx.actor)
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
