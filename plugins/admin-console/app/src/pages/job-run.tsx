// One job run: its fields, its output (the stored job.output events, then the live ones
// of this run from the event stream), cancel while it is queued or running, and its
// artifacts as download links.
import { useEffect, useState, type ReactNode } from 'react'
import { call, downloadUrl } from '../api.ts'
import { live, useLiveData } from '../live.ts'
import { hrefFor } from '../route.ts'
import { useSession } from '../session.tsx'
import type { JobEvent, JobRun } from '../types.ts'
import { ConfirmAction, ErrorBox, Loading, StateBadge, Time } from '../ui.tsx'

export function duration (ms: number | undefined): string {
  if (ms === undefined) return '—'
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`
}

const FINAL_STATES = ['succeeded', 'failed', 'timed_out', 'canceled']
const EVENTS_PAGE = 500
/** pages of stored events read at most (the output itself is capped by jobs.outputBytes) */
const EVENT_PAGES_MAX = 40
/** output chunks kept in the page at most */
const OUTPUT_CHUNKS_MAX = 5_000

interface Output { chunks: Array<{ id: string, text: string }>, steps: JobEvent[], error?: unknown, loaded: boolean }

/** the run's stored events, oldest first, then the live ones as they come */
function useRunEvents (runId: string): Output {
  const [out, setOut] = useState<Output>({ chunks: [], steps: [], loaded: false })
  useEffect(() => {
    let cancelled = false
    const seen = new Set<string>()
    const add = (events: JobEvent[]): void => {
      const fresh = events.filter(e => !seen.has(e.id) && e.data?.runId === runId)
      if (fresh.length === 0) return
      for (const e of fresh) seen.add(e.id)
      setOut(o => ({
        ...o,
        chunks: [...o.chunks, ...fresh.filter(e => e.type === 'job.output').map(e => ({ id: e.id, text: String(e.data.text ?? '') }))].slice(-OUTPUT_CHUNKS_MAX),
        steps: [...o.steps, ...fresh.filter(e => e.type !== 'job.output')]
      }))
    }
    // live events that come while the history loads are held and added after it, in order
    const held: JobEvent[] = []
    let historyDone = false
    const off = live.onEvent(e => {
      if (!e.type.startsWith('job.')) return
      const ev = e as JobEvent
      if (historyDone) add([ev]); else held.push(ev)
    })
    void (async () => {
      try {
        let afterId: string | undefined
        for (let page = 0; page < EVENT_PAGES_MAX && !cancelled; page++) {
          const r = await call<{ events: JobEvent[] }>('ListJobEvents', { runId, afterId, limit: EVENTS_PAGE })
          if (cancelled) return
          add(r.events)
          if (r.events.length < EVENTS_PAGE) break
          afterId = r.events[r.events.length - 1]?.id
        }
      } catch (err) {
        if (!cancelled) setOut(o => ({ ...o, error: err }))
      }
      if (cancelled) return
      historyDone = true
      add(held.splice(0))
      setOut(o => ({ ...o, loaded: true }))
    })()
    return () => { cancelled = true; off() }
  }, [runId])
  return out
}

export function JobRunPage ({ runId }: { runId: string }): ReactNode {
  const { canMutate } = useSession()
  const run = useLiveData(() => call<{ run: JobRun }>('GetJobRun', { runId }), [runId], { types: /^job\.(?!output)/ })
  const output = useRunEvents(runId)
  const [cancel, setCancel] = useState(false)
  const r = run.data?.run
  return (
    <>
      <div className="page-head">
        <h1>Job run <code>{runId}</code></h1>
        {canMutate && r !== undefined && !FINAL_STATES.includes(r.state) && (
          <div className="actions"><button type="button" className="danger" onClick={() => setCancel(true)}>Cancel run</button></div>
        )}
      </div>
      <p><a href={hrefFor('jobs', { job: r?.job })}>← Runs{r !== undefined && <> of {r.job}</>}</a></p>
      <ErrorBox error={run.error} />
      <Loading when={run.loading && r === undefined} />
      {r !== undefined && (
        <section className="card" data-testid="job-run">
          <dl className="facts">
            <dt>Job</dt><dd><a href={hrefFor('jobs', { job: r.job })}>{r.job}</a> <span className="muted">({r.trigger})</span></dd>
            <dt>State</dt><dd data-testid="job-run-state"><StateBadge state={r.state} />{r.cancelRequestedAt !== undefined && <span className="muted"> cancel requested <Time at={r.cancelRequestedAt} /></span>}</dd>
            <dt>Attempt</dt><dd>{r.attempt} / {r.maxAttempts}{r.taskId !== '' && <> · <a href={hrefFor('tasks', { id: r.taskId })}>task</a></>}</dd>
            <dt>Source</dt><dd><span className="badge">{r.definition.source}</span>{r.revision !== undefined && <> revision <code>{r.revision}</code></>}{r.sourceSha256 !== undefined && <> sha256 <code>{r.sourceSha256}</code></>}</dd>
            <dt>Image</dt><dd>{r.imageId === undefined ? '—' : <><code>{r.imageId}</code>{r.imageCached === true && <span className="badge">cached</span>}</>}</dd>
            <dt>Queued</dt><dd><Time at={r.queuedAt} /></dd>
            <dt>Started</dt><dd><Time at={r.startedAt} /></dd>
            <dt>Finished</dt><dd><Time at={r.finishedAt} /></dd>
            <dt>Duration</dt><dd>{duration(r.durationMs)}</dd>
            <dt>Exit code</dt><dd>{r.exitCode ?? '—'}</dd>
            {r.error !== undefined && <><dt>Error</dt><dd className="error" data-testid="job-run-error">{r.error}</dd></>}
          </dl>
        </section>
      )}
      <section className="card" aria-labelledby="job-output-h">
        <h2 id="job-output-h">Output{r?.outputBytes !== undefined && <span className="muted"> ({r.outputBytes} bytes{r.outputTruncated === true ? ', truncated' : ''})</span>}</h2>
        <ErrorBox error={output.error} />
        <pre className="json job-output" data-testid="job-output" aria-live="polite">{output.chunks.map(c => c.text).join('') || (output.loaded ? 'No output.' : 'Loading…')}</pre>
        <h3>Steps</h3>
        <ol className="steps" data-testid="job-steps">
          {output.steps.map(e => <li key={e.id}><Time at={e.time} /> {e.type}{e.data.state !== undefined && <> <StateBadge state={String(e.data.state)} /></>}</li>)}
          {output.loaded && output.steps.length === 0 && <li className="muted">No events yet.</li>}
        </ol>
      </section>
      {r !== undefined && (
        <section className="card" aria-labelledby="job-artifacts-h">
          <h2 id="job-artifacts-h">Artifacts</h2>
          <table className="list" data-testid="job-artifacts">
            <thead><tr><th>Name</th><th>Size</th><th>Type</th><th>SHA-256</th><th>Stored</th></tr></thead>
            <tbody>
              {r.artifacts.map(a => (
                <tr key={a.name}>
                  <td><a href={downloadUrl('GetJobArtifact', { name: r.job, runId: r.id, artifact: a.name })} download>{a.name}</a></td>
                  <td>{a.size} B</td><td>{a.contentType}</td><td><code>{a.sha256.slice(0, 16)}…</code></td><td><Time at={a.createdAt} /></td>
                </tr>
              ))}
              {r.artifacts.length === 0 && <tr><td colSpan={5} className="muted">No artifacts.</td></tr>}
            </tbody>
          </table>
        </section>
      )}
      {cancel && r !== undefined && (
        <ConfirmAction title={`Cancel run ${r.id}`} confirmLabel="Cancel run" danger
          preview={async () => <p>{r.state === 'queued' ? 'The run has not started: it is canceled at once.' : 'The runner stops the run\'s container; the run ends as canceled.'}</p>}
          onConfirm={() => call('CancelJobRun', { runId: r.id })}
          onClose={done => { setCancel(false); if (done) run.reload() }} />
      )}
    </>
  )
}
