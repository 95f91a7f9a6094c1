import { useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { Worker } from '../types.ts'
import { ConfirmAction, ErrorBox, Loading, Time } from '../ui.tsx'

interface ReleaseResult { id: string, dryRun: boolean, alive: boolean, count: number, requeued: string[], dead: string[] }
interface SweepResult { dryRun: boolean, count: number, workers: Worker[] }

type Pending =
  | { action: 'cordon' | 'uncordon', worker: Worker }
  | { action: 'release', worker: Worker }
  | { action: 'sweep', olderThanMs: number }

const ids = (list: string[]): ReactNode => list.length === 0
  ? null
  : <p className="muted">{list.slice(0, 20).map(id => <code key={id}>{id.slice(0, 12)} </code>)}{list.length > 20 ? `and ${list.length - 20} more` : ''}</p>

function WorkerState ({ worker }: { worker: Worker }): ReactNode {
  if (worker.stale === true) return <span className="badge bad" data-worker-state="stale">stale</span>
  if (worker.cordoned === true) return <span className="badge warn" data-worker-state="cordoned">cordoned</span>
  return <span className="badge" data-worker-state="live">live</span>
}

export function Workers ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const includeStale = params.get('stale') === '1'
  const { data, error, loading, reload } = useLiveData(
    () => call<{ workers: Worker[] }>('ListWorkers', includeStale ? { includeStale: true } : {}),
    [includeStale], { types: /^(task\.(started|succeeded|dead|failed|recovered)|audit)/, pollMs: 5_000 })
  const [pending, setPending] = useState<Pending | null>(null)
  const [sweepMinutes, setSweepMinutes] = useState('0')
  const done = (ok: boolean): void => { setPending(null); if (ok) reload() }
  const sweepAge = Number(sweepMinutes)
  const sweepValid = Number.isFinite(sweepAge) && sweepAge >= 0 && sweepAge <= 30 * 24 * 60
  return (
    <>
      <h1>Workers</h1>
      <div className="filters">
        <label className="check"><input type="checkbox" name="stale" checked={includeStale} onChange={e => set({ stale: e.target.checked ? '1' : undefined }, true)} /> Show stale</label>
        {canMutate && (
          <form className="filters bulk" aria-label="Sweep stale workers" onSubmit={e => { e.preventDefault(); if (sweepValid) setPending({ action: 'sweep', olderThanMs: Math.round(sweepAge * 60_000) }) }}>
            <label>Stale for at least (minutes) <input type="number" name="olderThan" min={0} max={30 * 24 * 60} step="any" value={sweepMinutes} onChange={e => setSweepMinutes(e.target.value)} /></label>
            <button type="submit" disabled={!sweepValid}>Sweep stale entries…</button>
          </form>
        )}
      </div>
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <div className="scroll">
          <table className="list" data-testid="workers">
            <thead><tr><th>Worker</th><th>State</th><th>Host / pid</th><th>Version</th><th>Queues</th><th>Handlers</th><th>In flight</th><th>Started</th><th>Heartbeat</th>{canMutate && <th>Actions</th>}</tr></thead>
            <tbody>
              {data.workers.map(w => (
                <tr key={w.id} data-worker={w.id}>
                  <td><code>{w.id}</code></td>
                  <td><WorkerState worker={w} /></td>
                  <td>{w.host} / {w.pid}</td><td>{w.version}</td>
                  <td>{w.queues.map(q => <a key={q} className="chip" href={hrefFor('queues', { name: q })}>{q}</a>)}</td>
                  <td>{w.handlers.join(', ')}</td>
                  <td><meter min={0} max={Math.max(1, w.concurrency)} value={w.inFlight} aria-label={`${w.inFlight} of ${w.concurrency} in flight`} /> {w.inFlight}/{w.concurrency}</td>
                  <td><Time at={w.startedAt} /></td><td><Time at={w.lastHeartbeatAt} /></td>
                  {canMutate && (
                    <td className="row-actions">
                      {w.stale !== true && (w.cordoned === true
                        ? <button type="button" onClick={() => setPending({ action: 'uncordon', worker: w })}>Uncordon</button>
                        : <button type="button" onClick={() => setPending({ action: 'cordon', worker: w })}>Cordon</button>)}
                      <button type="button" className={w.stale === true ? '' : 'danger'} onClick={() => setPending({ action: 'release', worker: w })}>Release leases…</button>
                    </td>
                  )}
                </tr>
              ))}
              {data.workers.length === 0 && <tr><td colSpan={canMutate ? 10 : 9} className="muted">{includeStale ? 'No workers in the registry.' : 'No live workers: tasks wait until one starts.'}</td></tr>}
            </tbody>
          </table>
        </div>
      )}
      {pending !== null && (pending.action === 'cordon' || pending.action === 'uncordon') && (
        <ConfirmAction
          title={`${pending.action === 'cordon' ? 'Cordon' : 'Uncordon'} worker ${pending.worker.id}`}
          preview={async () => pending.action === 'cordon'
            ? <p>The worker finishes its {pending.worker.inFlight} running task{pending.worker.inFlight === 1 ? '' : 's'} and leases nothing more until it is uncordoned. It learns this on its next heartbeat.</p>
            : <p>The worker leases tasks again from {pending.worker.queues.join(', ') || 'its queues'} on its next heartbeat.</p>}
          confirmLabel={pending.action === 'cordon' ? 'Cordon' : 'Uncordon'}
          onConfirm={() => call(pending.action === 'cordon' ? 'CordonWorker' : 'UncordonWorker', { id: pending.worker.id })}
          onClose={done} />
      )}
      {pending !== null && pending.action === 'release' && <ReleaseLeases worker={pending.worker} onClose={done} />}
      {pending !== null && pending.action === 'sweep' && (
        <ConfirmAction title="Sweep stale worker entries" danger
          preview={async () => {
            const r = await call<SweepResult>('SweepWorkers', { olderThanMs: pending.olderThanMs, dryRun: true })
            return (
              <div data-testid="sweep-preview">
                <p><b data-testid="sweep-count">{r.count}</b> stale entr{r.count === 1 ? 'y' : 'ies'}{pending.olderThanMs > 0 ? ` silent for at least ${pending.olderThanMs / 60_000} min` : ''} would be removed. Live workers are never removed.</p>
                {r.workers.length > 0 && <ul>{r.workers.slice(0, 20).map(w => <li key={w.id}><code>{w.id}</code> ({w.host} / {w.pid}), last heartbeat <Time at={w.lastHeartbeatAt} /></li>)}</ul>}
              </div>
            )
          }}
          confirmLabel="Sweep" onConfirm={() => call('SweepWorkers', { olderThanMs: pending.olderThanMs })} onClose={done} />
      )}
    </>
  )
}

/** release a worker's leases: the dry run first; a live worker needs force, with a warning */
function ReleaseLeases ({ worker, onClose }: { worker: Worker, onClose: (done: boolean) => void }): ReactNode {
  const alive = worker.stale !== true
  return (
    <ConfirmAction title={`Release the leases of worker ${worker.id}`} danger
      preview={async () => {
        const r = await call<ReleaseResult>('ReleaseWorkerLeases', { id: worker.id, dryRun: true, ...(alive ? { force: true } : {}) })
        return (
          <div data-testid="release-preview">
            {r.alive && (
              <p className="error" role="alert">This worker still heartbeats: its {worker.inFlight} running task{worker.inFlight === 1 ? '' : 's'} lose their lease and run again elsewhere; its own results are discarded. Cordon it and let it finish instead when you can.</p>
            )}
            <p><b data-testid="release-count">{r.count}</b> leased task{r.count === 1 ? '' : 's'} would be released now instead of at lease expiry: {r.requeued.length} back to ready, {r.dead.length} dead-lettered (their last attempt).</p>
            {ids([...r.requeued, ...r.dead])}
          </div>
        )
      }}
      confirmLabel={alive ? 'Force release' : 'Release'}
      onConfirm={() => call('ReleaseWorkerLeases', { id: worker.id, ...(alive ? { force: true } : {}) })}
      onClose={onClose} />
  )
}
