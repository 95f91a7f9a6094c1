import { Errors } from '../errors.ts'
import { flowScopeKindsOf, type FlowLimit, type FlowLimitState, type FlowScope, type FlowScopeKind } from '../backend/types.ts'
import type { FlowLimitViewT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import type { AdminContext, MutationResult } from './context.ts'
import { compact } from './views.ts'

// Flow control: per-queue and per-handler concurrency and rate limits. They live in
// the backend (shared by every node, enforced by its lease), so this is a thin layer:
// request → FlowLimit, FlowLimitState → view with inUse and saturation.

function requireFlowControl (ctx: AdminContext): void {
  if (ctx.backend.capabilities.flowControl !== true) {
    throw Errors.unsupported(`the ${ctx.backend.name} backend has no flow control`, { details: { backend: ctx.backend.name } })
  }
}

/** refuses a scope kind the backend does not enforce (e.g. tenant limits on a backend without them) */
function requireScopeKind (ctx: AdminContext, kind: FlowScopeKind): void {
  if (!flowScopeKindsOf(ctx.backend.capabilities).includes(kind)) {
    throw Errors.unsupported(`the ${ctx.backend.name} backend has no ${kind} flow limits`, { details: { backend: ctx.backend.name, kind } })
  }
}

/** the tightest bound's usage: running/concurrency or started/rate, whichever is fuller */
export function flowLimitView (state: FlowLimitState): FlowLimitViewT {
  const ratios: Array<[number, number]> = []
  if (state.concurrency !== null) ratios.push([state.running, state.concurrency])
  if (state.rate !== null) ratios.push([state.started, state.rate.limit])
  let inUse = 0
  let saturation = 0
  for (const [used, limit] of ratios) {
    const ratio = used / limit
    if (ratio >= saturation) { saturation = ratio; inUse = used }
  }
  return compact({
    kind: state.kind,
    name: state.name,
    concurrency: state.concurrency ?? undefined,
    rateLimit: state.rate?.limit,
    rateWindowMs: state.rate?.windowMs,
    running: state.running,
    started: state.started,
    inUse,
    saturation: Math.round(saturation * 1000) / 1000,
    saturated: state.saturated,
    throttled: state.throttled
  })
}

/** a SetFlowLimit request as a backend FlowLimit; refuses a request that bounds nothing or half a rate */
export function flowLimitOf (request: { concurrency?: number, rateLimit?: number, rateWindowMs?: number }): FlowLimit {
  if ((request.rateLimit === undefined) !== (request.rateWindowMs === undefined)) {
    const field = request.rateLimit === undefined ? 'rateLimit' : 'rateWindowMs'
    throw Errors.validation(`${field}: rateLimit and rateWindowMs go together`, { details: { field } })
  }
  if (request.concurrency === undefined && request.rateLimit === undefined) {
    throw Errors.validation('concurrency: set concurrency, rateLimit with rateWindowMs, or both', { details: { field: 'concurrency' } })
  }
  return {
    concurrency: request.concurrency ?? null,
    rate: request.rateLimit === undefined || request.rateWindowMs === undefined ? null : { limit: request.rateLimit, windowMs: request.rateWindowMs }
  }
}

const targetOf = (scope: FlowScope): string => `${scope.kind}:${scope.name}`

export async function listRateLimits (ctx: AdminContext): Promise<ResponseOf<'ListRateLimits'>> {
  requireFlowControl(ctx)
  return { limits: (await ctx.backend.listFlowLimits()).map(flowLimitView) }
}

export async function setFlowLimit (ctx: AdminContext, request: RequestOf<'SetFlowLimit'>): Promise<MutationResult<ResponseOf<'SetFlowLimit'>>> {
  const limit = flowLimitOf(request)
  requireFlowControl(ctx)
  requireScopeKind(ctx, request.kind)
  const scope: FlowScope = { kind: request.kind, name: request.name }
  await ctx.backend.setFlowLimit(scope, limit)
  const stored = (await ctx.backend.listFlowLimits()).find(l => l.kind === scope.kind && l.name === scope.name)
  const state: FlowLimitState = stored ?? { ...scope, ...limit, running: 0, started: 0, saturated: false, throttled: 0 }
  return {
    response: { limit: flowLimitView(state) },
    target: targetOf(scope),
    events: [{ type: 'queue.flow_limit_set', data: { kind: scope.kind, name: scope.name, concurrency: limit.concurrency, rate: limit.rate } }]
  }
}

export async function clearFlowLimit (ctx: AdminContext, request: RequestOf<'ClearFlowLimit'>): Promise<MutationResult<ResponseOf<'ClearFlowLimit'>>> {
  requireFlowControl(ctx)
  const scope: FlowScope = { kind: request.kind, name: request.name }
  const cleared = await ctx.backend.clearFlowLimit(scope)
  return {
    response: { cleared },
    target: targetOf(scope),
    auditResult: { cleared },
    events: cleared ? [{ type: 'queue.flow_limit_cleared', data: { kind: scope.kind, name: scope.name } }] : []
  }
}
