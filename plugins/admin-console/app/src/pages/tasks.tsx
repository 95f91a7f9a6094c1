import { useState, type ReactNode } from 'react'
import { ApiError, call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import { TASK_STATES, type TaskGraph, type TaskSummary, type TaskTags, type TaskView, type TimelineEntry } from '../types.ts'
import { ConfirmAction, CursorPager, ErrorBox, Json, Loading, Modal, StateBadge, Time } from '../ui.tsx'
import { BulkBar, isoOf } from './task-bulk.tsx'
import { TimeWindowFilter } from './task-window.tsx'
import { CURSOR_STACK_MAX, cursorsOf, TASKS_PAGE_SIZE as PAGE, tasksListRequest } from '../page-requests.ts'


export function TaskFilters ({ params, set, states }: { params: URLSearchParams, set: (c: Record<string, string | undefined>, replace?: boolean) => void, states: boolean }): ReactNode {
  return (
    <form className="filters" onSubmit={e => e.preventDefault()} aria-label="Filters">
      {states && <label>State <select name="state" value={params.get('state') ?? ''} onChange={e => set({ state: e.target.value, offset: undefined, cursors: undefined })}>
        <option value="">any</option>{TASK_STATES.map(s => <option key={s}>{s}</option>)}
      </select></label>}
      <label>Queue <input name="queue" value={params.get('queue') ?? ''} onChange={e => set({ queue: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
      <label>Handler <input name="handler" value={params.get('handler') ?? ''} onChange={e => set({ handler: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
      <label>Search <input type="search" name="query" placeholder={states ? 'id, payload, error… or key:<idempotency key>' : 'id, payload, error…'} value={params.get('query') ?? ''} onChange={e => set({ query: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
      <label>Tenant <input name="tenant" value={params.get('tenant') ?? ''} onChange={e => set({ tenant: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
      <label>Correlation id <input name="correlationId" value={params.get('correlationId') ?? ''} onChange={e => set({ correlationId: e.target.value, offset: undefined, cursors: undefined }, true)} /></label>
      <TimeWindowFilter params={params} set={set} />
    </form>
  )
}

export function Tasks ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const offset = Number(params.get('offset') ?? 0) || 0
  const cursors = cursorsOf(params)
  // the search `key:<idempotency key>` looks the task up by its key (GetTaskByKey)
  const query = params.get('query') ?? ''
  const idemKey = query.startsWith('key:') ? query.slice(4).trim() : undefined
  const key = JSON.stringify([[...params.entries()].filter(([k]) => !['id', 'action', 'bulk'].includes(k)), offset])
  const { data, error, loading, reload } = useLiveData<{ tasks: TaskSummary[], total?: number, nextCursor?: string }>(async () => {
    if (idemKey !== undefined) {
      if (idemKey === '') return { tasks: [], total: 0 }
      try {
        return { tasks: [(await call<{ task: TaskView }>('GetTaskByKey', { key: idemKey })).task], total: 1 }
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return { tasks: [], total: 0 }
        throw err
      }
    }
    return await call<{ tasks: TaskSummary[], total?: number, nextCursor?: string }>('ListTasks', tasksListRequest(params)?.fields ?? {})
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key], { types: /^(task|dlq)/ })
  const [chosen, setChosen] = useState<Set<string>>(new Set())
  const toggle = (tid: string): void => { const next = new Set(chosen); if (next.has(tid)) next.delete(tid); else next.add(tid); setChosen(next) }
  const setMany = (ids: string[], on: boolean): void => { const next = new Set(chosen); for (const tid of ids) { if (on) next.add(tid); else next.delete(tid) } setChosen(next) }
  const id = params.get('id')
  return (
    <>
      <div className="page-head">
        <h1>Tasks</h1>
        {canMutate && <button type="button" className="primary" onClick={() => set({ action: 'enqueue' })}>Enqueue a task</button>}
      </div>
      <TaskFilters params={params} set={set} states />
      {canMutate && <BulkBar params={params} set={set} chosen={chosen} filterUsable={idemKey === undefined} onDone={done => { if (done) { setChosen(new Set()); reload() } }} />}
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <>
          <TaskTable tasks={data.tasks} page="tasks" selected={id} params={params} select={canMutate ? { chosen, toggle, setMany } : undefined} />
          <CursorPager cursors={cursors} base={offset} limit={PAGE} count={data.tasks.length} total={data.total} nextCursor={data.nextCursor} onPage={c => set({ cursors: c.length === 0 ? undefined : c.slice(-CURSOR_STACK_MAX).join('.'), offset: c.length === 0 && offset > 0 ? offset : undefined })} />
        </>
      )}
      {id !== null && <TaskDetail id={id} onClose={() => set({ id: undefined, action: undefined })} rescheduling={params.get('action') === 'reschedule'} setRescheduling={on => set({ action: on ? 'reschedule' : undefined })} />}
      {params.get('action') === 'enqueue' && canMutate && <EnqueueForm onClose={created => set({ action: undefined, id: created })} />}
    </>
  )
}

export function TaskTable ({ tasks, page, selected, params, select }: { tasks: TaskSummary[], page: string, selected: string | null, params: URLSearchParams, select?: { chosen: Set<string>, toggle: (id: string) => void, setMany?: (ids: string[], on: boolean) => void } }): ReactNode {
  const all = tasks.length > 0 && select !== undefined && tasks.every(t => select.chosen.has(t.id))
  return (
    <div className="scroll">
      <table className="list" data-testid={`${page}-table`}>
        <thead><tr>{select !== undefined && <th>{select.setMany !== undefined ? <input type="checkbox" aria-label="Select all on this page" checked={all} onChange={() => select.setMany?.(tasks.map(t => t.id), !all)} /> : <span className="sr-only">Select</span>}</th>}<th>Id</th><th>State</th><th>Queue</th><th>Handler</th><th>Attempts</th><th>Updated</th><th>Last error</th></tr></thead>
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

export function TaskDetail ({ id, onClose, rescheduling, setRescheduling }: { id: string, onClose: () => void, rescheduling?: boolean, setRescheduling?: (on: boolean) => void }): ReactNode {
  const { canMutate } = useSession()
  const { data, error, reload } = useLiveData(() => call<{ task: TaskView & TaskTags, timeline: TimelineEntry[], handlerServed?: boolean }>('GetTask', { id }), [id], { types: /^(task|dlq)/ })
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
            {t.tenant !== undefined && <><dt>Tenant</dt><dd data-testid="task-tenant"><a href={hrefFor('tasks', { tenant: t.tenant })}>{t.tenant}</a></dd></>}
            {t.correlationId !== undefined && <><dt>Correlation id</dt><dd data-testid="task-correlation"><a href={hrefFor('tasks', { correlationId: t.correlationId })}><code>{t.correlationId}</code></a></dd></>}
            {t.dependsOn !== undefined && t.dependsOn.length > 0 && <><dt>Depends on</dt><dd data-testid="task-parents">{t.dependsOn.map(p => <a key={p} className="chip" href={hrefFor('tasks', { id: p })}><code>{p.slice(0, 12)}</code></a>)} <span className="muted">a dying parent: {t.onParentFailure ?? 'cancel'}</span></dd></>}
            {t.progress !== undefined && <><dt>Progress</dt><dd>{typeof t.progress === 'number' ? <progress max={100} value={t.progress}>{t.progress}%</progress> : <Json value={t.progress} />}</dd></>}
          </dl>
          {canMutate && (
            <div className="actions">
              {['scheduled', 'ready', 'retrying', 'blocked'].includes(t.state) && <button type="button" className="danger" onClick={() => setPending('cancel')}>Cancel task</button>}
              {['dead', 'retrying', 'canceled'].includes(t.state) && <button type="button" onClick={() => setPending('retry')}>Retry now</button>}
              {['scheduled', 'ready', 'retrying'].includes(t.state) && setRescheduling !== undefined && <button type="button" onClick={() => setRescheduling(true)}>Reschedule…</button>}
            </div>
          )}
          <DependencyGraph id={id} />
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
      {rescheduling === true && canMutate && t !== undefined && setRescheduling !== undefined && (
        <RescheduleForm task={t} onClose={done => { setRescheduling(false); if (done) reload() }} />
      )}
    </section>
  )
}

/** ancestors and descendants of a task (GetTaskGraph), each with its state and a link */
export function DependencyGraph ({ id }: { id: string }): ReactNode {
  const { data, error } = useLiveData(() => call<TaskGraph>('GetTaskGraph', { id }), [id], { types: /^task/ })
  if (error instanceof ApiError && error.code === 'UNSUPPORTED_BY_BACKEND') return <p className="muted">The backend does not offer dependency graphs.</p>
  if (error !== undefined) return <ErrorBox error={error} />
  if (data === undefined) return null
  const parents = new Map<string, string[]>()
  const children = new Map<string, string[]>()
  for (const e of data.edges) {
    parents.set(e.child, [...(parents.get(e.child) ?? []), e.parent])
    children.set(e.parent, [...(children.get(e.parent) ?? []), e.child])
  }
  const walk = (from: string, next: Map<string, string[]>): Array<{ id: string, level: number }> => {
    const out: Array<{ id: string, level: number }> = []
    const seen = new Set([from])
    let frontier = [from]
    for (let level = 1; frontier.length > 0; level++) {
      const step: string[] = []
      for (const n of frontier) for (const m of next.get(n) ?? []) if (!seen.has(m)) { seen.add(m); step.push(m); out.push({ id: m, level }) }
      frontier = step
    }
    return out
  }
  const nodes = new Map(data.nodes.map(n => [n.id, n]))
  const row = ({ id: nid, level }: { id: string, level: number }): ReactNode => {
    const n = nodes.get(nid)
    return <li key={nid} data-graph-node={nid}><span className="muted">{'·'.repeat(level)} </span><a href={hrefFor('tasks', { id: nid })}><code>{nid.slice(0, 12)}</code></a> {n !== undefined && <><StateBadge state={n.state} /> {n.queue} / {n.handler}</>}</li>
  }
  const up = walk(data.id, parents)
  const down = walk(data.id, children)
  return (
    <section aria-label="Dependencies" data-testid="task-graph">
      <h3>Dependencies</h3>
      {up.length === 0 && down.length === 0 && <p className="muted">No parents or children.</p>}
      {up.length > 0 && <><h4>Waits for (ancestors)</h4><ul className="steps">{up.map(row)}</ul></>}
      {down.length > 0 && <><h4>Waited on by (descendants)</h4><ul className="steps">{down.map(row)}</ul></>}
      {data.truncated && <p className="muted">The graph is larger than shown.</p>}
    </section>
  )
}

/** a datetime-local value of an ISO time, in local time */
function localOf (at: string): string {
  const d = new Date(at)
  if (Number.isNaN(d.getTime())) return ''
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
}

function RescheduleForm ({ task, onClose }: { task: TaskView, onClose: (done: boolean) => void }): ReactNode {
  const [form, setForm] = useState({ runAt: localOf(task.runAt), priority: String(task.priority), maxAttempts: String(task.maxAttempts) })
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  return (
    <Modal title={`Reschedule task ${task.id}`} onClose={() => onClose(false)}>
      <form className="stack" onSubmit={e => {
        e.preventDefault()
        const changes: Record<string, unknown> = {}
        const runAt = isoOf(form.runAt)
        if (form.runAt !== localOf(task.runAt)) {
          if (runAt === undefined) { setError(new Error('run at: not a valid time')); return }
          changes.runAt = runAt
        }
        if (form.priority !== String(task.priority)) changes.priority = Number(form.priority)
        if (form.maxAttempts !== String(task.maxAttempts)) changes.maxAttempts = Number(form.maxAttempts)
        if (Object.keys(changes).length === 0) { setError(new Error('nothing changed: edit the run time, priority or max attempts')); return }
        setBusy(true)
        call('RescheduleTask', { id: task.id, ...changes }).then(() => onClose(true), (err: unknown) => { setError(err); setBusy(false) })
      }}>
        <p>The {task.state} task of <b>{task.handler}</b> in <b>{task.queue}</b>: a future run time makes it wait, a past one makes it ready.</p>
        <label>Run at <input type="datetime-local" name="runAt" value={form.runAt} onChange={e => setForm({ ...form, runAt: e.target.value })} /></label>
        <div className="row">
          <label>Priority <input type="number" name="priority" min={-1000} max={1000} value={form.priority} onChange={e => setForm({ ...form, priority: e.target.value })} /></label>
          <label>Max attempts <input type="number" name="maxAttempts" min={1} max={1000} value={form.maxAttempts} onChange={e => setForm({ ...form, maxAttempts: e.target.value })} /></label>
        </div>
        <ErrorBox error={error} />
        <div className="actions"><button type="button" onClick={() => onClose(false)}>Cancel</button><button type="submit" className="primary" disabled={busy}>Reschedule</button></div>
      </form>
    </Modal>
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
