// Queue commands: `queues`, `queue get`, `queue weight set|reset`, `pause`/`resume`
// (a queue, or global dequeue without one).
import type { QueueSummaryT } from '../contract/messages.ts'
import { emit, fields, table } from './format.ts'
import type { CommandInput } from './spec.ts'
import { integer } from './values.ts'
import { withAdmin } from './with-admin.ts'

export function formatQueues (queues: QueueSummaryT[]): string {
  return table(['QUEUE', 'READY', 'SCHEDULED', 'PROCESSING', 'RETRYING', 'DEAD', 'WEIGHT', 'PAUSED'], queues.map((q) => [
    q.name, String(q.ready), String(q.scheduled), String(q.processing), String(q.retrying), String(q.dead),
    `${q.weight}${q.weightOverridden ? ' (override)' : ''}`, q.paused ? 'yes' : 'no'
  ]))
}

function formatQueue (q: QueueSummaryT): string {
  return fields([
    ['queue', q.name],
    ['paused', q.paused ? 'yes' : 'no'],
    ['weight', q.weightOverridden ? `${q.weight} (override; configured ${q.defaultWeight})` : String(q.weight)],
    ['ready', q.ready],
    ['scheduled', q.scheduled],
    ['processing', q.processing],
    ['retrying', q.retrying],
    ['dead', q.dead],
    ['succeeded', q.succeeded],
    ['canceled', q.canceled],
    ['blocked', q.blocked],
    ['throttled', q.throttled]
  ])
}

export async function runQueues (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListQueues', {})
    emit(input, result, () => formatQueues(result.queues))
  })
}

export async function runQueueGet (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('GetQueue', { name: input.positionals[0] as string })
    emit(input, result, () => formatQueue(result.queue) + (result.unservedHandlers.length === 0
      ? ''
      : `\nunserved:  ${result.unservedHandlers.join(', ')} (pending tasks no live worker runs)`))
  })
}

export async function runWeightSet (input: CommandInput): Promise<number> {
  const [name, raw] = input.positionals as [string, string]
  const weight = integer('weight', raw, 1, 1000)
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('UpdateQueueWeight', { name, weight })
    emit(input, result, () => `queue ${result.queue.name} weight ${result.queue.weight} (override; configured ${result.queue.defaultWeight})`)
  })
}

export async function runWeightReset (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ResetQueueWeight', { name: input.positionals[0] as string })
    emit(input, result, () => `queue ${result.queue.name} weight ${result.queue.weight} (configured)`)
  })
}

async function pauseOrResume (input: CommandInput, paused: boolean): Promise<number> {
  const queue = input.positionals[0]
  return await withAdmin(input, async (admin) => {
    if (queue === undefined) {
      const result = paused ? await admin.call('PauseDequeue', {}) : await admin.call('ResumeDequeue', {})
      emit(input, result, () => `global dequeue ${result.globalPaused ? 'paused' : 'running'}`)
    } else {
      const result = await admin.call('PauseQueue', { name: queue, paused })
      emit(input, result, () => `queue ${result.queue.name} ${result.queue.paused ? 'paused' : 'running'}`)
    }
  })
}

export async function runPause (input: CommandInput): Promise<number> {
  return await pauseOrResume(input, true)
}

export async function runResume (input: CommandInput): Promise<number> {
  return await pauseOrResume(input, false)
}
