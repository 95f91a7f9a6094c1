// Drain a queue: delete its waiting tasks (ready; with the option also scheduled and
// retrying). The dry run's count and sample show first and follow the option; the drain
// runs only after the operator confirms, and deletes exactly the previewed tasks
// (expectedSelection): when the queue changed meanwhile the server refuses and the
// dialog shows the new impact to confirm instead. Its error stays in the dialog.
import { useEffect, useState, type ReactNode } from 'react'
import { ApiError, call } from '../api.ts'
import type { TaskSummary } from '../types.ts'
import { ErrorBox, Modal, StateBadge } from '../ui.tsx'

export interface BulkResult { dryRun: boolean, action: string, count: number, changed: string[], skipped: Array<{ id: string, reason: string, state?: string }>, sample: TaskSummary[], limitReached: boolean, selection: string }

export function DrainQueue ({ name, onClose }: { name: string, onClose: (done: boolean) => void }): ReactNode {
  const [includeScheduled, setIncludeScheduled] = useState(false)
  const [preview, setPreview] = useState<BulkResult | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(true)
  // bumped when the server refused a stale preview: the dry run runs again
  const [round, setRound] = useState(0)
  const [changed, setChanged] = useState(false)
  useEffect(() => {
    let cancelled = false
    setBusy(true); setPreview(undefined); setError(undefined)
    call<BulkResult>('DrainQueue', { name, includeScheduled, dryRun: true }).then(
      r => { if (!cancelled) { setPreview(r); setBusy(false) } },
      (e: unknown) => { if (!cancelled) { setError(e); setBusy(false) } })
    return () => { cancelled = true }
  }, [name, includeScheduled, round])
  const states = includeScheduled ? 'ready, scheduled and retrying' : 'ready'
  return (
    <Modal title={`Drain queue ${name}`} onClose={() => onClose(false)}>
      <label className="inline-label"><input type="checkbox" name="includeScheduled" checked={includeScheduled} onChange={e => setIncludeScheduled(e.target.checked)} /> Also scheduled and retrying tasks</label>
      <div className="impact" data-testid="impact">
        {preview === undefined
          ? <p className="muted">Computing the impact…</p>
          : (
              <div data-testid="drain-preview">
                {changed && <p className="banner" data-testid="drain-changed">The queue changed since the last preview; nothing was deleted. This is the impact now.</p>}
                <p><b data-testid="drain-count">{preview.count}</b> {states} task{preview.count === 1 ? '' : 's'} of <b>{name}</b> would be deleted for good{preview.limitReached ? ' (the most one drain takes; more match: drain again afterwards)' : ''}. Processing tasks run on.</p>
                {preview.sample.length > 0 && (
                  <ul>{preview.sample.map(t => <li key={t.id}><code>{t.id.slice(0, 12)}</code> {t.handler} <StateBadge state={t.state} /></li>)}</ul>
                )}
                {preview.count > preview.sample.length && <p className="muted">and {preview.count - preview.sample.length} more</p>}
              </div>
            )}
      </div>
      <ErrorBox error={error} />
      <div className="actions">
        <button type="button" onClick={() => onClose(false)}>Cancel</button>
        <button type="button" className="danger primary" disabled={busy || preview === undefined || preview.count === 0} onClick={() => {
          setBusy(true)
          call<BulkResult>('DrainQueue', { name, includeScheduled, expectedSelection: preview?.selection }).then(() => onClose(true), (e: unknown) => {
            if (e instanceof ApiError && e.code === 'SELECTION_CHANGED') { setChanged(true); setRound(r => r + 1) } else { setError(e); setBusy(false) }
          })
        }}>Drain</button>
      </div>
    </Modal>
  )
}
