import type { ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, type Route } from '../route.ts'
import type { Worker } from '../types.ts'
import { ErrorBox, Loading, Time } from '../ui.tsx'

export function Workers (_: { route: Route }): ReactNode {
  const { data, error, loading } = useLiveData(() => call<{ workers: Worker[] }>('ListWorkers'), [], { types: /^task\.(started|succeeded|dead|failed)/, pollMs: 5_000 })
  return (
    <>
      <h1>Workers</h1>
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <div className="scroll">
          <table className="list" data-testid="workers">
            <thead><tr><th>Worker</th><th>Host / pid</th><th>Version</th><th>Queues</th><th>Handlers</th><th>In flight</th><th>Started</th><th>Heartbeat</th></tr></thead>
            <tbody>
              {data.workers.map(w => (
                <tr key={w.id}>
                  <td><code>{w.id}</code></td><td>{w.host} / {w.pid}</td><td>{w.version}</td>
                  <td>{w.queues.map(q => <a key={q} className="chip" href={hrefFor('queues', { name: q })}>{q}</a>)}</td>
                  <td>{w.handlers.join(', ')}</td>
                  <td><meter min={0} max={Math.max(1, w.concurrency)} value={w.inFlight} aria-label={`${w.inFlight} of ${w.concurrency} in flight`} /> {w.inFlight}/{w.concurrency}</td>
                  <td><Time at={w.startedAt} /></td><td><Time at={w.lastHeartbeatAt} /></td>
                </tr>
              ))}
              {data.workers.length === 0 && <tr><td colSpan={8} className="muted">No live workers: tasks wait until one starts.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}
