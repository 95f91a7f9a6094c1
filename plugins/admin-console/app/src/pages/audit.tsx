import type { ReactNode } from 'react'
import { call, downloadUrl } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import type { AuditEvent } from '../types.ts'
import { ErrorBox, Json, Loading, Time } from '../ui.tsx'

export function Audit ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const filter = { action: params.get('action') ?? undefined, target: params.get('target') ?? undefined, since: params.get('since') ?? undefined }
  const beforeId = params.get('before') ?? undefined
  const key = JSON.stringify([filter, beforeId])
  const { data, error, loading } = useLiveData(() => call<{ events: AuditEvent[], nextBeforeId?: string }>('ListAuditEvents', { ...filter, beforeId, limit: 50 }), [key], { types: /^audit/ })
  const selected = params.get('id')
  const detail = data?.events.find(e => e.id === selected)
  return (
    <>
      <h1>Audit</h1>
      <form className="filters" onSubmit={e => e.preventDefault()} aria-label="Filters">
        <label>Action <input name="action" placeholder="queue.pause" value={filter.action ?? ''} onChange={e => set({ action: e.target.value, before: undefined }, true)} /></label>
        <label>Target <input name="target" value={filter.target ?? ''} onChange={e => set({ target: e.target.value, before: undefined }, true)} /></label>
        <label>Since <input name="since" type="datetime-local" value={filter.since === undefined ? '' : filter.since.slice(0, 16)} onChange={e => set({ since: e.target.value === '' ? undefined : new Date(e.target.value).toISOString(), before: undefined })} /></label>
        <span className="export">Export: {(['jsonl', 'json', 'csv'] as const).map(format => <a key={format} className="chip" download href={downloadUrl('ExportAudit', { ...filter, format })}>{format.toUpperCase()}</a>)}</span>
      </form>
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <>
          <div className="scroll">
            <table className="list" data-testid="audit">
              <thead><tr><th>Time</th><th>Action</th><th>Target</th><th>Actor</th><th>Outcome</th><th>Request id</th></tr></thead>
              <tbody>
                {data.events.map(e => (
                  <tr key={e.id} className={e.id === selected ? 'selected' : ''}>
                    <td><a href={hrefFor('audit', { ...Object.fromEntries(params.entries()), id: e.id })}><Time at={e.time} /></a></td>
                    <td><code>{e.action}</code></td><td>{e.target}</td><td>{e.actor}</td>
                    <td><span className={`badge outcome-${e.outcome}`}>{e.outcome}</span>{e.error !== undefined && <span className="muted"> {e.error}</span>}</td>
                    <td><code>{e.requestId}</code></td>
                  </tr>
                ))}
                {data.events.length === 0 && <tr><td colSpan={6} className="muted">No audit events match.</td></tr>}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="paging">
            <button type="button" disabled={beforeId === undefined} onClick={() => set({ before: undefined })}>← Newest</button>
            <button type="button" disabled={data.nextBeforeId === undefined} onClick={() => set({ before: data.nextBeforeId })}>Older →</button>
          </nav>
        </>
      )}
      {detail !== undefined && <section className="card detail"><h2>{detail.action} on {detail.target}</h2><p>{detail.actor} · {detail.time} · request <code>{detail.requestId}</code></p><Json value={detail.params} /></section>}
    </>
  )
}
