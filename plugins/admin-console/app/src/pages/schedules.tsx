import { useMemo, useState, type ReactNode } from 'react'
import { Cron } from 'croner'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { Schedule, ScheduleEvent } from '../types.ts'
import { ConfirmAction, ErrorBox, Loading, Modal, Time } from '../ui.tsx'

interface Factory { name: string, description: string, durableDefault: boolean }
type Pending = { kind: 'pause' | 'resume' | 'run' | 'delete', schedule: Schedule } | { kind: 'pause-all' | 'resume-all' }

/** the next five fire times of a spec in a time zone, or why the spec is invalid */
export function previewFireTimes (spec: string, timezone: string, count = 5): { times: string[] } | { error: string } {
  try {
    const job = new Cron(spec, { timezone: timezone || 'UTC', paused: true })
    const fmt = new Intl.DateTimeFormat(undefined, { timeZone: timezone || 'UTC', dateStyle: 'medium', timeStyle: 'long' })
    const times = job.nextRuns(count).map(d => fmt.format(d))
    job.stop()
    return { times }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
}

export function Schedules ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const list = useLiveData(() => call<{ schedules: Schedule[] }>('ListSchedules'), [], { types: /^schedule/ })
  const factories = useLiveData(() => call<{ factories: Factory[] }>('ListScheduleFactories'), [])
  const name = params.get('name')
  const edit = params.get('edit')
  const events = useLiveData(() => call<{ events: ScheduleEvent[] }>('ListScheduleEvents', { name: name ?? undefined, limit: 25 }), [name], { types: /^schedule/ })
  const [pending, setPending] = useState<Pending | null>(null)
  const editing = edit === null ? undefined : edit === '+' ? null : list.data?.schedules.find(s => s.name === edit)
  return (
    <>
      <div className="page-head">
        <h1>Schedules</h1>
        {canMutate && (
          <div className="actions">
            <button type="button" className="primary" onClick={() => set({ edit: '+' })}>New schedule</button>
            <button type="button" onClick={() => setPending({ kind: 'pause-all' })}>Pause all…</button>
            <button type="button" onClick={() => setPending({ kind: 'resume-all' })}>Resume all…</button>
          </div>
        )}
      </div>
      <ErrorBox error={list.error} />
      <Loading when={list.loading && list.data === undefined} />
      {list.data !== undefined && (
        <div className="scroll">
          <table className="list" data-testid="schedules">
            <thead><tr><th>Name</th><th>Spec</th><th>Next run</th><th>Previous run</th><th>Last status</th><th>Fired</th><th>State</th>{canMutate && <th>Actions</th>}</tr></thead>
            <tbody>
              {list.data.schedules.map(s => (
                <tr key={s.name} data-schedule={s.name} className={s.name === name ? 'selected' : ''}>
                  <td><a href={hrefFor('schedules', { name: s.name })}>{s.name}</a>{s.durable && <span className="badge">durable</span>}</td>
                  <td><code>{s.spec}</code> <span className="muted">{s.timezone}</span></td>
                  <td><Time at={s.nextRunAt} /></td>
                  <td><Time at={s.previousRunAt} /></td>
                  <td><span className={`badge status-${s.lastStatus}`}>{s.lastStatus}</span>{s.lastTaskId !== undefined && <> <a href={hrefFor('tasks', { id: s.lastTaskId })}>task</a></>}{s.lastError !== undefined && <span className="muted"> {s.lastError}</span>}</td>
                  <td>{s.fired}{s.skipped > 0 && <span className="muted"> ({s.skipped} skipped)</span>}</td>
                  <td>{s.paused ? <span className="badge warn">paused</span> : 'active'}{!s.factoryRegistered && <span className="badge warn">no factory here</span>}</td>
                  {canMutate && (
                    <td className="row-actions">
                      <button type="button" onClick={() => setPending({ kind: 'run', schedule: s })}>Run now</button>
                      <button type="button" onClick={() => setPending({ kind: s.paused ? 'resume' : 'pause', schedule: s })}>{s.paused ? 'Resume' : 'Pause'}</button>
                      <button type="button" onClick={() => set({ edit: s.name })}>Edit</button>
                      <button type="button" className="danger" onClick={() => setPending({ kind: 'delete', schedule: s })}>Delete</button>
                    </td>
                  )}
                </tr>
              ))}
              {list.data.schedules.length === 0 && <tr><td colSpan={8} className="muted">No schedules. Factories available: {factories.data?.factories.map(f => f.name).join(', ') || 'none'}.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
      <section className="card" aria-labelledby="sched-events-h">
        <h2 id="sched-events-h">Events{name !== null && <> of {name} <a href={hrefFor('schedules')}>(all)</a></>}</h2>
        <ErrorBox error={events.error} />
        <ol className="steps" data-testid="schedule-events">
          {events.data?.events.map((e, i) => (
            <li key={i}><Time at={e.at} /> <b>{e.schedule}</b> {e.type}{e.count !== undefined && e.count > 1 ? ` ×${e.count}` : ''}{e.taskId !== undefined && <> <a href={hrefFor('tasks', { id: e.taskId })}>task</a></>}{e.reason !== undefined && <span className="muted"> {e.reason}</span>}</li>
          ))}
          {events.data?.events.length === 0 && <li className="muted">No events yet.</li>}
        </ol>
      </section>
      {editing !== undefined && canMutate && (
        <ScheduleForm existing={editing} factories={factories.data?.factories ?? []} onClose={saved => { set({ edit: undefined, name: saved ?? name ?? undefined }); if (saved !== undefined) list.reload() }} />
      )}
      {pending !== null && <ScheduleConfirm pending={pending} onClose={done => { setPending(null); if (done) { list.reload(); events.reload() } }} />}
    </>
  )
}

function ScheduleConfirm ({ pending, onClose }: { pending: Pending, onClose: (done: boolean) => void }): ReactNode {
  if (!('schedule' in pending)) {
    const paused = pending.kind === 'pause-all'
    return (
      <ConfirmAction title={paused ? 'Pause every schedule' : 'Resume every schedule'} confirmLabel={paused ? 'Pause all' : 'Resume all'} danger={paused}
        preview={async () => {
          const r = await call<{ changed: string[], total: number }>('PauseSchedules', { paused, dryRun: true })
          return <p data-testid="pause-all-preview"><b>{r.changed.length}</b> of {r.total} schedules would change: {r.changed.join(', ') || 'none'}.</p>
        }}
        onConfirm={() => call('PauseSchedules', { paused })} onClose={onClose} />
    )
  }
  const s = pending.schedule
  const kind = pending.kind
  const text = { pause: ['Pause', `Ticks of ${s.name} are skipped until it is resumed.`], resume: ['Resume', `${s.name} fires again from now on (paused instants are not caught up).`], run: ['Run now', `${s.name}'s factory enqueues one task now (runs count against the schedule-run cap).`], delete: ['Delete', `${s.name} and its run state are deleted; its factory stays registered.`] }[kind]
  return (
    <ConfirmAction title={`${text[0]} schedule ${s.name}`} confirmLabel={text[0]} danger={kind === 'delete'}
      preview={async () => <p>{text[1]}</p>}
      onConfirm={() => kind === 'run' ? call('RunSchedule', { name: s.name }) : kind === 'delete' ? call('DeleteSchedule', { name: s.name }) : call('PauseSchedule', { name: s.name, paused: kind === 'pause' })}
      onClose={onClose} />
  )
}

const ZONES = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Sydney']

function ScheduleForm ({ existing, factories, onClose }: { existing: Schedule | null, factories: Factory[], onClose: (saved?: string) => void }): ReactNode {
  const [form, setForm] = useState({ name: existing?.name ?? factories[0]?.name ?? '', spec: existing?.spec ?? '*/5 * * * *', timezone: existing?.timezone ?? 'UTC', durable: existing?.durable ?? factories[0]?.durableDefault ?? true, overlap: existing?.overlap ?? 'skip', catchUp: existing?.catchUp ?? 'none' })
  const [error, setError] = useState<unknown>(undefined)
  const preview = useMemo(() => previewFireTimes(form.spec, form.timezone), [form.spec, form.timezone])
  const zones = ZONES.includes(form.timezone) ? ZONES : [form.timezone, ...ZONES]
  return (
    <Modal title={existing === null ? 'New schedule' : `Edit schedule ${existing.name}`} onClose={() => onClose()}>
      <form className="stack" onSubmit={e => {
        e.preventDefault()
        call('CreateSchedule', { ...form }).then(() => onClose(form.name), setError)
      }}>
        <label>Factory <select name="name" value={form.name} disabled={existing !== null} onChange={e => setForm({ ...form, name: e.target.value })}>
          {existing !== null && !factories.some(f => f.name === existing.name) && <option>{existing.name}</option>}
          {factories.map(f => <option key={f.name} value={f.name}>{f.name} — {f.description}</option>)}
        </select></label>
        <label>Cron spec <input name="spec" value={form.spec} onChange={e => setForm({ ...form, spec: e.target.value })} required /></label>
        <label>Time zone <select name="timezone" value={form.timezone} onChange={e => setForm({ ...form, timezone: e.target.value })}>{zones.map(z => <option key={z}>{z}</option>)}</select></label>
        <div className="row">
          <label><input type="checkbox" name="durable" checked={form.durable} onChange={e => setForm({ ...form, durable: e.target.checked })} /> durable (once cluster-wide)</label>
          <label>Overlap <select name="overlap" value={form.overlap} onChange={e => setForm({ ...form, overlap: e.target.value })}><option>skip</option><option>allow</option></select></label>
          <label>Catch up <select name="catchUp" value={form.catchUp} onChange={e => setForm({ ...form, catchUp: e.target.value })}><option>none</option><option>latest</option></select></label>
        </div>
        <div className="card" data-testid="fire-preview" aria-live="polite">
          <h3>Next five fire times ({form.timezone})</h3>
          {'error' in preview ? <p className="error">{preview.error}</p> : <ol>{preview.times.map(t => <li key={t}>{t}</li>)}</ol>}
        </div>
        <ErrorBox error={error} />
        <div className="actions"><button type="button" onClick={() => onClose()}>Cancel</button><button type="submit" className="primary" disabled={'error' in preview || form.name === ''}>Save schedule</button></div>
      </form>
    </Modal>
  )
}
