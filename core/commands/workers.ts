// Worker commands: `workers cordon|uncordon <id>`, `workers release-leases <id>`,
// `workers sweep` (the list itself is `workers`, in observe.ts).
import type { WorkerViewT } from '../contract/messages.ts'
import type { ResponseOf } from '../contract/rpcs.ts'
import { emit, plural, table } from './format.ts'
import type { CommandInput } from './spec.ts'
import { UsageError } from './usage.ts'
import { bool, optionalDuration, optionalInteger } from './values.ts'
import { withAdmin } from './with-admin.ts'

const MAX_OLDER_THAN_MS = 30 * 24 * 3600_000

export function workerState (w: WorkerViewT): string {
  return [w.stale ? 'stale' : 'live', ...(w.cordoned ? ['cordoned'] : [])].join(', ')
}

export function formatWorkers (workers: WorkerViewT[]): string {
  return table(['ID', 'STATE', 'HOST', 'PID', 'VERSION', 'IN FLIGHT', 'QUEUES', 'HANDLERS', 'LAST HEARTBEAT'], workers.map(w => [
    w.id, workerState(w), w.host, String(w.pid), w.version, `${w.inFlight}/${w.concurrency}`, w.queues.join(',') || '(all)', w.handlers.join(','), w.lastHeartbeatAt
  ]))
}

function listIds (ids: string[], max = 10): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')}, … ${ids.length - max} more`
}

async function cordon (input: CommandInput, cordoned: boolean): Promise<number> {
  const id = input.positionals[0] as string
  return await withAdmin(input, async (admin) => {
    const result = cordoned ? await admin.call('CordonWorker', { id }) : await admin.call('UncordonWorker', { id })
    emit(input, result, () => cordoned
      ? `worker ${id} ${result.changed ? 'cordoned' : 'was already cordoned'}: it finishes what it runs and leases nothing more (from its next lease call)`
      : `worker ${id} ${result.changed ? 'uncordoned' : 'was not cordoned'}: it leases again (from its next heartbeat)`)
  })
}

export async function runWorkersCordon (input: CommandInput): Promise<number> {
  return await cordon(input, true)
}

export async function runWorkersUncordon (input: CommandInput): Promise<number> {
  return await cordon(input, false)
}

function formatRelease (r: ResponseOf<'ReleaseWorkerLeases'>): string {
  if (r.count === 0) return `worker ${r.id} holds no lease; nothing ${r.dryRun ? 'to release' : 'released'}`
  const lines = [`${r.dryRun ? 'would release' : 'released'} ${plural(r.count, 'lease')} of worker ${r.id}${r.alive ? ' (still heartbeating: forced)' : ''}`]
  if (r.requeued.length > 0) lines.push(`  ${r.dryRun ? 'would requeue' : 'requeued'} ${r.requeued.length}: ${listIds(r.requeued)}`)
  if (r.dead.length > 0) lines.push(`  ${r.dryRun ? 'would dead-letter' : 'dead-lettered'} ${r.dead.length} (last attempt): ${listIds(r.dead)}`)
  return lines.join('\n')
}

export async function runWorkersReleaseLeases (input: CommandInput): Promise<number> {
  const id = input.positionals[0] as string
  const limit = optionalInteger(input.values, 'limit', 1, 1000)
  const request = { id, force: bool(input.values, 'force'), dryRun: bool(input.values, 'dry-run'), ...(limit === undefined ? {} : { limit }) }
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ReleaseWorkerLeases', request)
    emit(input, result, () => formatRelease(result))
  })
}

export async function runWorkersSweep (input: CommandInput): Promise<number> {
  const olderThanMs = optionalDuration(input.values, 'older-than')
  if (olderThanMs !== undefined && olderThanMs > MAX_OLDER_THAN_MS) throw new UsageError('--older-than: at most 30d (the registry keeps a stopped worker for an hour)')
  const limit = optionalInteger(input.values, 'limit', 1, 1000)
  const request = { dryRun: bool(input.values, 'dry-run'), ...(olderThanMs === undefined ? {} : { olderThanMs }), ...(limit === undefined ? {} : { limit }) }
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('SweepWorkers', request)
    emit(input, result, () => result.count === 0
      ? 'no stale worker entry matched; nothing swept'
      : `${result.dryRun ? 'would sweep' : 'swept'} ${plural(result.count, 'stale worker entry', 'stale worker entries')}\n${formatWorkers(result.workers)}`)
  })
}
