// Bulk actions of the Tasks page: one action (cancel, retry, delete, run now, reschedule,
// move) over the selected rows or over every task the filter matches. The confirmation
// shows BulkTaskAction's dry run (count, sample, skipped) before anything changes.
import { useRef, useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { TASK_ACTIONS, type BulkResult, type TaskAction } from '../types.ts'
import { ConfirmAction, StateBadge } from '../ui.tsx'
import { compact, listFilterOf } from './task-window.tsx'

export const ACTION_LABELS: Record<TaskAction, string> = {
  cancel: 'Cancel', retry: 'Retry', delete: 'Delete', run_now: 'Run now', reschedule: 'Reschedule', move: 'Move'
}

type SetParams = (c: Record<string, string | undefined>, replace?: boolean) => void

/** a datetime-local value as an ISO timestamp */
export function isoOf (local: string): string | undefined {
  if (local === '') return undefined
  const d = new Date(local)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

export function BulkImpact ({ result }: { result: BulkResult }): ReactNode {
  const verb = ACTION_LABELS[result.action as TaskAction] ?? result.action
  return (
    <div data-testid="bulk-preview">
      <p><b data-testid="bulk-count">{result.count}</b> task{result.count === 1 ? '' : 's'} would be changed by <b>{verb.toLowerCase()}</b>.</p>
      {result.limitReached && <p className="banner warn">The filter selected as many tasks as the limit allows: more may match; run the action again for the rest.</p>}
      {result.sample.length > 0 && (
        <table className="list" aria-label="Sample of the tasks">
          <thead><tr><th>Id</th><th>State</th><th>Queue</th><th>Handler</th></tr></thead>
          <tbody>{result.sample.map(t => <tr key={t.id}><td><code>{t.id.slice(0, 12)}</code></td><td><StateBadge state={t.state} /></td><td>{t.queue}</td><td>{t.handler}</td></tr>)}</tbody>
        </table>
      )}
      {result.count > result.sample.length && <p className="muted">and {result.count - result.sample.length} more</p>}
      {result.skipped.length > 0 && <p className="muted" data-testid="bulk-skipped">{result.skipped.length} skipped: {result.skipped.slice(0, 10).map(s => `${s.id.slice(0, 12)} (${s.reason === 'wrong_state' ? s.state ?? 'wrong state' : 'not found'})`).join(', ')}{result.skipped.length > 10 ? ' …' : ''}</p>}
    </div>
  )
}

/**
 * The bulk bar under the filters: the action is kept in the URL (bulk=...); the selection
 * lives in the page (ids are too many for a link).
 */
export function BulkBar ({ params, set, chosen, filterUsable, onDone }: {
  params: URLSearchParams
  set: SetParams
  chosen: Set<string>
  /** false while the list shows an idempotency-key lookup rather than a filter */
  filterUsable: boolean
  onDone: (changed: boolean) => void
}): ReactNode {
  const action = (TASK_ACTIONS as readonly string[]).includes(params.get('bulk') ?? '') ? params.get('bulk') as TaskAction : 'cancel'
  const [fields, setFields] = useState({ runAt: '', priority: '', maxAttempts: '', targetQueue: '' })
  const [scope, setScope] = useState<'selected' | 'filter' | null>(null)
  // the set the dry run showed: the confirmation changes exactly it, or is refused
  const previewed = useRef<string | undefined>(undefined)
  const num = (v: string): number | undefined => v === '' ? undefined : Number(v)
  const request = (dryRun: boolean): Record<string, unknown> => ({
    action,
    ids: scope === 'selected' ? [...chosen] : [],
    filter: scope === 'filter' ? compact(listFilterOf(params, true)) : undefined,
    ...(action === 'reschedule' ? { runAt: isoOf(fields.runAt), priority: num(fields.priority), maxAttempts: num(fields.maxAttempts) } : {}),
    ...(action === 'move' ? { targetQueue: fields.targetQueue || undefined } : {}),
    dryRun
  })
  const input = (name: keyof typeof fields, label: string, type = 'text'): ReactNode => (
    <label>{label} <input name={`bulk-${name}`} type={type} value={fields[name]} onChange={e => setFields({ ...fields, [name]: e.target.value })} /></label>
  )
  return (
    <form className="filters bulk" aria-label="Act on many tasks" onSubmit={e => e.preventDefault()}>
      <label>Bulk action <select name="bulk" value={action} onChange={e => set({ bulk: e.target.value }, true)}>
        {TASK_ACTIONS.map(a => <option key={a} value={a}>{ACTION_LABELS[a]}</option>)}
      </select></label>
      {action === 'reschedule' && <>{input('runAt', 'Run at', 'datetime-local')}{input('priority', 'Priority', 'number')}{input('maxAttempts', 'Max attempts', 'number')}</>}
      {action === 'move' && input('targetQueue', 'To queue')}
      <button type="button" disabled={chosen.size === 0} onClick={() => setScope('selected')}>{ACTION_LABELS[action]} {chosen.size} selected…</button>
      <button type="button" disabled={!filterUsable} onClick={() => setScope('filter')}>{ACTION_LABELS[action]} all matching…</button>
      {scope !== null && (
        <ConfirmAction title={scope === 'selected' ? `${ACTION_LABELS[action]} ${chosen.size} selected task${chosen.size === 1 ? '' : 's'}` : `${ACTION_LABELS[action]} all tasks matching the filter`}
          danger={action === 'cancel' || action === 'delete'} confirmLabel={`${ACTION_LABELS[action]} tasks`}
          preview={async () => {
            const result = await call<BulkResult>('BulkTaskAction', request(true))
            previewed.current = result.selection
            return <BulkImpact result={result} />
          }}
          onConfirm={() => call<BulkResult>('BulkTaskAction', { ...request(false), expectedSelection: previewed.current })}
          onClose={done => { setScope(null); onDone(done) }} />
      )}
    </form>
  )
}
