// The unified timeline: task, job, schedule, DLQ, queue and audit events with filters,
// paging and deep links (#/overview?event=<id>). Its source is the persisted event log
// (ListEvents: filtered and paged on the server, reloaded when a new event arrives);
// against a server without ListEvents, the events this tab received from the stream
// (which replays the retained log on connect).
import { useSyncExternalStore, type ReactNode } from 'react'
import { ApiError, call } from './api.ts'
import { live, useLiveData, type AdminEvent } from './live.ts'
import { TIMELINE_PAGE_SIZE as PAGE_SIZE, timelineRequest } from './page-requests.ts'
import { hrefFor } from './route.ts'
import { ErrorBox, Json, Pager, Time } from './ui.tsx'

export const EVENT_KINDS = ['task', 'dlq', 'queue', 'schedule', 'job', 'audit', 'overview'] as const

export function useEventHistory (): AdminEvent[] {
  useSyncExternalStore(live.subscribe, live.getSnapshot)
  return live.history
}

export function eventSummary (e: AdminEvent): string {
  const d = (e.data !== null && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>
  const parts: string[] = []
  for (const key of ['name', 'queue', 'handler', 'id', 'action', 'target', 'actor', 'outcome', 'count', 'attempt']) {
    const v = d[key]
    if (typeof v === 'string' || typeof v === 'number') parts.push(`${key} ${v}`)
  }
  return parts.join(' · ') || (typeof e.data === 'string' ? e.data : '')
}

/** where an event's subject lives in the console, when it has a page */
export function eventLink (e: AdminEvent): string | undefined {
  const d = (e.data !== null && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>
  const id = typeof d.id === 'string' ? d.id : typeof d.taskId === 'string' ? d.taskId : undefined
  if (e.type.startsWith('task.') && id !== undefined) return hrefFor('tasks', { id })
  if (e.type.startsWith('dlq.') && id !== undefined) return hrefFor('dlq', { id })
  if (e.type.startsWith('schedule.') && typeof d.name === 'string') return hrefFor('schedules', { name: d.name })
  if (e.type.startsWith('queue.') && typeof d.name === 'string') return hrefFor('queues', { name: d.name })
  if (e.type === 'audit') return hrefFor('audit', { action: typeof d.action === 'string' ? d.action : undefined })
  return undefined
}

interface EventPage { events: AdminEvent[], nextBeforeId?: string }

/** whether an error means "this server has no such RPC" (an older server): fall back */
export function isMissingRpc (error: unknown): boolean {
  return error instanceof ApiError && ['NOT_FOUND', 'NOT_IMPLEMENTED', 'HTTP_404'].includes(error.code)
}

export function Timeline ({ params, set }: { params: URLSearchParams, set: (c: Record<string, string | number | undefined>, replace?: boolean) => void }): ReactNode {
  const history = useEventHistory()
  const kind = params.get('kind') ?? ''
  const target = params.get('target') ?? ''
  const text = params.get('q') ?? ''
  const before = params.get('before') ?? undefined
  const offset = Number(params.get('offset') ?? 0) || 0
  const selected = params.get('event')
  const server = useLiveData(() => call<EventPage>('ListEvents', timelineRequest(params).fields), [kind, target, before], { types: /./ })
  const fromServer = server.error === undefined || !isMissingRpc(server.error)
  const matchesText = (e: AdminEvent): boolean => text === '' || `${e.type} ${JSON.stringify(e.data)}`.toLowerCase().includes(text.toLowerCase())
  let page: AdminEvent[]
  let pager: ReactNode
  let count: string
  if (fromServer) {
    page = (server.data?.events ?? []).filter(matchesText)
    count = server.data === undefined ? 'loading…' : `${page.length} on this page`
    pager = (
      <nav className="pager" aria-label="paging">
        <button type="button" disabled={before === undefined} onClick={() => set({ before: undefined })}>← Newest</button>
        <button type="button" disabled={server.data?.nextBeforeId === undefined} onClick={() => set({ before: server.data?.nextBeforeId })}>Older →</button>
      </nav>
    )
  } else {
    const matching = history.filter(e =>
      (kind === '' || e.type === kind || e.type.startsWith(`${kind}.`)) && matchesText(e) &&
      (target === '' || JSON.stringify(e.data).includes(JSON.stringify(target)))
    ).reverse()
    page = matching.slice(offset, offset + PAGE_SIZE)
    count = `${matching.length} of ${history.length} events received`
    pager = <Pager offset={offset} limit={PAGE_SIZE} count={page.length} total={matching.length} onPage={o => set({ offset: o || undefined })} />
  }
  const detail = selected === null ? undefined : page.find(e => e.id === selected) ?? history.find(e => e.id === selected)
  return (
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <form className="filters" onSubmit={e => e.preventDefault()}>
        <label>Kind <select name="kind" value={kind} onChange={e => set({ kind: e.target.value, before: undefined, offset: undefined })}>
          <option value="">all</option>
          {EVENT_KINDS.map(k => <option key={k} value={k}>{k}</option>)}
        </select></label>
        <label>Target <input name="target" value={target} placeholder="task id, queue, schedule…" onChange={e => set({ target: e.target.value, before: undefined, offset: undefined }, true)} /></label>
        <label>Text <input type="search" name="q" value={text} placeholder="in this page" onChange={e => set({ q: e.target.value, offset: undefined }, true)} /></label>
        <span className="muted">{count}</span>
      </form>
      {fromServer && <ErrorBox error={server.error} />}
      <table className="list" data-testid="timeline" data-source={fromServer ? 'event-log' : 'stream'}>
        <thead><tr><th>Time</th><th>Type</th><th>Subject</th></tr></thead>
        <tbody>
          {page.map(e => {
            const link = eventLink(e)
            return (
              <tr key={e.id} className={e.id === selected ? 'selected' : ''} data-event-type={e.type}>
                <td><a href={hrefFor('overview', { ...Object.fromEntries(params.entries()), event: e.id })}><Time at={e.time} /></a></td>
                <td><code>{e.type}</code></td>
                <td>{link !== undefined ? <a href={link}>{eventSummary(e)}</a> : eventSummary(e)}</td>
              </tr>
            )
          })}
          {page.length === 0 && <tr><td colSpan={3} className="muted">No events match.</td></tr>}
        </tbody>
      </table>
      {pager}
      {detail !== undefined && (
        <div className="card" data-testid="event-detail">
          <h3>Event {detail.id} <code>{detail.type}</code></h3>
          <p><Time at={detail.time} /> · {detail.time}</p>
          <Json value={detail.data} />
        </div>
      )}
    </section>
  )
}

const RANGES = { '1h': { ms: 3600_000, buckets: 60 }, '24h': { ms: 86400_000, buckets: 96 }, '7d': { ms: 7 * 86400_000, buckets: 84 }, '30d': { ms: 30 * 86400_000, buckets: 60 } } as const
export type RangeKey = keyof typeof RANGES
export const RANGE_KEYS = Object.keys(RANGES) as RangeKey[]

const TREND_TYPES: Record<string, RegExp> = { enqueued: /^task\.enqueued$/, succeeded: /^task\.succeeded$/, failed: /^task\.(dead|failed|retrying)$/, replayed: /^(dlq\.replayed|task\.retried)$/ }

/** Trend series from the received event log, bucketed over the chosen range. */
export function trendFromEvents (history: AdminEvent[], range: RangeKey, now = Date.now()): Array<{ name: string, points: number[] }> {
  const { ms, buckets } = RANGES[range]
  const start = now - ms
  const size = ms / buckets
  return Object.entries(TREND_TYPES).map(([name, re]) => {
    const points = new Array<number>(buckets).fill(0)
    for (const e of history) {
      if (!re.test(e.type)) continue
      const t = Date.parse(e.time)
      if (t < start || t > now) continue
      const i = Math.min(buckets - 1, Math.floor((t - start) / size))
      const d = e.data as { count?: unknown } | null
      points[i] = (points[i] ?? 0) + (e.type === 'dlq.replayed' && d !== null && typeof d === 'object' && typeof d.count === 'number' ? d.count : 1)
    }
    return { name, points }
  })
}
