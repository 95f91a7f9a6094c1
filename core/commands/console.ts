// What the console reads, from the command line: `session` (who am I to the
// deployment), `events list` (the timeline: the event log filtered and paged) and
// `metrics history` (per-minute or hourly counts and depths, cluster-wide).
import type { RequestOf } from '../contract/rpcs.ts'
import { emit, fields, plural, table } from './format.ts'
import type { CommandInput } from './spec.ts'
import { oneOf, optionalInteger, str, time, timeOrAgo } from './values.ts'
import { withAdmin } from './with-admin.ts'

const EVENT_LIMIT_MAX = 500
const WINDOWS = ['1h', '24h', '7d', '30d'] as const

export async function runSession (input: CommandInput): Promise<number> {
  return await withAdmin(input, async (admin) => {
    const session = await admin.call('GetSession', {})
    emit(input, session, () => fields([
      ['actor', session.actor],
      ['via', session.via],
      ['role', session.role],
      ['read-only', session.readOnly],
      ['approval required', session.approvalRequired],
      ['may mutate', session.canMutate],
      ['backend', session.backend],
      ['capabilities', session.capabilities.join(', ')],
      ['task filters', session.taskFilters.join(', ')],
      ['version', `${session.version} (${session.commit})`]
    ]))
  })
}

export async function runEventsList (input: CommandInput): Promise<number> {
  const { values } = input
  const request: RequestOf<'ListEvents'> = { limit: optionalInteger(values, 'limit', 1, EVENT_LIMIT_MAX) ?? 50 }
  for (const flag of ['type', 'target'] as const) {
    const value = str(values, flag)
    if (value !== undefined) request[flag] = value
  }
  const since = str(values, 'since')
  if (since !== undefined) request.since = timeOrAgo('since', since)
  const until = str(values, 'until')
  if (until !== undefined) request.until = time('until', until)
  const before = str(values, 'before')
  if (before !== undefined) request.beforeId = before
  const after = str(values, 'after')
  if (after !== undefined) request.afterId = after
  return await withAdmin(input, async (admin) => {
    const page = await admin.call('ListEvents', request)
    emit(input, page, () => {
      const rows = page.events.map(e => [e.id, e.time, e.type, JSON.stringify(e.data)])
      const next = [
        page.nextBeforeId === undefined ? '' : `; older: --before ${page.nextBeforeId}`,
        page.nextAfterId === undefined ? '' : `; newer: --after ${page.nextAfterId}`
      ].join('')
      return `${table(['ID', 'TIME', 'TYPE', 'DATA'], rows)}\n${plural(page.events.length, 'event')} (${page.scanned} examined)${next}`
    })
  })
}

export async function runMetricsHistory (input: CommandInput): Promise<number> {
  const { values } = input
  const request: RequestOf<'GetMetricsHistory'> = {}
  const window = str(values, 'window')
  if (window !== undefined) request.window = oneOf('window', window, WINDOWS)
  const queue = str(values, 'queue')
  if (queue !== undefined) request.queue = queue
  return await withAdmin(input, async (admin) => {
    const history = await admin.call('GetMetricsHistory', request)
    emit(input, history, () => {
      // steps where something happened or a depth was sampled; the rest are zero
      const shown = history.points.filter(p => Object.values(p.counts).some(n => n > 0) || p.depth !== undefined)
      const rows = shown.map(p => [
        p.time, String(p.counts.enqueued), String(p.counts.succeeded), String(p.counts.failed), String(p.counts.dead), String(p.counts.replayed),
        p.depth === undefined ? '-' : `${p.depth.ready}/${p.depth.processing}/${p.depth.scheduled}/${p.depth.dead}`
      ])
      const scope = history.queue === undefined ? 'all queues' : `queue ${history.queue}`
      return `${table(['STEP', 'ENQUEUED', 'SUCCEEDED', 'FAILED', 'DEAD', 'REPLAYED', 'DEPTH R/P/S/D'], rows)}\n` +
        `${history.window} of ${scope}, ${history.stepSeconds === 60 ? 'per minute' : 'hourly'}: ${plural(shown.length, 'step')} with data of ${history.points.length}`
    })
  })
}
