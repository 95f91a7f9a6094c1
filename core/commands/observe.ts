// Reading the deployment: overview, health, workers, metrics.
import { emit, fields, plural } from './format.ts'
import { formatQueues } from './queues.ts'
import { formatWorkers } from './workers.ts'
import type { CommandInput } from './spec.ts'
import { withAdmin } from './with-admin.ts'

export async function runOverview (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const overview = await admin.call('GetOverview', {})
    emit(input, overview, () => {
      const t = overview.totals
      const lines = [
        `ready ${t.ready}, scheduled ${t.scheduled}, processing ${t.processing}, retrying ${t.retrying}, dead ${t.dead}`,
        `workers ${overview.activeWorkers ?? 'n/a'}, global pause ${overview.coordination?.globalPaused === true ? 'ON' : 'off'}  (via ${admin.via})`
      ]
      for (const u of overview.unservedHandlers) lines.push(`no live worker runs handler ${u.handler} (queue ${u.queue}): its tasks wait`)
      return [...lines, '', formatQueues(overview.queues)].join('\n')
    })
  })
}

export async function runHealth (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const health = await admin.call('GetHealth', {})
    emit(input, health, () => fields([
      ['status', health.status],
      ['backend error', health.backendError],
      ['version', health.version],
      ['commit', health.commit],
      ['node', health.nodeVersion],
      ['backend', health.backend],
      ['started', health.startedAt],
      ['uptime', `${Math.round(health.uptimeSeconds)}s`],
      ['via', admin.via]
    ]))
    // degraded is an answer, not a failure of the command; scripts read status from --json
  })
}

export async function runWorkers (input: CommandInput): Promise<number> {
  const includeStale = input.values.stale === true
  return await withAdmin(input, async (admin) => {
    const result = await admin.call('ListWorkers', includeStale ? { includeStale } : {})
    const live = result.workers.filter(w => !w.stale).length
    const cordoned = result.workers.filter(w => w.cordoned).length
    emit(input, result, () => `${formatWorkers(result.workers)}\n${plural(live, 'live worker')}${includeStale ? `, ${result.workers.length - live} stale` : ''}${cordoned > 0 ? `, ${cordoned} cordoned` : ''}`)
  })
}

/** Prometheus text for people (and scrapers); with --json the JSON snapshot itself. */
export async function runMetrics (input: CommandInput): Promise<number> {
  const json = input.values.json === true
  return await withAdmin(input, async (admin) => {
    const metrics = await admin.call('GetMetrics', json ? { format: 'json' } : { format: 'prometheus' })
    input.io.stdout.write(json ? JSON.stringify(JSON.parse(metrics.body)) + '\n' : metrics.body.endsWith('\n') ? metrics.body : metrics.body + '\n')
  })
}
