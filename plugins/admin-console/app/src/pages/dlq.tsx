import { useEffect, useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { ReplayResult, TaskSummary, TaskView } from '../types.ts'
import { ConfirmAction, ErrorBox, Json, Loading, Modal, Pager, Time } from '../ui.tsx'
import { TaskFilters, TaskTable } from './tasks.tsx'

const PAGE = 50

function ImpactOf ({ result, target }: { result: ReplayResult, target?: string }): ReactNode {
  return (
    <div data-testid="replay-preview">
      <p><b data-testid="replay-count">{result.count}</b> task{result.count === 1 ? '' : 's'} would go back to ready with a fresh attempt budget{target !== undefined && target !== '' ? <> in queue <b>{target}</b></> : ''}.</p>
      {result.replayed.length > 0 && <p className="muted">Targets: {result.replayed.slice(0, 20).map(id => <code key={id}>{id.slice(0, 12)} </code>)}{result.replayed.length > 20 ? `and ${result.replayed.length - 20} more` : ''}</p>}
      {result.skipped.length > 0 && <p className="muted">{result.skipped.length} skipped (not in the DLQ): {result.skipped.slice(0, 10).map(s => `${s.id.slice(0, 12)} (${s.reason})`).join(', ')}</p>}
    </div>
  )
}

export function Dlq ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const filter = { queue: params.get('queue') ?? undefined, handler: params.get('handler') ?? undefined, query: params.get('query') ?? undefined }
  const offset = Number(params.get('offset') ?? 0) || 0
  const key = JSON.stringify([filter, offset])
  const list = useLiveData(() => call<{ entries: TaskSummary[], total?: number }>('ListDLQ', { ...filter, limit: PAGE, offset }), [key], { types: /^(task|dlq)/ })
  const stats = useLiveData(() => call<{ total: number, byQueue: Record<string, number>, byHandler: Record<string, number>, oldestFailedAt?: string, newestFailedAt?: string }>('GetDLQStats'), [], { types: /^(task|dlq)/ })
  const [chosen, setChosen] = useState<Set<string>>(new Set())
  const [replayAll, setReplayAll] = useState<{ limit: number, targetQueue: string } | null>(null)
  const [replayIds, setReplayIds] = useState<{ ids: string[], targetQueue: string, payload?: unknown } | null>(null)
  const [limit, setLimit] = useState('100')
  const [targetQueue, setTargetQueue] = useState('')
  const id = params.get('id')
  const toggle = (tid: string): void => { const next = new Set(chosen); if (next.has(tid)) next.delete(tid); else next.add(tid); setChosen(next) }
  const afterAction = (done: boolean): void => { if (done) { setChosen(new Set()); list.reload(); stats.reload() } }
  const action = params.get('action')
  useEffect(() => {
    if (action === 'replay-all' && canMutate) { setReplayAll({ limit: 100, targetQueue: '' }); set({ action: undefined }, true) }
  }, [action, canMutate, set])
  return (
    <>
      <h1>Dead-letter queue</h1>
      {stats.data !== undefined && (
        <p data-testid="dlq-stats"><b>{stats.data.total}</b> dead tasks{stats.data.total > 0 && <> · newest failure <Time at={stats.data.newestFailedAt} /> · oldest <Time at={stats.data.oldestFailedAt} /> · by queue {Object.entries(stats.data.byQueue).map(([q, n]) => `${q} ${n}`).join(', ')}</>}</p>
      )}
      <TaskFilters params={params} set={set} states={false} />
      {canMutate && (
        <form className="filters bulk" aria-label="Replay" onSubmit={e => { e.preventDefault(); setReplayAll({ limit: Number(limit), targetQueue }) }}>
          <label>Replay at most <input type="number" min={1} name="limit" value={limit} onChange={e => setLimit(e.target.value)} /></label>
          <label>To queue <input name="targetQueue" placeholder="same queue" value={targetQueue} onChange={e => setTargetQueue(e.target.value)} /></label>
          <button type="submit">Replay all matching…</button>
          <button type="button" disabled={chosen.size === 0} onClick={() => setReplayIds({ ids: [...chosen], targetQueue })}>Replay {chosen.size} selected…</button>
          {filter.query !== undefined && <span className="muted">Replay-all matches queue and handler; the text search narrows only the list.</span>}
        </form>
      )}
      <ErrorBox error={list.error} />
      <Loading when={list.loading && list.data === undefined} />
      {list.data !== undefined && (
        <>
          <TaskTable tasks={list.data.entries} page="dlq" selected={id} params={params} select={canMutate ? { chosen, toggle } : undefined} />
          <Pager offset={offset} limit={PAGE} count={list.data.entries.length} total={list.data.total} onPage={o => set({ offset: o || undefined })} />
        </>
      )}
      {id !== null && <DlqDetail id={id} onClose={() => set({ id: undefined })} onReplay={(payload, tq) => setReplayIds({ ids: [id], targetQueue: tq, payload })} onDeleted={() => { set({ id: undefined }); afterAction(true) }} />}
      {replayAll !== null && (
        <ConfirmAction title="Replay all matching DLQ entries"
          preview={async () => <ImpactOf target={replayAll.targetQueue} result={await call<ReplayResult>('ReplayDLQ', { limit: replayAll.limit, queue: filter.queue, handler: filter.handler, targetQueue: replayAll.targetQueue || undefined, dryRun: true })} />}
          confirmLabel="Replay" onConfirm={() => call('ReplayDLQ', { limit: replayAll.limit, queue: filter.queue, handler: filter.handler, targetQueue: replayAll.targetQueue || undefined })}
          onClose={done => { setReplayAll(null); afterAction(done) }} />
      )}
      {replayIds !== null && (
        <ConfirmAction title={`Replay ${replayIds.ids.length} DLQ entr${replayIds.ids.length === 1 ? 'y' : 'ies'}${replayIds.payload !== undefined ? ' with an edited payload' : ''}`}
          preview={async () => <ImpactOf target={replayIds.targetQueue} result={await call<ReplayResult>('ReplayDLQByID', { ids: replayIds.ids, payload: replayIds.payload, targetQueue: replayIds.targetQueue || undefined, dryRun: true })} />}
          confirmLabel="Replay" onConfirm={() => call('ReplayDLQByID', { ids: replayIds.ids, payload: replayIds.payload, targetQueue: replayIds.targetQueue || undefined })}
          onClose={done => { setReplayIds(null); afterAction(done) }} />
      )}
    </>
  )
}

function DlqDetail ({ id, onClose, onReplay, onDeleted }: { id: string, onClose: () => void, onReplay: (payload: unknown, targetQueue: string) => void, onDeleted: () => void }): ReactNode {
  const { canMutate } = useSession()
  const { data, error } = useLiveData(() => call<{ entry: TaskView }>('GetDLQEntry', { id }), [id], { types: /^dlq/ })
  const [editing, setEditing] = useState<{ text: string, targetQueue: string, error?: string } | null>(null)
  const [deleting, setDeleting] = useState(false)
  const e = data?.entry
  return (
    <section className="card detail" aria-label={`DLQ entry ${id}`} data-testid="dlq-detail">
      <header className="detail-head"><h2>DLQ entry <code>{id}</code></h2><button type="button" onClick={onClose} aria-label="Close detail">×</button></header>
      <ErrorBox error={error} />
      {e !== undefined && (
        <>
          <dl className="facts">
            <dt>Queue / handler</dt><dd>{e.queue} / {e.handler}</dd>
            <dt>Attempts</dt><dd>{e.attempts} of {e.maxAttempts} · replays {e.replays}</dd>
            <dt>Failed</dt><dd><Time at={e.finishedAt ?? e.updatedAt} /> · enqueued <Time at={e.createdAt} /></dd>
            <dt>Last error</dt><dd>{e.lastError ?? '—'}</dd>
          </dl>
          {canMutate && (
            <div className="actions">
              <button type="button" onClick={() => onReplay(undefined, '')}>Replay…</button>
              <button type="button" onClick={() => setEditing({ text: JSON.stringify(e.payload, null, 2), targetQueue: '' })}>Edit payload and replay…</button>
              <button type="button" className="danger" onClick={() => setDeleting(true)}>Delete…</button>
            </div>
          )}
          <h3>Payload ({e.payloadSize} bytes)</h3><Json value={e.payload} />
          <h3>Errors</h3>
          <ol className="errors">{e.errors.map(er => <li key={`${er.attempt}-${er.at}`}><b>attempt {er.attempt}</b> <Time at={er.at} />: {er.message}</li>)}</ol>
        </>
      )}
      {editing !== null && (
        <Modal title="Edit the payload and replay" onClose={() => setEditing(null)}>
          <form className="stack" onSubmit={ev => {
            ev.preventDefault()
            try { const payload: unknown = JSON.parse(editing.text); setEditing(null); onReplay(payload, editing.targetQueue) } catch (err) { setEditing({ ...editing, error: `not JSON: ${(err as Error).message}` }) }
          }}>
            <label>Payload (JSON) <textarea name="payload" rows={10} value={editing.text} onChange={ev => setEditing({ ...editing, text: ev.target.value })} /></label>
            <label>To queue <input name="targetQueue" placeholder="same queue" value={editing.targetQueue} onChange={ev => setEditing({ ...editing, targetQueue: ev.target.value })} /></label>
            {editing.error !== undefined && <p className="error" role="alert">{editing.error}</p>}
            <div className="actions"><button type="button" onClick={() => setEditing(null)}>Cancel</button><button type="submit" className="primary">Preview replay</button></div>
          </form>
        </Modal>
      )}
      {deleting && e !== undefined && (
        <ConfirmAction title={`Delete DLQ entry ${id}`} danger confirmLabel="Delete for good"
          preview={async () => <p>The dead task of <b>{e.handler}</b> in <b>{e.queue}</b> and its payload are deleted; it cannot be replayed afterwards.</p>}
          onConfirm={() => call('DeleteDLQEntry', { id })} onClose={done => { setDeleting(false); if (done) onDeleted() }} />
      )}
    </section>
  )
}
