// The console app: sign-in, the page shell (navigation, palette, shortcuts, theme, live
// status) and the pages. Loaded by main.tsx once it has sent the first requests.
import { StrictMode, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react'
import { createRoot } from 'react-dom/client'
import { API_PREFIX, ApiError, call, send, setCsrfToken, setSignedOutHandler, type Session } from './api.ts'
import { live, useLiveStatus } from './live.ts'
import { Login } from './login.tsx'
import { PAGES } from './pages.ts'
import { Palette, type Command } from './palette.tsx'
import { hrefFor, navigate, useRoute } from './route.ts'
import { SessionContext, canMutate, type SessionState } from './session.tsx'
import { ApprovalPromptHost, ConfirmAction, ErrorBox } from './ui.tsx'
import { Overview } from './pages/overview.tsx'
import { Queues } from './pages/queues.tsx'
import { Tasks } from './pages/tasks.tsx'
import { Dlq } from './pages/dlq.tsx'
import { Schedules } from './pages/schedules.tsx'
import { Jobs } from './pages/jobs.tsx'
import { Workers } from './pages/workers.tsx'
import { RateLimits } from './pages/rate-limits.tsx'
import { Audit } from './pages/audit.tsx'
import { Settings } from './pages/settings.tsx'
import { Docs } from './pages/docs.tsx'
import type { Route } from './route.ts'

// User Timing: when the app's script (React and the pages) has been evaluated, for the
// console benchmark's breakdown of a first load (bench/console.ts) and for DevTools
performance.mark('app_evaluated')

const PAGE_COMPONENTS: Record<string, (p: { route: Route }) => ReactNode> = {
  overview: Overview, queues: Queues, tasks: Tasks, dlq: Dlq, schedules: Schedules, jobs: Jobs, workers: Workers, 'rate-limits': RateLimits, audit: Audit, settings: Settings, docs: Docs
}

type Theme = 'light' | 'dark'
function initialTheme (): Theme {
  const stored = localStorage.getItem('switchyard.theme')
  if (stored === 'light' || stored === 'dark') return stored
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

function App (): ReactNode {
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  const [loadError, setLoadError] = useState<unknown>(undefined)
  const [signedOutReason, setSignedOutReason] = useState<string | undefined>(undefined)
  const [signIn, setSignIn] = useState<{ authMode?: string, message: string }>({ message: '' })
  const load = useCallback(() => {
    send<Session>({ method: 'GET', url: `${API_PREFIX}/session` }, false).then(s => {
      setCsrfToken(s.csrfToken); setSession(s); setLoadError(undefined)
    }, (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) {
        // signed out: the answer carries the token the login form must send
        const details = (e.details ?? {}) as { loginCsrfToken?: string, authMode?: string }
        if (details.loginCsrfToken !== undefined) setCsrfToken(details.loginCsrfToken)
        setSignIn({ authMode: details.authMode, message: e.message })
        setSession(null)
      } else setLoadError(e)
    })
  }, [])
  useEffect(() => {
    load()
    setSignedOutHandler(() => { live.stop(); setSignedOutReason('Your session ended; sign in again.'); load() })
  }, [load])
  if (loadError !== undefined && session === undefined) return <main className="login"><ErrorBox error={loadError} /><button type="button" onClick={load}>Retry</button></main>
  if (session === undefined) return <p className="muted boot">Loading…</p>
  if (session === null) return <Login reason={signedOutReason} authMode={signIn.authMode} message={signIn.message} onSignedIn={() => { setSignedOutReason(undefined); load() }} />
  return <SignedIn session={session} onSignedOut={() => { live.stop(); setSignedOutReason('Signed out.'); load() }} />
}

function SignedIn ({ session, onSignedOut }: { session: Session, onSignedOut: () => void }): ReactNode {
  const route = useRoute()
  const [theme, setTheme] = useState<Theme>(initialTheme)
  const [palette, setPalette] = useState(false)
  const [confirm, setConfirm] = useState<'pause' | 'resume' | null>(null)
  const [menuOpen, setMenuOpen] = useState(false)
  const mutate = canMutate(session)
  useEffect(() => { document.documentElement.dataset.theme = theme; localStorage.setItem('switchyard.theme', theme) }, [theme])
  // only new events: the timeline and trends read the stored log and history (ListEvents, GetMetricsHistory);
  // after a drop the stream resumes after the last event seen (Last-Event-ID)
  useEffect(() => { live.start(null); return () => live.stop() }, [])
  useEffect(() => setMenuOpen(false), [route])
  const signOut = useCallback(async () => {
    await send({ method: 'POST', url: `${API_PREFIX}/logout` }, true).catch(() => {})
    onSignedOut()
  }, [onSignedOut])
  const state: SessionState = useMemo(() => ({ session, canMutate: mutate, signOut }), [session, mutate, signOut])
  const toggleTheme = useCallback(() => setTheme(t => t === 'dark' ? 'light' : 'dark'), [])

  const commands: Command[] = useMemo(() => [
    ...PAGES.map(p => ({ id: `go-${p.id}`, title: `Go to ${p.title}`, hint: `g ${p.key}`, run: () => navigate(hrefFor(p.id)) })),
    { id: 'dlq-replay', title: 'Replay the DLQ (preview first)', run: () => navigate(hrefFor('dlq', { action: 'replay-all' })) },
    { id: 'enqueue', title: 'Enqueue a task', run: () => navigate(hrefFor('tasks', { action: 'enqueue' })) },
    { id: 'new-schedule', title: 'Create a schedule', run: () => navigate(hrefFor('schedules', { edit: '+' })) },
    { id: 'new-job', title: 'Create a job', run: () => navigate(hrefFor('jobs', { edit: '+' })) },
    { id: 'job-runs', title: 'Job runs', run: () => navigate(hrefFor('jobs')) },
    { id: 'new-flow-limit', title: 'Set a flow limit (queue, handler or tenant)', run: () => navigate(hrefFor('rate-limits', { edit: '+' })) },
    { id: 'stale-workers', title: 'Show stale workers', run: () => navigate(hrefFor('workers', { stale: '1' })) },
    ...(mutate
      ? [{ id: 'pause-all', title: 'Pause dequeue everywhere', run: () => setConfirm('pause') },
          { id: 'resume-all', title: 'Resume dequeue everywhere', run: () => setConfirm('resume') }]
      : []),
    { id: 'theme', title: 'Toggle light/dark theme', hint: 'Shift T', run: toggleTheme },
    { id: 'reconnect', title: 'Reconnect live updates', run: () => live.reconnect() },
    { id: 'signout', title: 'Sign out', run: () => { void signOut() } }
  ].filter(c => mutate || !['dlq-replay', 'enqueue', 'new-schedule', 'new-job', 'new-flow-limit'].includes(c.id)), [mutate, signOut, toggleTheme])

  useEffect(() => {
    let awaitingG = false
    const onKey = (e: KeyboardEvent): void => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') { e.preventDefault(); setPalette(p => !p); return }
      const target = e.target as HTMLElement | null
      if (target !== null && (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable)) return
      if (e.ctrlKey || e.metaKey || e.altKey) return
      if (awaitingG) {
        awaitingG = false
        const page = PAGES.find(p => p.key === e.key)
        if (page !== undefined) { e.preventDefault(); navigate(hrefFor(page.id)) }
        return
      }
      if (e.key === 'g') awaitingG = true
      else if (e.key === 'T') toggleTheme()
      else if (e.key === '/') { const search = document.querySelector<HTMLInputElement>('input[type=search]'); if (search !== null) { e.preventDefault(); search.focus() } }
      else if (e.key === '?') setPalette(true)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [toggleTheme])

  const Page = PAGE_COMPONENTS[route.page]
  return (
    <SessionContext.Provider value={state}>
      <a className="skip" href="#main" onClick={e => { e.preventDefault(); document.getElementById('main')?.focus() }}>Skip to content</a>
      <header className="top">
        <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(o => !o)}>Menu</button>
        <a className="brand" href={hrefFor('overview')}>Switchyard</a>
        <nav id="nav" className={menuOpen ? 'open' : ''} aria-label="Pages">
          {PAGES.map(p => <a key={p.id} href={hrefFor(p.id)} aria-current={route.page === p.id ? 'page' : undefined}>{p.title}</a>)}
        </nav>
        <div className="top-right">
          <LiveIndicator />
          <button type="button" onClick={() => setPalette(true)} title="Command palette (Ctrl-K)">⌘K<span className="sr-only"> command palette</span></button>
          <button type="button" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>{theme === 'dark' ? '☀' : '☾'}</button>
          <span className="who" title={`role ${session.role}`}>{session.user} <span className="badge">{session.role}</span>{session.readOnly && <span className="badge warn">read-only</span>}</span>
          <button type="button" onClick={() => { void signOut() }}>Sign out</button>
        </div>
      </header>
      <StaleBanner />
      <main id="main" tabIndex={-1}>
        {Page !== undefined ? <Page route={route} /> : <p>No page “{route.page}”. <a href={hrefFor('overview')}>Overview</a></p>}
      </main>
      {palette && <Palette commands={commands} onClose={() => setPalette(false)} />}
      {confirm !== null && (
        <ConfirmAction title={confirm === 'pause' ? 'Pause dequeue everywhere' : 'Resume dequeue everywhere'}
          preview={async () => <p>Every worker on every node {confirm === 'pause' ? 'stops taking new durable tasks (running tasks finish)' : 'takes durable tasks again'}.</p>}
          confirmLabel={confirm === 'pause' ? 'Pause everywhere' : 'Resume everywhere'} danger={confirm === 'pause'}
          onConfirm={() => call(confirm === 'pause' ? 'PauseDequeue' : 'ResumeDequeue')} onClose={() => setConfirm(null)} />
      )}
      <ApprovalPromptHost />
    </SessionContext.Provider>
  )
}

function LiveIndicator (): ReactNode {
  const { status } = useLiveStatus()
  return <span className={`live live-${status}`} data-live={status} title="Live updates">{status === 'live' ? '● live' : status === 'connecting' ? '○ connecting' : status === 'polling' ? '◌ polling' : '○ stale'}</span>
}

function StaleBanner (): ReactNode {
  const { status, lastUpdate } = useLiveStatus()
  if (status === 'live' || status === 'connecting') return null
  return (
    <div className="banner" role="status">
      {status === 'stale' ? 'Data may be stale' : 'Live updates are down; polling'} — last update {new Date(lastUpdate).toLocaleTimeString()}.
      <button type="button" onClick={() => live.reconnect()}>Reconnect</button>
    </div>
  )
}

const root = document.getElementById('root')
if (root !== null) createRoot(root).render(<StrictMode><App /></StrictMode>)
