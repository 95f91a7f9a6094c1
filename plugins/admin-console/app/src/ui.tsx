// Small shared pieces: error box, confirm dialog with an impact preview, the approval
// prompt, pager, JSON view, times, tiles.
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { ApiError, setApprovalPrompt } from './api.ts'
import { hrefFor } from './route.ts'

export function ErrorBox ({ error }: { error: unknown }): ReactNode {
  if (error === undefined || error === null) return null
  const e = error instanceof ApiError ? error : new ApiError('INTERNAL', error instanceof Error ? error.message : String(error), 0)
  return (
    <div className="error" role="alert">
      <strong className="error-code">{e.code}</strong> {e.message}
      <div className="error-meta">
        {e.requestId !== undefined && <span>request id <code>{e.requestId}</code> · </span>}
        <span>{e.hint} </span>
        <a href={e.docsLink}>Docs for {e.code}</a>
      </div>
    </div>
  )
}

export function Time ({ at }: { at: string | number | undefined }): ReactNode {
  if (at === undefined || at === '') return <span className="muted">—</span>
  const d = new Date(at)
  return <time dateTime={d.toISOString()} title={d.toISOString()}>{relative(d)}</time>
}

export function relative (d: Date): string {
  const s = Math.round((Date.now() - d.getTime()) / 1000)
  const abs = Math.abs(s)
  const unit = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.round(abs / 60)}m` : abs < 86400 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`
  return s >= 0 ? `${unit} ago` : `in ${unit}`
}

export function Json ({ value }: { value: unknown }): ReactNode {
  return <pre className="json">{value === undefined ? '—' : JSON.stringify(value, null, 2)}</pre>
}

export function Tile ({ label, value, href, tone }: { label: string, value: ReactNode, href?: string, tone?: 'warn' | 'bad' }): ReactNode {
  const body = <><span className="tile-value">{value}</span><span className="tile-label">{label}</span></>
  return href !== undefined
    ? <a className={`tile ${tone ?? ''}`} href={href} data-tile={label}>{body}</a>
    : <div className={`tile ${tone ?? ''}`} data-tile={label}>{body}</div>
}

export function Pager ({ offset, limit, count, total, onPage }: { offset: number, limit: number, count: number, total?: number, onPage: (offset: number) => void }): ReactNode {
  return (
    <nav className="pager" aria-label="paging">
      <button type="button" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - limit))}>← Newer</button>
      <span>{count === 0 ? 'none' : `${offset + 1}–${offset + count}`}{total !== undefined ? ` of ${total}` : ''}</span>
      <button type="button" disabled={count < limit || (total !== undefined && offset + count >= total)} onClick={() => onPage(offset + limit)}>Older →</button>
    </nav>
  )
}

/**
 * Paging by cursor: `cursors` are the cursors of the pages before this one (the URL
 * keeps them, so a reload shows the same page); Older pushes the page's nextCursor,
 * Newer pops. `base` numbers the rows of the first page (an offset of an old link).
 */
export function CursorPager ({ cursors, base, limit, count, total, nextCursor, onPage }: { cursors: string[], base: number, limit: number, count: number, total?: number, nextCursor?: string, onPage: (cursors: string[]) => void }): ReactNode {
  const first = base + cursors.length * limit
  return (
    <nav className="pager" aria-label="paging">
      <button type="button" disabled={cursors.length === 0} onClick={() => onPage(cursors.slice(0, -1))}>← Newer</button>
      <span>{count === 0 ? 'none' : `${first + 1}–${first + count}`}{total !== undefined ? ` of ${total}` : ''}</span>
      <button type="button" disabled={nextCursor === undefined} onClick={() => { if (nextCursor !== undefined) onPage([...cursors, nextCursor]) }}>Older →</button>
    </nav>
  )
}

export function StateBadge ({ state }: { state: string }): ReactNode {
  return <span className={`badge state-${state}`}>{state}</span>
}

export function Link ({ page, params, children }: { page: string, params?: Record<string, string | number | undefined>, children: ReactNode }): ReactNode {
  return <a href={hrefFor(page, params)}>{children}</a>
}

/** A modal dialog; Escape closes it, focus moves into it. */
export function Modal ({ title, onClose, children }: { title: string, onClose: () => void, children: ReactNode }): ReactNode {
  const ref = useRef<HTMLDivElement>(null)
  // callers pass a new onClose on every render (a live list re-renders the page): read
  // it through a ref, so the effect below runs once per opening. Focusing the first
  // field again on each re-render would pull the caret out of the field being typed in.
  const close = useRef(onClose)
  close.current = onClose
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => { if (e.key === 'Escape') close.current() }
    window.addEventListener('keydown', onKey)
    ref.current?.querySelector<HTMLElement>('input, textarea, select, button.primary, button')?.focus()
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  return (
    <div className="modal-backdrop" onClick={e => { if (e.target === e.currentTarget) onClose() }}>
      <div className="modal" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  )
}

/**
 * A risky action: the preview (targets, counts from a dry run) shows first; the action
 * runs only after the operator confirms, and its error stays in the dialog. An "all
 * matching" action confirms the previewed selection (expectedSelection); when the
 * server refuses because the selection changed meanwhile (SELECTION_CHANGED, nothing
 * changed), the dialog shows the fresh preview to confirm instead.
 */
export function ConfirmAction ({ title, preview, confirmLabel, danger, onConfirm, onClose }: {
  title: string
  preview: () => Promise<ReactNode>
  confirmLabel: string
  danger?: boolean
  onConfirm: () => Promise<unknown>
  onClose: (done: boolean) => void
}): ReactNode {
  const [body, setBody] = useState<ReactNode>(<p className="muted">Computing the impact…</p>)
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(true)
  const [round, setRound] = useState(0)
  useEffect(() => {
    let cancelled = false
    preview().then(b => { if (!cancelled) { setBody(b); setBusy(false) } }, (e: unknown) => { if (!cancelled) { setError(e); setBusy(false) } })
    return () => { cancelled = true }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [round])
  return (
    <Modal title={title} onClose={() => onClose(false)}>
      <div className="impact" data-testid="impact">{body}</div>
      <ErrorBox error={error} />
      <div className="actions">
        <button type="button" onClick={() => onClose(false)}>Cancel</button>
        <button type="button" className={danger === true ? 'danger primary' : 'primary'} disabled={busy} onClick={() => {
          setBusy(true)
          onConfirm().then(() => onClose(true), (e: unknown) => {
            setError(e)
            if (e instanceof ApiError && e.code === 'SELECTION_CHANGED') setRound(r => r + 1)
            else setBusy(false)
          })
        }}>{confirmLabel}</button>
      </div>
    </Modal>
  )
}

/** Renders the approval-token prompt the API client asks for on APPROVAL_REQUIRED. */
export function ApprovalPromptHost (): ReactNode {
  const [pending, setPending] = useState<((token: string | null) => void) | null>(null)
  const [token, setToken] = useState('')
  useEffect(() => {
    setApprovalPrompt(() => new Promise<string | null>(resolve => { setToken(''); setPending(() => resolve) }))
  }, [])
  if (pending === null) return null
  const finish = (value: string | null): void => { pending(value); setPending(null) }
  return (
    <Modal title="Approval required" onClose={() => finish(null)}>
      <form onSubmit={e => { e.preventDefault(); finish(token) }}>
        <p>This server requires an approval token for every change. It is kept for this tab only.</p>
        <label>Approval token <input type="password" autoComplete="off" value={token} onChange={e => setToken(e.target.value)} required /></label>
        <div className="actions">
          <button type="button" onClick={() => finish(null)}>Cancel</button>
          <button type="submit" className="primary">Send with token</button>
        </div>
      </form>
    </Modal>
  )
}

export function Loading ({ when }: { when: boolean }): ReactNode {
  return when ? <p className="muted" aria-live="polite">Loading…</p> : null
}
