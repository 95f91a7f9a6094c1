import type { ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import type { Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { Health } from '../types.ts'
import { ErrorBox, Json, Time } from '../ui.tsx'

const KNOWN = new Set(['user', 'role', 'csrfToken', 'csrfHeader', 'readOnly', 'approvalRequired', 'backend', 'version', 'capabilities'])

export function Settings (_: { route: Route }): ReactNode {
  const { session, canMutate } = useSession()
  const { data: health, error } = useLiveData(() => call<Health>('GetHealth'), [], { pollMs: 15_000 })
  // the admin service's own view of the caller (GetSession): backend capabilities and task filters
  const service = useLiveData(() => call<{ actor: string, role: string, capabilities: string[], taskFilters: string[], version: string, commit: string }>('GetSession'), [], { pollMs: 60_000 })
  const extra = Object.entries(session).filter(([k]) => !KNOWN.has(k))
  return (
    <>
      <h1>Settings</h1>
      <section className="card" aria-labelledby="you-h">
        <h2 id="you-h">You</h2>
        <dl className="facts">
          <dt>Identity</dt><dd data-testid="identity">{session.user}{session.method !== undefined && <span className="muted"> (signed in by {session.method})</span>}</dd>
          <dt>Role</dt><dd data-testid="role">{session.role}</dd>
          <dt>Changes</dt><dd>{canMutate ? 'allowed' : session.readOnly ? 'refused: the admin API runs read-only' : 'refused: viewers can only look'}</dd>
          <dt>Approval</dt><dd>{session.approvalRequired ? 'every change needs the approval token; the console asks for it' : 'not required'}</dd>
        </dl>
      </section>
      <section className="card" aria-labelledby="server-h">
        <h2 id="server-h">Server</h2>
        <ErrorBox error={error} />
        <dl className="facts">
          <dt>Backend</dt><dd>{session.backend ?? health?.backend ?? '—'}{health?.backendError !== undefined && <span className="badge bad">{health.backendError}</span>}</dd>
          <dt>Health</dt><dd>{health?.status ?? '…'}</dd>
          <dt>Version</dt><dd>{health === undefined ? session.version ?? '…' : `${health.version} (${health.commit})`}</dd>
          <dt>Node.js</dt><dd>{health?.nodeVersion ?? '…'}</dd>
          <dt>Started</dt><dd>{health === undefined ? '…' : <Time at={health.startedAt} />}</dd>
          {extra.map(([k, v]) => <div key={k} className="fact"><dt>{k}</dt><dd>{typeof v === 'object' ? <Json value={v} /> : String(v)}</dd></div>)}
        </dl>
        {service.data !== undefined && (
          <>
            <h3>Backend capabilities</h3>
            <p data-testid="capabilities">{service.data.capabilities.map(c => <span key={c} className="chip">{c}</span>)}</p>
            <p className="muted">Task list filters: {service.data.taskFilters.join(', ') || 'none'} · the admin service sees you as <code>{service.data.actor}</code> ({service.data.role})</p>
          </>
        )}
      </section>
    </>
  )
}
