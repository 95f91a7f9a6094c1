// The time window of the task and DLQ lists (since/until on created or finished), kept in
// the URL as a preset (window=1h|24h|7d) or a custom range (window=custom&since=&until=),
// plus the filter object both pages and their bulk actions send.
import type { ReactNode } from 'react'

export const WINDOW_PRESETS: Record<string, { label: string, ms: number }> = {
  '1h': { label: 'last hour', ms: 3_600_000 },
  '24h': { label: 'last 24 hours', ms: 86_400_000 },
  '7d': { label: 'last 7 days', ms: 7 * 86_400_000 }
}

type SetParams = (c: Record<string, string | undefined>, replace?: boolean) => void

/** a datetime-local value (local time) as an ISO timestamp; undefined when empty or invalid */
function iso (local: string | null): string | undefined {
  if (local === null || local === '') return undefined
  const d = new Date(local)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

/** since/until/timeField of the URL's window, computed now (a preset slides with the clock) */
export function windowOf (params: URLSearchParams): { since?: string, until?: string, timeField?: string } {
  const w = params.get('window')
  if (w === null || w === '') return {}
  const timeField = params.get('timeField') ?? undefined
  const preset = WINDOW_PRESETS[w]
  if (preset !== undefined) return { since: new Date(Date.now() - preset.ms).toISOString(), timeField }
  if (w === 'custom') {
    const since = iso(params.get('since'))
    const until = iso(params.get('until'))
    return since === undefined && until === undefined ? {} : { since, until, timeField }
  }
  return {}
}

/** the ListTasks / ListDLQ filter the URL describes (without paging) */
export function listFilterOf (params: URLSearchParams, withState: boolean): Record<string, string | undefined> {
  const get = (k: string): string | undefined => params.get(k) ?? undefined
  return {
    ...(withState ? { state: get('state') } : {}),
    queue: get('queue'),
    handler: get('handler'),
    query: get('query'),
    tenant: get('tenant'),
    correlationId: get('correlationId'),
    ...windowOf(params)
  }
}

/** drops the undefined and empty fields (a filter object travels as JSON in bulk actions) */
export function compact<T extends Record<string, unknown>> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>
}

export function TimeWindowFilter ({ params, set }: { params: URLSearchParams, set: SetParams }): ReactNode {
  const w = params.get('window') ?? ''
  return (
    <>
      <label>Time window <select name="window" value={w} onChange={e => set({ window: e.target.value, offset: undefined, ...(e.target.value === 'custom' ? {} : { since: undefined, until: undefined }) })}>
        <option value="">any time</option>
        {Object.entries(WINDOW_PRESETS).map(([k, p]) => <option key={k} value={k}>{p.label}</option>)}
        <option value="custom">custom…</option>
      </select></label>
      {w === 'custom' && <>
        <label>Window from <input type="datetime-local" name="since" value={params.get('since') ?? ''} onChange={e => set({ since: e.target.value, offset: undefined }, true)} /></label>
        <label>Window to <input type="datetime-local" name="until" value={params.get('until') ?? ''} onChange={e => set({ until: e.target.value, offset: undefined }, true)} /></label>
      </>}
      {w !== '' && <label>Time of <select name="timeField" value={params.get('timeField') ?? ''} onChange={e => set({ timeField: e.target.value, offset: undefined })}>
        <option value="">default</option><option value="created">creation</option><option value="finished">finish</option>
      </select></label>}
    </>
  )
}
