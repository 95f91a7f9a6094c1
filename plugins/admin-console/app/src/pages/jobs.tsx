// Jobs: the definitions (create, edit, delete, run), their runs (all jobs or one, paged,
// in the URL), and a run's own page (?run=<id>, in job-run.tsx).
import { useState, type ReactNode } from 'react'
import { call } from '../api.ts'
import { useLiveData } from '../live.ts'
import { hrefFor, navigate, useParams, type Route } from '../route.ts'
import { useSession } from '../session.tsx'
import type { Job, JobRun } from '../types.ts'
import { ConfirmAction, ErrorBox, Loading, StateBadge, Time } from '../ui.tsx'
import { JobForm } from './job-form.tsx'
import { duration, JobRunPage } from './job-run.tsx'

const RUNS_PAGE = 25

export function sourceOf (job: Job): string {
  if (job.source === 'git_tag') return `${job.repo ?? ''} @ ${job.tag ?? ''}`
  if (job.source === 'tarball_url') return job.tarballUrl ?? ''
  return job.tarballPath ?? ''
}

export function Jobs ({ route }: { route: Route }): ReactNode {
  const runId = route.params.get('run')
  if (runId !== null) return <JobRunPage runId={runId} />
  return <JobList route={route} />
}

type Pending = { kind: 'run' | 'delete', job: Job }

function JobList ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { canMutate } = useSession()
  const name = params.get('job')
  const edit = params.get('edit')
  // the runs list pages by cursor: `after` is the run id the page starts after
  const after = params.get('after')
  const jobs = useLiveData(() => call<{ jobs: Job[], nextAfterName?: string }>('ListJobs', { limit: 500 }), [], { types: /^job\.(created|updated|deleted)/ })
  const runs = useLiveData(() => call<{ runs: JobRun[], nextAfterId?: string }>('ListJobRuns', { job: name ?? undefined, limit: RUNS_PAGE, afterId: after ?? undefined }), [name, after], { types: /^job\.(queued|fetching|building|started|finished|retrying|cancel_requested)/ })
  const [pending, setPending] = useState<Pending | null>(null)
  const editing = edit === null ? undefined : edit === '+' ? null : jobs.data?.jobs.find(j => j.name === edit)
  return (
    <>
      <div className="page-head">
        <h1>Jobs</h1>
        {canMutate && <div className="actions"><button type="button" className="primary" onClick={() => set({ edit: '+' })}>New job</button></div>}
      </div>
      <ErrorBox error={jobs.error} />
      <Loading when={jobs.loading && jobs.data === undefined} />
      {jobs.data !== undefined && (
        <div className="scroll">
          <table className="list" data-testid="jobs">
            <thead><tr><th>Name</th><th>Source</th><th>Queue</th><th>Retries</th><th>Timeout</th><th>Updated</th>{canMutate && <th>Actions</th>}</tr></thead>
            <tbody>
              {jobs.data.jobs.map(j => (
                <tr key={j.name} data-job={j.name} className={j.name === name ? 'selected' : ''}>
                  <td><a href={hrefFor('jobs', { job: j.name })}>{j.name}</a>{j.description !== '' && <div className="muted">{j.description}</div>}</td>
                  <td><span className="badge">{j.source}</span> <code>{sourceOf(j)}</code></td>
                  <td>{j.queue}</td>
                  <td>{j.retries}</td>
                  <td>{j.timeoutSeconds} s</td>
                  <td><Time at={j.updatedAt} /></td>
                  {canMutate && (
                    <td className="row-actions">
                      <button type="button" onClick={() => setPending({ kind: 'run', job: j })}>Run</button>
                      <button type="button" onClick={() => set({ edit: j.name })}>Edit</button>
                      <button type="button" className="danger" onClick={() => setPending({ kind: 'delete', job: j })}>Delete</button>
                    </td>
                  )}
                </tr>
              ))}
              {jobs.data.jobs.length === 0 && <tr><td colSpan={7} className="muted">No job definitions.</td></tr>}
            </tbody>
          </table>
          {jobs.data.nextAfterName !== undefined && <p className="muted">The first {jobs.data.jobs.length} definitions are shown.</p>}
        </div>
      )}
      <section className="card" aria-labelledby="job-runs-h">
        <h2 id="job-runs-h">Runs{name !== null && <> of {name} <a href={hrefFor('jobs')}>(all jobs)</a></>}</h2>
        <ErrorBox error={runs.error} />
        <div className="scroll">
          <table className="list" data-testid="job-runs">
            <thead><tr><th>Run</th><th>Job</th><th>State</th><th>Attempt</th><th>Queued</th><th>Started</th><th>Finished</th><th>Duration</th><th>Exit code</th></tr></thead>
            <tbody>
              {runs.data?.runs.map(r => (
                <tr key={r.id} data-run={r.id}>
                  <td><a href={hrefFor('jobs', { run: r.id })}><code>{r.id}</code></a></td>
                  <td><a href={hrefFor('jobs', { job: r.job })}>{r.job}</a></td>
                  <td><StateBadge state={r.state} /></td>
                  <td>{r.attempt} / {r.maxAttempts}</td>
                  <td><Time at={r.queuedAt} /></td>
                  <td><Time at={r.startedAt} /></td>
                  <td><Time at={r.finishedAt} /></td>
                  <td>{duration(r.durationMs)}</td>
                  <td>{r.exitCode ?? '—'}</td>
                </tr>
              ))}
              {runs.data?.runs.length === 0 && <tr><td colSpan={9} className="muted">No runs.</td></tr>}
            </tbody>
          </table>
        </div>
        <nav className="pager" aria-label="paging">
          <button type="button" disabled={after === null} onClick={() => set({ after: undefined })}>← Newest</button>
          <button type="button" disabled={runs.data?.nextAfterId === undefined} onClick={() => set({ after: runs.data?.nextAfterId })}>Older →</button>
        </nav>
      </section>
      {editing !== undefined && canMutate && (
        <JobForm existing={editing} onClose={saved => { set({ edit: undefined, job: saved ?? name ?? undefined }); if (saved !== undefined) jobs.reload() }} />
      )}
      {pending !== null && (
        <ConfirmAction title={pending.kind === 'run' ? `Run job ${pending.job.name}` : `Delete job ${pending.job.name}`}
          confirmLabel={pending.kind === 'run' ? 'Run' : 'Delete'} danger={pending.kind === 'delete'}
          preview={async () => <p>{pending.kind === 'run'
            ? `A run of ${pending.job.name} is queued on ${pending.job.queue}: its source is fetched, its image built and its container run (up to ${pending.job.retries + 1} attempts, ${pending.job.timeoutSeconds} s each).`
            : `The definition of ${pending.job.name} is deleted; its runs and their artifacts are kept.`}</p>}
          onConfirm={async () => {
            if (pending.kind === 'delete') return await call('DeleteJob', { name: pending.job.name })
            const r = await call<{ run: JobRun }>('RunJob', { name: pending.job.name })
            navigate(hrefFor('jobs', { run: r.run.id }))
          }}
          onClose={done => { setPending(null); if (done) { jobs.reload(); runs.reload() } }} />
      )}
    </>
  )
}
