import { useEffect, type ReactNode } from 'react'
import { ERROR_CODES } from '../../../../../core/contract/error-codes.ts'
import { hintFor } from '../api.ts'
import { hrefFor, type Route } from '../route.ts'

const PAGE_DOCS: Array<[string, string, string]> = [
  ['overview', 'Overview', 'Tiles count tasks by state over every queue (a tile opens the filtered list), the DLQ size, live workers, tasks in flight, tasks succeeded in the last five minutes and run latency. Coordination shows the global dequeue pause, the rate limit, the held leader locks and a link to the flow limits. Trends plot enqueued, succeeded, failed and replayed tasks over 1 h, 24 h, 7 d or 30 d. The timeline lists task, DLQ, queue, schedule, job and audit events, newest first; filter by kind and text, page through it, and open an event (its link can be shared).'],
  ['queues', 'Queues', 'Each queue with its counts (blocked: waiting for parent tasks; throttled: ready but held back by a saturated flow limit), weight and pause state. Pausing stops durable dequeue from the queue on every node (running tasks finish). The weight is the queue\'s share of dequeues; Reset returns to the configured default. Drain deletes a queue\'s ready tasks (optionally its scheduled and retrying ones too) after a dry run shows how many and which; running tasks finish. Open a queue for its detail and links to its tasks.'],
  ['tasks', 'Tasks', 'Search by state, queue, handler and text (id, payload, error). A task\'s detail shows payload, attempts, error history, progress, result and its timeline. Cancel works only before a worker starts the task; Retry puts a dead, retrying or canceled task back to ready with a fresh attempt budget. Enqueue creates a task by hand.'],
  ['dlq', 'DLQ', 'Tasks whose attempts ran out. Replay selected entries or all entries matching the queue and handler filters: a dry run shows how many and which tasks first. An entry can be replayed with an edited payload or into another queue, or deleted for good.'],
  ['bulk', 'Task and DLQ operations', 'Both lists also filter by tenant, correlation id and a time window (last hour, 24 hours, 7 days or a custom range, on the creation or the finish time); the Tasks search key:<idempotency key> finds the task holding that key. Select rows, or take every task the filter matches, and cancel, retry, delete, run now, reschedule or move them: the dialog shows the dry run (how many, a sample, what is skipped and why) before anything changes. A task\'s detail shows its tenant, correlation id and dependencies (ancestors and descendants with their states) and reschedules a waiting task. On the DLQ, Purge deletes the matching entries for good (optionally only those that failed longer ago than e.g. 7d) after a dry-run count, and replaying selected entries takes a target queue and an edited payload per entry.'],
  ['schedules', 'Schedules', 'Cron schedules bound to registered factories: next and previous run, last status, fires. Create or edit one and see its next five fire times in the chosen time zone before saving. Pause, resume, run now (capped per window), delete, or pause all at once after seeing which would change. The events pane lists fires, skips and failures.'],
  ['jobs', 'Jobs', 'Container jobs: a definition names its source (a git tag; an https archive or an archive under jobs.tarballDir, each with its SHA-256), the build context and Dockerfile, command, environment, queue, retries, timeout, resource limits and network. Create, edit or delete definitions (runs are kept) and run one now. The runs list shows every run, or one job\'s, newest first, with state, attempt, times and exit code. A run\'s page shows its revision or archive hash, image, exit code, duration and error, its output as it comes, its steps, and its artifacts for download; a queued or running run can be canceled.'],
  ['workers', 'Workers', 'Every live worker process: host, pid, version, queues, handlers, tasks in flight against its concurrency, start and last heartbeat. A worker that stops heartbeating drops out; Show stale lists those entries too (kept for an hour). Cordon stops a worker leasing new tasks while it finishes what it runs; Uncordon lets it lease again. Release leases recovers a worker\'s leased tasks now instead of at lease expiry, after a dry run; on a worker that still heartbeats this needs force, and its running tasks then run again elsewhere. Sweep removes stale entries (optionally only those silent for a while), after a dry run; live workers are never removed.'],
  ['rate-limits', 'Rate limits', 'Cluster-wide flow limits per queue and per handler: a concurrency (at most N running at once across all workers) and a rate (at most N starts per window), stored in the backend and shared by every node. Each limit shows running tasks, starts in the current window, the saturation of its tightest bound and the ready tasks it holds back (throttled). Set or edit a limit after a preview of the change; clear one after a confirmation. Limits from the configuration are applied again when a node starts.'],
  ['audit', 'Audit', 'Every change made through the admin API, with the actor, target, outcome and request id. Filter by action, target and time; export what matches as JSONL, JSON or CSV.'],
  ['settings', 'Settings', 'The backend and its capabilities, your identity and role, whether the API is read-only or needs an approval token, and versions.'],
  ['live', 'Live updates', 'The console follows the server\'s event stream and resumes after the last event it saw. When the stream is down it polls, and a banner shows the time of the last update with a button to reconnect.'],
  ['keys', 'Keyboard', 'Ctrl-K or ⌘K opens the command palette (pages and actions). g then o, q, t, d, s, j, w, r, a, e or h goes to a page; / focuses the search field; Shift-T switches the theme; Escape closes a dialog.'],
  ['safety', 'Safety', 'Risky actions open a dialog that shows their impact (dry-run counts and targets) before anything changes. When the server requires approval, the console asks for the token once per tab. Viewers and read-only mode see no change controls, and the server refuses changes anyway.']
]

export function Docs ({ route }: { route: Route }): ReactNode {
  const section = route.params.get('section')
  useEffect(() => {
    if (section !== null) document.getElementById(section)?.scrollIntoView()
  }, [section])
  const codes = Object.entries(ERROR_CODES as Record<string, { http: number, scope: string, description: string }>).filter(([, s]) => s.scope === 'admin')
  return (
    <>
      <h1>Docs</h1>
      <nav className="toc" aria-label="Contents">{PAGE_DOCS.map(([id, title]) => <a key={id} className="chip" href={hrefFor('docs', { section: `page-${id}` })}>{title}</a>)}<a className="chip" href={hrefFor('docs', { section: 'errors' })}>Errors</a></nav>
      {PAGE_DOCS.map(([id, title, text]) => (
        <section key={id} id={`page-${id}`} className={`card ${section === `page-${id}` ? 'selected' : ''}`}><h2>{title}</h2><p>{text}</p></section>
      ))}
      <section id="errors" className="card">
        <h2>Errors</h2>
        <p>An error shows its code, message and request id (give it to whoever reads the server log), a hint and a link here.</p>
        <dl className="errors-doc">
          {codes.map(([code, spec]) => (
            <div key={code} id={`error-${code}`} className={section === `error-${code}` ? 'selected' : ''}>
              <dt><code>{code}</code> <span className="muted">HTTP {spec.http}</span></dt>
              <dd>{spec.description}. <em>{hintFor(code)}</em></dd>
            </div>
          ))}
        </dl>
      </section>
    </>
  )
}
