// The time window of the task and DLQ lists (since/until on created or finished), kept in
// the URL as a preset (window=1h|24h|7d) or a custom range (window=custom&since=&until=);
// the filter object both pages and their bulk actions send comes from ../list-filter.ts.
import type { ReactNode } from 'react'
import { WINDOW_PRESETS } from '../list-filter.ts'

export { WINDOW_PRESETS, windowOf, listFilterOf, compact } from '../list-filter.ts'

type SetParams = (c: Record<string, string | undefined>, replace?: boolean) => void

export function TimeWindowFilter ({ params, set }: { params: URLSearchParams, set: SetParams }): ReactNode {
  const w = params.get('window') ?? ''
  return (
    <>
      <label>Time window <select name="window" value={w} onChange={e => set({ window: e.target.value, offset: undefined, cursors: undefined, ...(e.target.value === 'custom' ? {} : { since: undefined, until: undefined }) })}>
        <option value="">any time</option>
        {Object.entries(WINDOW_PRESETS).map(([k, p]) => <option key={k} value={k}>{p.label}</option>)}
        <option value="custom">custom…</option>
      </select></label>
      {w === 'custom' && <>
        <label>Window from <input type="datetime-local" name="since" value={params.get('since') ?? ''} onChange={e => set({ since: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
        <label>Window to <input type="datetime-local" name="until" value={params.get('until') ?? ''} onChange={e => set({ until: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
      </>}
      {w !== '' && <label>Time of <select name="timeField" value={params.get('timeField') ?? ''} onChange={e => set({ timeField: e.target.value, offset: undefined, cursors: undefined })}>
        <option value="">default</option><option value="created">creation</option><option value="finished">finish</option>
      </select></label>}
    </>
  )
}
