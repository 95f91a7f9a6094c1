// Flow limits per queue and per handler: cluster-wide concurrency (at most N running
// at once) and rate (N starts per window), stored in the backend and shared by every
// node. The table shows each limit's usage and the ready tasks it holds back; set, edit
// and clear confirm with what changes first.
import { useEffect, useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import { ConfirmAction, ErrorBox, Loading, Modal } from '../ui.tsx'

/** one limit and its usage (FlowLimitView in core/contract/messages.ts) */
export interface FlowLimit { kind: string, name: string, concurrency?: number, rateLimit?: number, rateWindowMs?: number, running: number, started: number, inUse: number, saturation: number, saturated: boolean, throttled: number }

/** the scope kinds the contract knows; kinds a listed limit has are offered too */
const KINDS = ['queue', 'handler', 'tenant']

export function windowText (ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`
  if (ms % 60_000 === 0) return `${ms / 60_000} min`
  if (ms % 1000 === 0) return `${ms / 1000} s`
  return `${ms} ms`
}

function rateText (l: Pick<FlowLimit, 'rateLimit' | 'rateWindowMs'>): string {
  return l.rateLimit === undefined || l.rateWindowMs === undefined ? '—' : `${l.rateLimit} per ${windowText(l.rateWindowMs)}`
}

function Saturation ({ limit }: { limit: FlowLimit }): ReactNode {
  const pct = Math.round(limit.saturation * 100)
  return (
    <span className="saturation">
      <meter min={0} max={1} low={0.7} high={0.95} optimum={0} value={Math.min(1, limit.saturation)} aria-label={`${pct}% of the tightest bound in use`} /> {pct}%
      {limit.saturated && <span className="badge warn">saturated</span>}
    </span>
  )
}

interface Draft { kind: string, name: string, concurrency: string, rateLimit: string, windowSeconds: string, editing: boolean }

const emptyDraft = (kind = 'queue', name = ''): Draft => ({ kind, name, concurrency: '', rateLimit: '', windowSeconds: '1', editing: false })

function draftOf (l: FlowLimit): Draft {
  return { kind: l.kind, name: l.name, concurrency: l.concurrency === undefined ? '' : String(l.concurrency), rateLimit: l.rateLimit === undefined ? '' : String(l.rateLimit), windowSeconds: l.rateWindowMs === undefined ? '1' : String(l.rateWindowMs / 1000), editing: true }
}

interface Request { kind: string, name: string, concurrency?: number, rateLimit?: number, rateWindowMs?: number }

/** the SetFlowLimit request of a draft, or what is wrong with it */
function requestOf (d: Draft): Request | string {
  const name = d.name.trim()
  if (name === '') return 'Name: enter the queue, handler or tenant name.'
  const positive = (text: string, field: string): number | string | undefined => {
    if (text.trim() === '') return undefined
    const n = Number(text)
    return Number.isInteger(n) && n >= 1 ? n : `${field}: a whole number of at least 1.`
  }
  const concurrency = positive(d.concurrency, 'Concurrency')
  if (typeof concurrency === 'string') return concurrency
  const rateLimit = positive(d.rateLimit, 'Starts per window')
  if (typeof rateLimit === 'string') return rateLimit
  let rateWindowMs: number | undefined
  if (rateLimit !== undefined) {
    const seconds = Number(d.windowSeconds)
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 24 * 3600) return 'Window: seconds, more than 0 and at most 86400.'
    rateWindowMs = Math.max(1, Math.round(seconds * 1000))
  }
  if (concurrency === undefined && rateLimit === undefined) return 'Set a concurrency, a rate, or both.'
  return { kind: d.kind, name, concurrency, rateLimit, rateWindowMs }
}

export function RateLimits ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const { data, error, loading, reload } = useLiveData(() => call<{ limits: FlowLimit[] }>('ListRateLimits'), [], { types: /^(task|queue|audit|flow)/, pollMs: 5_000 })
  const [draft, setDraft] = useState<Draft | null>(null)
  const [confirmSet, setConfirmSet] = useState<Request | null>(null)
  const [clearing, setClearing] = useState<FlowLimit | null>(null)
  const kindFilter = params.get('kind') ?? ''
  const edit = params.get('edit')
  // ?edit=+ opens an empty form, ?edit=queue:name the form of that limit (the palette links here)
  useEffect(() => {
    if (edit === null || !canMutate) return
    if (edit === '+') { setDraft(emptyDraft()); set({ edit: undefined }, true); return }
    if (data === undefined) return
    const [kind, ...rest] = edit.split(':')
    const found = data.limits.find(l => l.kind === kind && l.name === rest.join(':'))
    setDraft(found !== undefined ? draftOf(found) : emptyDraft(kind, rest.join(':')))
    set({ edit: undefined }, true)
  }, [edit, canMutate, data, set])
  const kinds = [...new Set([...KINDS, ...(data?.limits.map(l => l.kind) ?? [])])]
  const limits = data?.limits.filter(l => kindFilter === '' || l.kind === kindFilter) ?? []
  const afterChange = (done: boolean): void => { if (done) reload() }
  return (
    <>
      <div className="page-head">
        <h1>Rate limits</h1>
        {canMutate && <div className="actions"><button type="button" className="primary" onClick={() => setDraft(emptyDraft())}>New limit</button></div>}
      </div>
      <p className="muted">Cluster-wide flow limits per queue and per handler: at most N running at once across all workers, and at most N starts per window. Ready tasks a saturated limit holds back count as throttled.</p>
      <div className="filters">
        <label>Kind <select name="kind" value={kindFilter} onChange={e => set({ kind: e.target.value }, true)}>
          <option value="">all kinds</option>
          {kinds.map(k => <option key={k} value={k}>{k}</option>)}
        </select></label>
      </div>
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <div className="scroll">
          <table className="list" data-testid="rate-limits">
            <thead><tr><th>Kind</th><th>Name</th><th>Concurrency</th><th>Rate</th><th>Running</th><th>Started in window</th><th>Saturation</th><th>Throttled</th>{canMutate && <th>Actions</th>}</tr></thead>
            <tbody>
              {limits.map(l => (
                <tr key={`${l.kind}:${l.name}`} data-limit={`${l.kind}:${l.name}`}>
                  <td>{l.kind}</td>
                  <td>{l.kind === 'queue' ? <a href={hrefFor('queues', { name: l.name })}>{l.name}</a> : l.kind === 'handler' ? <a href={hrefFor('tasks', { handler: l.name })}>{l.name}</a> : l.kind === 'tenant' ? <a href={hrefFor('tasks', { tenant: l.name })}>{l.name}</a> : l.name}</td>
                  <td>{l.concurrency ?? '—'}</td>
                  <td>{rateText(l)}</td>
                  <td>{l.running}</td>
                  <td>{l.rateLimit === undefined ? '—' : l.started}</td>
                  <td><Saturation limit={l} /></td>
                  <td>{l.throttled > 0 ? <span className="badge warn">{l.throttled}</span> : 0}</td>
                  {canMutate && (
                    <td className="row-actions">
                      <button type="button" onClick={() => setDraft(draftOf(l))}>Edit</button>
                      <button type="button" className="danger" onClick={() => setClearing(l)}>Clear…</button>
                    </td>
                  )}
                </tr>
              ))}
              {limits.length === 0 && <tr><td colSpan={canMutate ? 9 : 8} className="muted">{data.limits.length === 0 ? 'No flow limits: every queue, handler and tenant runs as fast as the workers take tasks.' : 'No limit of this kind.'}</td></tr>}
            </tbody>
          </table>
        </div>
      )}
      {draft !== null && <LimitForm draft={draft} kinds={kinds} onCancel={() => setDraft(null)} onSubmit={r => { setDraft(null); setConfirmSet(r) }} />}
      {confirmSet !== null && (
        <ConfirmAction title={`Set the limit of ${confirmSet.kind} ${confirmSet.name}`}
          preview={async () => {
            const current = data?.limits.find(l => l.kind === confirmSet.kind && l.name === confirmSet.name)
            const next = [confirmSet.concurrency !== undefined ? `at most ${confirmSet.concurrency} running at once` : 'no concurrency bound',
              confirmSet.rateLimit !== undefined && confirmSet.rateWindowMs !== undefined ? `at most ${confirmSet.rateLimit} starts per ${windowText(confirmSet.rateWindowMs)}` : 'no rate bound'].join(', ')
            return (
              <div data-testid="limit-preview">
                <p>Every node applies to {confirmSet.kind} <b>{confirmSet.name}</b>: {next}.</p>
                {current !== undefined
                  ? <p className="muted">It replaces concurrency {current.concurrency ?? '—'}, rate {rateText(current)}; {current.running} running now{current.concurrency !== undefined && confirmSet.concurrency !== undefined && current.running > confirmSet.concurrency ? ` (above the new bound: they finish, no new start until below it)` : ''}.</p>
                  : <p className="muted">There is no limit for it yet.</p>}
              </div>
            )
          }}
          confirmLabel="Set limit"
          onConfirm={() => call('SetFlowLimit', { ...confirmSet })}
          onClose={done => { setConfirmSet(null); afterChange(done) }} />
      )}
      {clearing !== null && (
        <ConfirmAction title={`Clear the limit of ${clearing.kind} ${clearing.name}`} danger
          preview={async () => (
            <p>{clearing.kind === 'queue' ? 'Queue' : clearing.kind === 'handler' ? 'Handler' : clearing.kind} <b>{clearing.name}</b> loses its limit (concurrency {clearing.concurrency ?? '—'}, rate {rateText(clearing)}) on every node{clearing.throttled > 0 ? `: ${clearing.throttled} throttled task${clearing.throttled === 1 ? '' : 's'} become eligible at once` : ''}. Limits set in the configuration return when a node restarts.</p>
          )}
          confirmLabel="Clear limit"
          onConfirm={() => call('ClearFlowLimit', { kind: clearing.kind, name: clearing.name })}
          onClose={done => { setClearing(null); afterChange(done) }} />
      )}
    </>
  )
}

function LimitForm ({ draft, kinds, onCancel, onSubmit }: { draft: Draft, kinds: string[], onCancel: () => void, onSubmit: (r: Request) => void }): ReactNode {
  const [d, setD] = useState(draft)
  const [problem, setProblem] = useState<string | undefined>(undefined)
  const field = (key: 'kind' | 'name' | 'concurrency' | 'rateLimit' | 'windowSeconds') => (e: { target: { value: string } }): void => { setD({ ...d, [key]: e.target.value }); setProblem(undefined) }
  return (
    <Modal title={d.editing ? `Edit the limit of ${d.kind} ${d.name}` : 'New flow limit'} onClose={onCancel}>
      <form className="stack" onSubmit={e => {
        e.preventDefault()
        const r = requestOf(d)
        if (typeof r === 'string') setProblem(r)
        else onSubmit(r)
      }}>
        <div className="row">
          <label>Kind <select name="kind" value={d.kind} disabled={d.editing} onChange={field('kind')}>{kinds.map(k => <option key={k} value={k}>{k}</option>)}</select></label>
          <label>Name <input name="name" value={d.name} readOnly={d.editing} required onChange={field('name')} /></label>
        </div>
        <label>Concurrency (at most this many running at once; empty: no bound) <input name="concurrency" type="number" min={1} value={d.concurrency} onChange={field('concurrency')} /></label>
        <div className="row">
          <label>Starts per window (empty: no rate) <input name="rateLimit" type="number" min={1} value={d.rateLimit} onChange={field('rateLimit')} /></label>
          <label>Window (seconds) <input name="windowSeconds" type="number" min={0.001} step="any" value={d.windowSeconds} onChange={field('windowSeconds')} /></label>
        </div>
        {problem !== undefined && <p className="error" role="alert">{problem}</p>}
        <div className="actions"><button type="button" onClick={onCancel}>Cancel</button><button type="submit" className="primary">Preview</button></div>
      </form>
    </Modal>
  )
}
