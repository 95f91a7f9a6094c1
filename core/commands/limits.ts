// Flow limit commands: `limits list`, `limits set <kind> <name>`, `limits clear <kind> <name>`.
// The limits live in the backend: a change reaches every worker's next lease.
import { FLOW_CONCURRENCY_MAX, FLOW_RATE_MAX, FLOW_SCOPE_KINDS_V1, FLOW_WINDOW_MS_MAX, type FlowLimitViewT } from '../contract/messages.ts'
import { emit, table } from './format.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'
import { duration, optionalInteger, str } from './values.ts'
import { withAdmin } from './with-admin.ts'

type Kind = (typeof FLOW_SCOPE_KINDS_V1)[number]

function kindOf (raw: string): Kind {
  if (!(FLOW_SCOPE_KINDS_V1 as readonly string[]).includes(raw)) throw new UsageError(`kind: "${raw}" is not one of ${FLOW_SCOPE_KINDS_V1.join(', ')}`)
  return raw as Kind
}

function describe (l: FlowLimitViewT): string {
  const parts: string[] = []
  if (l.concurrency !== undefined) parts.push(`${l.concurrency} at once`)
  if (l.rateLimit !== undefined && l.rateWindowMs !== undefined) parts.push(`${l.rateLimit} per ${l.rateWindowMs}ms`)
  return parts.join(', ')
}

export function formatLimits (limits: FlowLimitViewT[]): string {
  if (limits.length === 0) return 'no flow limits'
  return table(['KIND', 'NAME', 'LIMIT', 'RUNNING', 'STARTED', 'SATURATION', 'THROTTLED'], limits.map(l => [
    l.kind, l.name, describe(l), String(l.running), String(l.started), `${Math.round(l.saturation * 100)}%${l.saturated ? ' (saturated)' : ''}`, String(l.throttled)
  ]))
}

export async function runLimitsList (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListRateLimits', {})
    emit(input, result, () => formatLimits(result.limits))
  })
}

export async function runLimitsSet (input: CommandInput): Promise<number> {
  const [rawKind, name] = input.positionals as [string, string]
  const kind = kindOf(rawKind)
  const concurrency = optionalInteger(input.values, 'concurrency', 1, FLOW_CONCURRENCY_MAX)
  const rateLimit = optionalInteger(input.values, 'rate', 1, FLOW_RATE_MAX)
  const rawWindow = str(input.values, 'per')
  if ((rateLimit === undefined) !== (rawWindow === undefined)) throw new UsageError('--rate and --per go together (e.g. --rate 5 --per 1s)')
  const rateWindowMs = rawWindow === undefined ? undefined : duration('per', rawWindow)
  if (rateWindowMs !== undefined && (rateWindowMs < 1 || rateWindowMs > FLOW_WINDOW_MS_MAX)) throw new UsageError(`--per: "${rawWindow}" must be from 1ms to 24h`)
  if (concurrency === undefined && rateLimit === undefined) throw new UsageError('set --concurrency, --rate with --per, or both')
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('SetFlowLimit', {
      kind,
      name,
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(rateLimit === undefined ? {} : { rateLimit, rateWindowMs })
    })
    emit(input, result, () => `${result.limit.kind} ${result.limit.name}: ${describe(result.limit)} (running ${result.limit.running}, started ${result.limit.started})`)
  })
}

export async function runLimitsClear (input: CommandInput): Promise<number> {
  const [rawKind, name] = input.positionals as [string, string]
  const kind = kindOf(rawKind)
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ClearFlowLimit', { kind, name })
    emit(input, result, () => result.cleared ? `${kind} ${name}: limit removed` : `${kind} ${name}: no limit was set`)
  })
}
