// The filter of the task and DLQ lists as the URL describes it: the time window (a
// preset, window=1h|24h|7d, or a custom range, window=custom&since=&until=, judged on
// timeField) and the other filters. Plain functions without React, so the boot module
// (main.tsx) can compute a page's first request before the app is loaded.

export const WINDOW_PRESETS: Record<string, { label: string, ms: number }> = {
  '1h': { label: 'last hour', ms: 3_600_000 },
  '24h': { label: 'last 24 hours', ms: 86_400_000 },
  '7d': { label: 'last 7 days', ms: 7 * 86_400_000 }
}

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

