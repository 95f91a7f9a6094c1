import { useState, type ReactNode } from 'react'
import { API_PREFIX, send } from './api.ts'
import { ErrorBox } from './ui.tsx'

/** The sign-in form (password mode); other modes sign in before the page loads. */
export function Login ({ onSignedIn, reason, authMode, message }: { onSignedIn: () => void, reason?: string, authMode?: string, message?: string }): ReactNode {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  if (authMode !== undefined && authMode !== 'password') {
    return (
      <main className="login"><div className="card"><h1>Switchyard console</h1>{reason !== undefined && <p className="muted">{reason}</p>}<p>{message}</p><button type="button" onClick={onSignedIn}>Try again</button></div></main>
    )
  }
  return (
    <main className="login">
      <form className="card" onSubmit={e => {
        e.preventDefault(); setBusy(true)
        send({ method: 'POST', url: `${API_PREFIX}/login`, body: { user: username, password } }, true)
          .then(() => onSignedIn(), (err: unknown) => { setError(err); setBusy(false) })
      }}>
        <h1>Switchyard console</h1>
        {reason !== undefined && <p className="muted">{reason}</p>}
        <label>User <input name="username" autoComplete="username" value={username} onChange={e => setUsername(e.target.value)} required /></label>
        <label>Password <input name="password" type="password" autoComplete="current-password" value={password} onChange={e => setPassword(e.target.value)} required /></label>
        <ErrorBox error={error} />
        <button className="primary" type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  )
}
