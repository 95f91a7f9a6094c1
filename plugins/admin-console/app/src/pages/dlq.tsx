import { useEffect, useRef, useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { PurgeResult, QueueSummary, ReplayResult, TaskSummary, TaskView } from '../types.ts'
import { ConfirmAction, CursorPager, ErrorBox, Json, Loading, Modal, Time } from '../ui.tsx'
import { TaskFilters, TaskTable } from './tasks.tsx'
import { listFilterOf, windowOf } from './task-window.tsx'
import { CURSOR_STACK_MAX, cursorsOf, DLQ_PAGE_SIZE as PAGE, dlqListRequest } from '../page-requests.ts'


function ImpactOf ({ result, target }: { result: ReplayResult, target?: string }): ReactNode {
  return (
    <div data-testid="replay-preview">
      <p><b data-testid="replay-count">{result.count}</b> task{result.count === 1 ? '' : 's'} would go back to ready with a fresh attempt budget{target !== undefined && target !== '' ? <> in queue <b>{target}</b></> : ''}.</p>
      {result.replayed.length > 0 && <p className="muted">Targets: {result.replayed.slice(0, 20).map(id => <code key={id}>{id.slice(0, 12)} </code>)}{result.replayed.length > 20 ? `and ${result.replayed.length - 20} more` : ''}</p>}
      {result.skipped.length > 0 && <p className="muted">{result.skipped.length} skipped (not in the DLQ): {result.skipped.slice(0, 10).map(s => `${s.id.slice(0, 12)} (${s.reason})`).join(', ')}</p>}
    </div>
  )
}

function PurgeImpact ({ result }: { result: PurgeResult }): ReactNode {
  return (
    <div data-testid="purge-preview">
      <p><b data-testid="purge-count">{result.count}</b> dead task{result.count === 1 ? '' : 's'} would be deleted for good (oldest failures first, at most {result.limit}); they cannot be replayed afterwards.</p>
      {result.more && <p className="banner warn">More entries match than one purge deletes: purge again for the rest.</p>}
      {result.sample.length > 0 && <p className="muted">First: {result.sample.map(id => <code key={id}>{id.slice(0, 12)} </code>)}{result.count > result.sample.length ? `and ${result.count - result.sample.length} more` : ''}</p>}
    </div>
  )
}

export function Dlq ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const filter = listFilterOf(params, false)
  const offset = Number(params.get('offset') ?? 0) || 0
  const cursors = cursorsOf(params)
  const key = JSON.stringify([[...params.entries()].filter(([k]) => !['id', 'action', 'olderThan'].includes(k)), offset])
  const list = useLiveData(() => call<{ entries: TaskSummary[], total?: number, nextCursor?: string }>('ListDLQ', dlqListRequest(params).fields), [key], { types: /^(task|dlq)/ })
  /** what replay-all and purge select by: the list's filter without tenant and correlation id, the window computed now */
  const selection = (): Record<string, string | undefined> => ({ queue: filter.queue, handler: filter.handler, query: filter.query, ...windowOf(params) })
  // the size per queue from the queue counters (ListQueues): GetDLQStats also counts per
  // handler, which reads every dead task, too much to repeat on each event of a big DLQ
  const stats = useLiveData(() => call<{ queues: QueueSummary[] }>('ListQueues'), [], { types: /^(task|dlq)/ })
  const deadByQueue = (stats.data?.queues ?? []).filter(q => q.dead > 0)
  const deadTotal = deadByQueue.reduce((sum, q) => sum + q.dead, 0)
  const unfiltered = Object.values(filter).every(v => v === undefined || v === '') && offset === 0 && cursors.length === 0
  const newest = unfiltered ? list.data?.entries[0]?.finishedAt : undefined
  const [chosen, setChosen] = useState<Set<string>>(new Set())
  const [replayAll, setReplayAll] = useState<{ limit: number, targetQueue: string } | null>(null)
  // the set the open replay-all or purge dialog previewed: confirming changes exactly it, or is refused
  const previewed = useRef<string | undefined>(undefined)
  const [replayIds, setReplayIds] = useState<{ ids: string[], targetQueue: string, payload?: unknown, payloads?: Record<string, unknown> } | null>(null)
  const [editSelected, setEditSelected] = useState(false)
  const [purge, setPurge] = useState<{ olderThan: string } | null>(null)
  const olderThan = params.get('olderThan') ?? ''
  const [limit, setLimit] = useState('100')
  const [targetQueue, setTargetQueue] = useState('')
  const id = params.get('id')
  const toggle = (tid: string): void => { const next = new Set(chosen); if (next.has(tid)) next.delete(tid); else next.add(tid); setChosen(next) }
  const setMany = (ids: string[], on: boolean): void => { const next = new Set(chosen); for (const tid of ids) { if (on) next.add(tid); else next.delete(tid) } setChosen(next) }
  const afterAction = (done: boolean): void => { if (done) { setChosen(new Set()); list.reload(); stats.reload() } }
  const action = params.get('action')
  useEffect(() => {
    if (action === 'replay-all' && canMutate) { setReplayAll({ limit: 100, targetQueue: '' }); set({ action: undefined }, true) }
  }, [action, canMutate, set])
  return (
    <>
      <h1>Dead-letter queue</h1>
      {stats.data !== undefined && (
        <p data-testid="dlq-stats"><b>{deadTotal}</b> dead tasks{deadTotal > 0 && <>{newest !== undefined && <> · newest failure <Time at={newest} /></>} · by queue {deadByQueue.map(q => `${q.name} ${q.dead}`).join(', ')}</>}</p>
      )}
      <TaskFilters params={params} set={set} states={false} />
      {canMutate && (
        <form className="filters bulk" aria-label="Replay" onSubmit={e => { e.preventDefault(); setReplayAll({ limit: Number(limit), targetQueue }) }}>
          <label>Replay at most <input type="number" min={1} name="limit" value={limit} onChange={e => setLimit(e.target.value)} /></label>
          <label>To queue <input name="targetQueue" placeholder="same queue" value={targetQueue} onChange={e => setTargetQueue(e.target.value)} /></label>
          <button type="submit">Replay all matching…</button>
          <button type="button" disabled={chosen.size === 0} onClick={() => setEditSelected(true)}>Replay {chosen.size} selected…</button>
          {(filter.tenant !== undefined || filter.correlationId !== undefined) && <span className="muted">Replay-all and purge match queue, handler, search and time window; tenant and correlation id narrow only the list.</span>}
        </form>
      )}
      {canMutate && (
        <form className="filters bulk" aria-label="Purge" onSubmit={e => { e.preventDefault(); setPurge({ olderThan: olderThan.trim() }) }}>
          <label>Failed longer ago than <input name="olderThan" placeholder="e.g. 7d, 36h" pattern="([0-9]+(ms|s|m|h|d))+" value={olderThan} onChange={e => set({ olderThan: e.target.value }, true)} /></label>
          <button type="submit" className="danger">Purge matching…</button>
        </form>
      )}
      <ErrorBox error={list.error} />
      <Loading when={list.loading && list.data === undefined} />
      {list.data !== undefined && (
        <>
          <TaskTable tasks={list.data.entries} page="dlq" selected={id} params={params} select={canMutate ? { chosen, toggle, setMany } : undefined} />
          <CursorPager cursors={cursors} base={offset} limit={PAGE} count={list.data.entries.length} total={list.data.total} nextCursor={list.data.nextCursor} onPage={c => set({ cursors: c.length === 0 ? undefined : c.slice(-CURSOR_STACK_MAX).join('.'), offset: c.length === 0 && offset > 0 ? offset : undefined })} />
        </>
      )}
      {id !== null && <DlqDetail id={id} onClose={() => set({ id: undefined })} onReplay={(payload, tq) => setReplayIds({ ids: [id], targetQueue: tq, payload })} onDeleted={() => { set({ id: undefined }); afterAction(true) }} />}
      {replayAll !== null && (
        <ConfirmAction title="Replay all matching DLQ entries"
          preview={async () => {
            const result = await call<ReplayResult>('ReplayDLQ', { limit: replayAll.limit, ...selection(), targetQueue: replayAll.targetQueue || undefined, dryRun: true })
            previewed.current = result.selection
            return <ImpactOf target={replayAll.targetQueue} result={result} />
          }}
          confirmLabel="Replay" onConfirm={() => call('ReplayDLQ', { limit: replayAll.limit, ...selection(), targetQueue: replayAll.targetQueue || undefined, expectedSelection: previewed.current })}
          onClose={done => { setReplayAll(null); afterAction(done) }} />
      )}
      {replayIds !== null && (
        <ConfirmAction title={`Replay ${replayIds.ids.length} DLQ entr${replayIds.ids.length === 1 ? 'y' : 'ies'}${replayIds.payload !== undefined || replayIds.payloads !== undefined ? ' with edited payloads' : ''}`}
          preview={async () => <ImpactOf target={replayIds.targetQueue} result={await call<ReplayResult>('ReplayDLQByID', { ids: replayIds.ids, payload: replayIds.payload, payloads: replayIds.payloads, targetQueue: replayIds.targetQueue || undefined, dryRun: true })} />}
          confirmLabel="Replay" onConfirm={() => call('ReplayDLQByID', { ids: replayIds.ids, payload: replayIds.payload, payloads: replayIds.payloads, targetQueue: replayIds.targetQueue || undefined })}
          onClose={done => { setReplayIds(null); afterAction(done) }} />
      )}
      {editSelected && (
        <ReplaySelectedForm ids={[...chosen]} targetQueue={targetQueue} onClose={() => setEditSelected(false)}
          onPreview={(payloads, tq) => { setEditSelected(false); setReplayIds({ ids: [...chosen], targetQueue: tq, payloads }) }} />
      )}
      {purge !== null && (
        <ConfirmAction title="Purge dead tasks for good" danger confirmLabel="Purge for good"
          preview={async () => {
            const result = await call<PurgeResult>('PurgeDLQ', { ...selection(), olderThan: purge.olderThan || undefined, dryRun: true })
            previewed.current = result.selection
            return <PurgeImpact result={result} />
          }}
          onConfirm={() => call<PurgeResult>('PurgeDLQ', { ...selection(), olderThan: purge.olderThan || undefined, expectedSelection: previewed.current })}
          onClose={done => { setPurge(null); afterAction(done) }} />
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

/** Replay of the selected entries: a target queue, and optionally an edited payload per entry. */
function ReplaySelectedForm ({ ids, targetQueue, onClose, onPreview }: { ids: string[], targetQueue: string, onClose: () => void, onPreview: (payloads: Record<string, unknown> | undefined, targetQueue: string) => void }): ReactNode {
  const [queue, setQueue] = useState(targetQueue)
  const [texts, setTexts] = useState<Record<string, { original: string, text: string }>>({})
  const [loadError, setLoadError] = useState<unknown>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const open = (id: string): void => {
    if (texts[id] !== undefined) return
    call<{ entry: TaskView }>('GetDLQEntry', { id }).then(r => {
      const original = JSON.stringify(r.entry.payload, null, 2)
      setTexts(t => t[id] !== undefined ? t : { ...t, [id]: { original, text: original } })
    }, setLoadError)
  }
  return (
    <Modal title={`Replay ${ids.length} selected DLQ entr${ids.length === 1 ? 'y' : 'ies'}`} onClose={onClose}>
      <form className="stack" onSubmit={ev => {
        ev.preventDefault()
        const payloads: Record<string, unknown> = {}
        for (const [id, t] of Object.entries(texts)) {
          if (t.text === t.original) continue
          try { payloads[id] = JSON.parse(t.text) } catch (err) { setError(`the payload of ${id} is not JSON: ${(err as Error).message}`); return }
        }
        onPreview(Object.keys(payloads).length > 0 ? payloads : undefined, queue.trim())
      }}>
        <label>Replay to queue <input name="replayTargetQueue" placeholder="same queue" value={queue} onChange={ev => setQueue(ev.target.value)} /></label>
        <p className="muted">Open an entry to edit the payload it is replayed with; the others keep theirs.</p>
        <div className="scroll" data-testid="replay-payloads">
          {ids.map(id => {
            const entry = texts[id]
            return (
              <details key={id} onToggle={ev => { if ((ev.target as HTMLDetailsElement).open) open(id) }}>
                <summary>Payload of <code>{id.slice(0, 12)}</code>{entry !== undefined && entry.text !== entry.original ? ' (edited)' : ''}</summary>
                {entry === undefined
                  ? <p className="muted">Loading…</p>
                  : <label>Payload of {id} (JSON) <textarea name={`payload-${id}`} rows={6} value={entry.text} onChange={ev => { const text = ev.target.value; setTexts(t => ({ ...t, [id]: { original: entry.original, text } })) }} /></label>}
              </details>
            )
          })}
        </div>
        <ErrorBox error={loadError} />
        {error !== undefined && <p className="error" role="alert">{error}</p>}
        <div className="actions"><button type="button" onClick={onClose}>Cancel</button><button type="submit" className="primary">Preview replay</button></div>
      </form>
    </Modal>
  )
}
