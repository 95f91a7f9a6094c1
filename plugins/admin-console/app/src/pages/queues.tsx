import { useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { QueueSummary } from '../types.ts'
import { ConfirmAction, ErrorBox, Loading } from '../ui.tsx'
import { DrainQueue } from './queue-drain.tsx'

export function Queues ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const { data, error, loading, reload } = useLiveData(() => call<{ queues: QueueSummary[] }>('ListQueues'), [], { types: /^(task|queue|dlq)/ })
  const [pending, setPending] = useState<{ queue: QueueSummary, action: 'pause' | 'resume' | 'reset' | 'weight', weight?: number } | null>(null)
  const [draining, setDraining] = useState<string | null>(null)
  const selected = params.get('name')
  const detail = data?.queues.find(q => q.name === selected)
  return (
    <>
      <h1>Queues</h1>
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <div className="scroll">
          <table className="list" data-testid="queues">
            <thead><tr><th>Queue</th><th>Ready</th><th>Processing</th><th>Scheduled</th><th>Retrying</th><th>Blocked</th><th>Throttled</th><th>Dead</th><th>Weight</th><th>State</th>{canMutate && <th>Actions</th>}</tr></thead>
            <tbody>
              {data.queues.map(q => (
                <tr key={q.name} data-queue={q.name} className={q.name === selected ? 'selected' : ''}>
                  <td><a href={hrefFor('queues', { name: q.name })}>{q.name}</a></td>
                  <td>{q.ready}</td><td>{q.processing}</td><td>{q.scheduled}</td><td>{q.retrying}</td>
                  <td>{q.blocked ?? 0}</td><td><Throttled queue={q} /></td>
                  <td>{q.dead > 0 ? <a href={hrefFor('dlq', { queue: q.name })}>{q.dead}</a> : 0}</td>
                  <td>{q.weight}{q.weightOverridden && <span className="muted"> (default {q.defaultWeight})</span>}</td>
                  <td>{q.paused ? <span className="badge warn">paused</span> : 'running'}</td>
                  {canMutate && (
                    <td className="row-actions">
                      <button type="button" onClick={() => setPending({ queue: q, action: q.paused ? 'resume' : 'pause' })}>{q.paused ? 'Resume' : 'Pause'}</button>
                      <WeightEditor queue={q} onSubmit={w => setPending({ queue: q, action: 'weight', weight: w })} />
                      {q.weightOverridden && <button type="button" onClick={() => setPending({ queue: q, action: 'reset' })}>Reset weight</button>}
                      <button type="button" className="danger" onClick={() => setDraining(q.name)}>Drain…</button>
                    </td>
                  )}
                </tr>
              ))}
              {data.queues.length === 0 && <tr><td colSpan={11} className="muted">No queues yet: enqueue a task to create one.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
      {selected !== null && <QueueDetail name={selected} fallback={detail} onClose={() => set({ name: undefined })} onDrain={canMutate ? () => setDraining(selected) : undefined} />}
      {draining !== null && <DrainQueue name={draining} onClose={done => { setDraining(null); if (done) reload() }} />}
      {pending !== null && (
        <ConfirmAction
          title={pending.action === 'weight' ? `Set the weight of ${pending.queue.name}` : pending.action === 'reset' ? `Reset the weight of ${pending.queue.name}` : `${pending.action === 'pause' ? 'Pause' : 'Resume'} queue ${pending.queue.name}`}
          preview={async () => pending.action === 'pause'
            ? <p>Workers on every node stop taking tasks from <b>{pending.queue.name}</b>: {pending.queue.ready} ready and {pending.queue.scheduled} scheduled tasks will wait. {pending.queue.processing} running tasks finish.</p>
            : pending.action === 'resume'
              ? <p>Workers take tasks from <b>{pending.queue.name}</b> again: {pending.queue.ready} ready tasks become eligible.</p>
              : pending.action === 'reset'
                ? <p>The weight goes from {pending.queue.weight} back to the configured default {pending.queue.defaultWeight}, on every node.</p>
                : <p>The weight goes from {pending.queue.weight} to {pending.weight}, on every node.</p>}
          confirmLabel={pending.action === 'pause' ? 'Pause queue' : pending.action === 'resume' ? 'Resume queue' : pending.action === 'reset' ? 'Reset weight' : 'Set weight'}
          danger={pending.action === 'pause'}
          onConfirm={() => pending.action === 'weight'
            ? call('UpdateQueueWeight', { name: pending.queue.name, weight: pending.weight })
            : pending.action === 'reset'
              ? call('ResetQueueWeight', { name: pending.queue.name })
              : call('PauseQueue', { name: pending.queue.name, paused: pending.action === 'pause' })}
          onClose={done => { setPending(null); if (done) reload() }} />
      )}
    </>
  )
}

function WeightEditor ({ queue, onSubmit }: { queue: QueueSummary, onSubmit: (w: number) => void }): ReactNode {
  const [value, setValue] = useState(String(queue.weight))
  return (
    <form className="inline" onSubmit={e => { e.preventDefault(); const w = Number(value); if (Number.isInteger(w) && w >= 1) onSubmit(w) }}>
      <input aria-label={`Weight of ${queue.name}`} type="number" min={1} max={1000} value={value} onChange={e => setValue(e.target.value)} />
      <button type="submit">Set</button>
    </form>
  )
}

/** the ready tasks a saturated flow limit holds back; absent when the backend has no flow control */
function Throttled ({ queue }: { queue: QueueSummary }): ReactNode {
  if (queue.throttled === undefined) return <span className="muted">—</span>
  return queue.throttled > 0 ? <a href={hrefFor('rate-limits')} className="badge warn">{queue.throttled}</a> : <>0</>
}

function QueueDetail ({ name, fallback, onClose, onDrain }: { name: string, fallback?: QueueSummary, onClose: () => void, onDrain?: () => void }): ReactNode {
  const { data, error } = useLiveData(() => call<{ queue: QueueSummary, unservedHandlers: string[] }>('GetQueue', { name }), [name], { types: /^(task|queue|dlq)/ })
  const q = data?.queue ?? fallback
  return (
    <section className="card detail" aria-label={`Queue ${name}`} data-testid="queue-detail">
      <header className="detail-head"><h2>Queue {name}</h2><button type="button" onClick={onClose} aria-label="Close detail">×</button></header>
      <ErrorBox error={error} />
      {q !== undefined && (
        <dl className="facts">
          <dt>State</dt><dd>{q.paused ? 'paused' : 'running'}</dd>
          <dt>Weight</dt><dd>{q.weight} {q.weightOverridden ? `(override; default ${q.defaultWeight})` : '(default)'}</dd>
          <dt>Tasks</dt><dd>{(['ready', 'processing', 'scheduled', 'retrying', 'succeeded', 'canceled', 'blocked'] as const).map(s => <a key={s} className="chip" href={hrefFor('tasks', { queue: name, state: s })}>{s} {q[s] ?? 0}</a>)}<a className="chip" href={hrefFor('dlq', { queue: name })}>dead {q.dead}</a></dd>
          <dt>Throttled</dt><dd data-testid="queue-throttled"><Throttled queue={q} /> <a href={hrefFor('rate-limits')}>flow limits</a></dd>
          <dt>Unserved handlers</dt><dd>{data === undefined ? '…' : data.unservedHandlers.length === 0 ? 'none' : data.unservedHandlers.join(', ')}</dd>
        </dl>
      )}
      {onDrain !== undefined && <div className="actions"><button type="button" className="danger" onClick={onDrain}>Drain queue…</button></div>}
    </section>
  )
}
