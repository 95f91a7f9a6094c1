import { useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import { TASK_STATES, type TaskSummary, type TaskView, type TimelineEntry } from '../types.ts'
import { ConfirmAction, ErrorBox, Json, Loading, Modal, Pager, StateBadge, Time } from '../ui.tsx'

const PAGE = 50

export function TaskFilters ({ params, set, states }: { params: URLSearchParams, set: (c: Record<string, string | undefined>, replace?: boolean) => void, states: boolean }): ReactNode {
  return (
    <form className="filters" onSubmit={e => e.preventDefault()} aria-label="Filters">
      {states && <label>State <select name="state" value={params.get('state') ?? ''} onChange={e => set({ state: e.target.value, offset: undefined })}>
        <option value="">any</option>{TASK_STATES.map(s => <option key={s}>{s}</option>)}
      </select></label>}
      <label>Queue <input name="queue" value={params.get('queue') ?? ''} onChange={e => set({ queue: e.target.value, offset: undefined }, true)} /></label>
      <label>Handler <input name="handler" value={params.get('handler') ?? ''} onChange={e => set({ handler: e.target.value, offset: undefined }, true)} /></label>
      <label>Search <input type="search" name="query" placeholder="id, payload, error…" value={params.get('query') ?? ''} onChange={e => set({ query: e.target.value, offset: undefined }, true)} /></label>
    </form>
  )
}

export function Tasks ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const filter = { state: params.get('state') ?? undefined, queue: params.get('queue') ?? undefined, handler: params.get('handler') ?? undefined, query: params.get('query') ?? undefined }
  const offset = Number(params.get('offset') ?? 0) || 0
  const key = JSON.stringify([filter, offset])
  const { data, error, loading } = useLiveData(() => call<{ tasks: TaskSummary[], total?: number }>('ListTasks', { ...filter, limit: PAGE, offset }), [key], { types: /^(task|dlq)/ })
  const id = params.get('id')
  return (
    <>
      <div className="page-head">
        <h1>Tasks</h1>
        {canMutate && <button type="button" className="primary" onClick={() => set({ action: 'enqueue' })}>Enqueue a task</button>}
      </div>
      <TaskFilters params={params} set={set} states />
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <>
          <TaskTable tasks={data.tasks} page="tasks" selected={id} params={params} />
          <Pager offset={offset} limit={PAGE} count={data.tasks.length} total={data.total} onPage={o => set({ offset: o || undefined })} />
        </>
      )}
      {id !== null && <TaskDetail id={id} onClose={() => set({ id: undefined })} />}
      {params.get('action') === 'enqueue' && canMutate && <EnqueueForm onClose={created => set({ action: undefined, id: created })} />}
    </>
  )
}

export function TaskTable ({ tasks, page, selected, params, select }: { tasks: TaskSummary[], page: string, selected: string | null, params: URLSearchParams, select?: { chosen: Set<string>, toggle: (id: string) => void } }): ReactNode {
  return (
    <div className="scroll">
      <table className="list" data-testid={`${page}-table`}>
        <thead><tr>{select !== undefined && <th><span className="sr-only">Select</span></th>}<th>Id</th><th>State</th><th>Queue</th><th>Handler</th><th>Attempts</th><th>Updated</th><th>Last error</th></tr></thead>
        <tbody>
          {tasks.map(t => (
            <tr key={t.id} data-task={t.id} className={t.id === selected ? 'selected' : ''}>
              {select !== undefined && <td><input type="checkbox" aria-label={`Select ${t.id}`} checked={select.chosen.has(t.id)} onChange={() => select.toggle(t.id)} /></td>}
              <td><a href={hrefFor(page, { ...Object.fromEntries(params.entries()), id: t.id })}><code>{t.id.slice(0, 12)}</code></a></td>
              <td><StateBadge state={t.state} /></td>
              <td>{t.queue}</td><td>{t.handler}</td><td>{t.attempts}/{t.maxAttempts}</td>
              <td><Time at={t.updatedAt} /></td>
              <td className="clip" title={t.lastError}>{t.lastError ?? ''}</td>
            </tr>
          ))}
          {tasks.length === 0 && <tr><td colSpan={8} className="muted">Nothing matches.</td></tr>}
        </tbody>
      </table>
    </div>
  )
}

export function TaskDetail ({ id, onClose }: { id: string, onClose: () => void }): ReactNode {
  const { canMutate } = useSession()
  const { data, error, reload } = useLiveData(() => call<{ task: TaskView, timeline: TimelineEntry[], handlerServed?: boolean }>('GetTask', { id }), [id], { types: /^(task|dlq)/ })
  const [pending, setPending] = useState<'cancel' | 'retry' | null>(null)
  const t = data?.task
  return (
    <section className="card detail" aria-label={`Task ${id}`} data-testid="task-detail">
      <header className="detail-head"><h2>Task <code>{id}</code></h2><button type="button" onClick={onClose} aria-label="Close detail">×</button></header>
      <ErrorBox error={error} />
      {t !== undefined && data !== undefined && (
        <>
          <dl className="facts">
            <dt>State</dt><dd data-testid="task-state"><StateBadge state={t.state} />{data.handlerServed === false && <span className="badge warn">no live worker runs {t.handler}</span>}</dd>
            <dt>Queue / handler</dt><dd>{t.queue} / {t.handler}</dd>
            <dt>Attempts</dt><dd>{t.attempts} of {t.maxAttempts} · replays {t.replays} · priority {t.priority} · timeout {t.timeoutMs} ms</dd>
            <dt>Run at</dt><dd><Time at={t.runAt} /></dd>
            {t.workerId !== undefined && <><dt>Worker</dt><dd>{t.workerId}{t.leaseExpiresAt !== undefined && <> (lease until <Time at={t.leaseExpiresAt} />)</>}</dd></>}
            {t.idempotencyKey !== undefined && <><dt>Idempotency key</dt><dd><code>{t.idempotencyKey}</code></dd></>}
            {t.dependsOn !== undefined && t.dependsOn.length > 0 && <><dt>Depends on</dt><dd data-testid="task-parents">{t.dependsOn.map(p => <a key={p} className="chip" href={hrefFor('tasks', { id: p })}><code>{p.slice(0, 12)}</code></a>)} <span className="muted">a dying parent: {t.onParentFailure ?? 'cancel'}</span></dd></>}
            {t.progress !== undefined && <><dt>Progress</dt><dd>{typeof t.progress === 'number' ? <progress max={100} value={t.progress}>{t.progress}%</progress> : <Json value={t.progress} />}</dd></>}
          </dl>
          {canMutate && (
            <div className="actions">
              {['scheduled', 'ready', 'retrying', 'blocked'].includes(t.state) && <button type="button" className="danger" onClick={() => setPending('cancel')}>Cancel task</button>}
              {['dead', 'retrying', 'canceled'].includes(t.state) && <button type="button" onClick={() => setPending('retry')}>Retry now</button>}
            </div>
          )}
          <h3>Payload ({t.payloadSize} bytes)</h3><Json value={t.payload} />
          {t.result !== undefined && <><h3>Result</h3><Json value={t.result} /></>}
          <h3>Errors</h3>
          {t.errors.length === 0 ? <p className="muted">No failed attempts.</p> : (
            <ol className="errors">{t.errors.map(e => <li key={`${e.attempt}-${e.at}`}><b>attempt {e.attempt}</b> <Time at={e.at} />: {e.message}{e.stack !== undefined && <details><summary>stack</summary><pre>{e.stack}</pre></details>}</li>)}</ol>
          )}
          <h3>Timeline</h3>
          <ol className="steps">{data.timeline.map((s, i) => <li key={i}><Time at={s.at} /> <b>{s.event}</b> {s.detail ?? ''}</li>)}</ol>
        </>
      )}
      {pending !== null && t !== undefined && (
        <ConfirmAction title={pending === 'cancel' ? `Cancel task ${id}` : `Retry task ${id}`}
          preview={async () => pending === 'cancel'
            ? <p>The {t.state} task of <b>{t.handler}</b> in <b>{t.queue}</b> will never run. If a worker starts it first, the cancel is refused.</p>
            : <p>The {t.state} task of <b>{t.handler}</b> goes back to ready with a fresh budget of {t.maxAttempts} attempts.</p>}
          confirmLabel={pending === 'cancel' ? 'Cancel task' : 'Retry task'} danger={pending === 'cancel'}
          onConfirm={() => call(pending === 'cancel' ? 'CancelTask' : 'RetryTask', { id })}
          onClose={done => { setPending(null); if (done) reload() }} />
      )}
    </section>
  )
}

function EnqueueForm ({ onClose }: { onClose: (createdId?: string) => void }): ReactNode {
  const [form, setForm] = useState({ handler: '', queue: '', payload: '{}', maxAttempts: '', priority: '', delayMs: '', idempotencyKey: '' })
  const [error, setError] = useState<unknown>(undefined)
  const [warnings, setWarnings] = useState<string[]>([])
  const field = (name: keyof typeof form, label: string, type = 'text'): ReactNode => (
    <label>{label} <input name={name} type={type} value={form[name]} onChange={e => setForm({ ...form, [name]: e.target.value })} required={name === 'handler'} /></label>
  )
  return (
    <Modal title="Enqueue a task" onClose={() => onClose()}>
      <form className="stack" onSubmit={e => {
        e.preventDefault()
        let payload: unknown
        try { payload = JSON.parse(form.payload) } catch (err) { setError(new Error(`payload is not JSON: ${(err as Error).message}`)); return }
        const num = (v: string): number | undefined => v === '' ? undefined : Number(v)
        call<{ id: string, created: boolean, warnings: string[] }>('EnqueueTask', {
          handler: form.handler, queue: form.queue || undefined, payload, maxAttempts: num(form.maxAttempts), priority: num(form.priority), delayMs: num(form.delayMs), idempotencyKey: form.idempotencyKey || undefined
        }).then(r => { if (r.warnings.length > 0) setWarnings(r.warnings); onClose(r.id) }, setError)
      }}>
        {field('handler', 'Handler')}
        {field('queue', 'Queue (default queue when empty)')}
        <label>Payload (JSON) <textarea name="payload" rows={6} value={form.payload} onChange={e => setForm({ ...form, payload: e.target.value })} /></label>
        <div className="row">{field('maxAttempts', 'Max attempts', 'number')}{field('priority', 'Priority', 'number')}{field('delayMs', 'Delay (ms)', 'number')}</div>
        {field('idempotencyKey', 'Idempotency key')}
        {warnings.map(w => <p key={w} className="banner warn">{w}</p>)}
        <ErrorBox error={error} />
        <div className="actions"><button type="button" onClick={() => onClose()}>Cancel</button><button type="submit" className="primary">Enqueue</button></div>
      </form>
    </Modal>
  )
}
