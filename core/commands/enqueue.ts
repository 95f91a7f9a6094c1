// `switchyard enqueue <handler>`: EnqueueTask. The warnings of the answer (e.g. no
// live worker runs the handler) go to stderr, so stdout stays the answer.
import type { RequestOf } from '../contract/rpcs.ts'
import { emit } from './format.ts'
import { readPayload, setPayload } from './payload.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'
import { IDEMPOTENCY_MODES, PARENT_FAILURE_POLICIES } from '../backend/types.ts'
import { idList, oneOf, optionalDuration, optionalInteger, str, time } from './values.ts'
import { withAdmin } from './with-admin.ts'

const DELAY_MAX_MS = 365 * 86_400_000
const TIMEOUT_MAX_MS = 7 * 86_400_000

export async function buildEnqueueRequest (input: CommandInput): Promise<RequestOf<'EnqueueTask'>> {
  const { values } = input
  const request: RequestOf<'EnqueueTask'> = { handler: input.positionals[0] as string }
  const payload = str(values, 'payload')
  if (payload !== undefined) setPayload(request, await readPayload(payload, input.io.stdin))
  const queue = str(values, 'queue')
  if (queue !== undefined) request.queue = queue
  const key = str(values, 'key')
  if (key !== undefined) request.idempotencyKey = key
  const mode = str(values, 'idempotency-mode')
  if (mode !== undefined) {
    request.idempotencyMode = oneOf('idempotency-mode', mode, IDEMPOTENCY_MODES)
    if (key === undefined && request.idempotencyMode !== 'reject') throw new UsageError(`--idempotency-mode ${mode}: needs --key`)
  }
  const tenant = str(values, 'tenant')
  if (tenant !== undefined) request.tenant = tenant
  const correlationId = str(values, 'correlation-id')
  if (correlationId !== undefined) request.correlationId = correlationId
  const delayMs = optionalDuration(values, 'delay')
  if (delayMs !== undefined) request.delayMs = atMost('delay', delayMs, DELAY_MAX_MS, '365d')
  const runAt = str(values, 'run-at')
  if (runAt !== undefined) request.runAt = time('run-at', runAt)
  const timeoutMs = optionalDuration(values, 'timeout')
  if (timeoutMs !== undefined) {
    if (timeoutMs === 0) throw new UsageError('--timeout: must be longer than 0')
    request.timeoutMs = atMost('timeout', timeoutMs, TIMEOUT_MAX_MS, '7d')
  }
  const priority = optionalInteger(values, 'priority', -1000, 1000)
  if (priority !== undefined) request.priority = priority
  const maxAttempts = optionalInteger(values, 'max-attempts', 1, 1000)
  if (maxAttempts !== undefined) request.maxAttempts = maxAttempts
  const dependsOn = str(values, 'depends-on')
  const policy = str(values, 'on-parent-failure')
  if (policy !== undefined && dependsOn === undefined) throw new UsageError('--on-parent-failure: only with --depends-on')
  if (dependsOn !== undefined) {
    const ids = idList('depends-on', dependsOn)
    request.dependsOn = { ids, ...(policy === undefined ? {} : { onParentFailure: oneOf('on-parent-failure', policy, PARENT_FAILURE_POLICIES) }) }
  }
  return request
}

function atMost (flag: string, ms: number, max: number, spelled: string): number {
  if (ms > max) throw new UsageError(`--${flag}: at most ${spelled}`)
  return ms
}

export async function runEnqueue (input: CommandInput): Promise<number> {
  const request = await buildEnqueueRequest(input)
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('EnqueueTask', request)
    emit(input, result, () => result.created
      ? `enqueued ${result.id} in queue ${result.queue}`
      : result.outcome === 'replaced'
        ? `replaced task ${result.id} in queue ${result.queue} (it had not started)`
        : `not enqueued: idempotency key matched existing task ${result.id} in queue ${result.queue}${result.state === undefined ? '' : ` (${result.state}: too late to replace)`}`)
    for (const warning of result.warnings ?? []) input.io.stderr.write(`warning: ${warning}\n`)
  })
}
